#!/usr/bin/env python3
"""The project's two set-up commands, on a machine that has nothing but Python 3.11+.

    python3 run.py demo    # the main job: a demo DAG through the real executor on the embedded local Batch
    python3 run.py test    # the whole test suite (what CI runs)

Both first make ``.venv`` exactly as ``uv.lock`` pins it. uv itself is pinned too and installed with pip
into ``.tools/`` (uv is a registry package that ships its binary), so nothing else needs to be on the
machine. Only the standard library is used here, on purpose.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

UV_VERSION = "0.13.8"
ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"


def _bin(env_dir: Path, name: str) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / name


def _run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def ensure_uv() -> Path:
    uv = _bin(TOOLS, "uv")
    marker = TOOLS / f"uv-{UV_VERSION}"
    if uv.exists() and marker.exists():
        return uv
    venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
    _run([str(_bin(TOOLS, "python")), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"])
    marker.touch()
    return uv


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py must explain itself on old Pythons
        sys.exit(f"batch-router needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    uv = ensure_uv()
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_PROJECT_ENVIRONMENT=str(VENV))
    _run([str(uv), "sync", "--frozen", "--python", sys.executable, "--quiet"], env=env)


def main(argv: list[str]) -> int:
    py = str(_bin(VENV, "python"))
    commands: dict[str, list[list[str]]] = {
        "demo": [[str(_bin(VENV, "batch-router")), "demo"]],
        # Debian's Chromium and ChromeDriver for the page's browser test, when missing (apt, as root).
        "test": [[py, "-m", "batch_router.dev.browser", "--install"], [py, "-m", "pytest"]],
        "lint": [
            [py, "-m", "ruff", "check", "."],
            [py, "-m", "ruff", "format", "--check", "."],
            [py, "-m", "mypy"],
            [py, "-m", "batch_router.dev.schemagen", "--check"],
            [py, "-m", "batch_router.dev.www", "--check"],
        ],
        "bench": [[py, "-m", "benchmarks"]],
    }
    if not argv or argv[0] not in commands:
        print(__doc__)
        print("other commands: lint (ruff, mypy, schema freshness), bench (benchmarks)")
        return 2
    ensure_env()
    steps = commands[argv[0]]
    steps[-1] = steps[-1] + argv[1:]
    for cmd in steps:
        print("+", " ".join(cmd), flush=True)
        code = subprocess.run(cmd, cwd=ROOT).returncode
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
