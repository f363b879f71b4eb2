"""Build the Batch routes page (``www/``) into ``batch_router/ui/static``, or check the built files are fresh.

The page is TypeScript with Chart.js, type-checked by ``tsc`` and bundled by esbuild, every package
pinned by ``www/package-lock.json`` and installed with ``npm ci`` (Node.js and npm from the machine;
nothing is fetched when the page is served). The built files are committed, so the wheel carries them
and a user needs no Node.js; CI rebuilds them and fails when they differ from the committed ones, as it
does for the schemas.

Usage::

    python -m batch_router.dev.www            # npm ci (when needed), build into batch_router/ui/static
    python -m batch_router.dev.www --check    # build into a temporary folder; exit 1 if anything differs
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WWW = ROOT / "www"
STATIC = ROOT / "batch_router" / "ui" / "static"
_MARKER = WWW / "node_modules" / ".package-lock.json"


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("building the UI page needs Node.js and npm (Debian: apt-get install nodejs npm)")
    subprocess.run([npm, *args], cwd=WWW, check=True)


def install() -> None:
    """``npm ci`` when node_modules is missing or older than the lock file."""
    lock = WWW / "package-lock.json"
    if not _MARKER.exists() or _MARKER.stat().st_mtime < lock.stat().st_mtime:
        _npm("ci", "--no-audit", "--no-fund", "--loglevel=error")


def build(out: Path) -> None:
    install()
    _npm("exec", "--no", "--", "tsc", "--noEmit", "-p", str(WWW / "tsconfig.json"))
    node = shutil.which("node") or "node"
    subprocess.run([node, str(WWW / "build.mjs"), str(out)], cwd=WWW, check=True)


def stale_files(built: Path, committed: Path) -> list[str]:
    names = sorted({p.name for p in built.iterdir()} | {p.name for p in committed.iterdir()})
    return [
        name
        for name in names
        if not (built / name).exists()
        or not (committed / name).exists()
        or not filecmp.cmp(built / name, committed / name, shallow=False)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed files are stale")
    args = parser.parse_args(argv)
    if not args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
            for old in STATIC.iterdir():  # a chunk's name carries its hash: the last build's goes
                old.unlink()
            for new in Path(tmp).iterdir():
                shutil.copy2(new, STATIC / new.name)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        stale = stale_files(Path(tmp), STATIC)
    if stale:
        print(
            f"batch_router/ui/static is not what www/ builds ({', '.join(stale)}): "
            "run `python -m batch_router.dev.www` and commit the result",
            file=sys.stderr,
        )
        return 1
    print("batch_router/ui/static is fresh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
