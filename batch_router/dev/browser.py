"""A real browser for the page's end-to-end test: Debian's Chromium and ChromeDriver, driven by Selenium.

Browsers downloaded at run time are not used (a test tool's own download is neither pinned nor
available offline): ``python -m batch_router.dev.browser --install`` installs the distribution's
``chromium`` and ``chromium-driver`` packages with apt when they are missing (``run.py test`` calls it
first), and Selenium is pointed at ``/usr/bin/chromedriver`` so Selenium Manager downloads nothing.
Chromium runs headless with background networking off: on a closed network its update and sync
connections would be refused, many at a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CHROMEDRIVER", "CHROMIUM", "browser_missing", "install", "start_chromium"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root in a container, Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1200",
)


def browser_missing() -> str | None:
    """Why no browser can be started here, or None."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return f"{', '.join(missing)} not found: run `python -m batch_router.dev.browser --install`"
    return None


def install() -> int:
    if browser_missing() is None:
        return 0
    apt = shutil.which("apt-get")
    if apt is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
        print(
            "batch-router: the browser test needs Debian's chromium and chromium-driver packages; "
            "install them (apt-get install chromium chromium-driver) or the test is skipped outside CI",
            file=sys.stderr,
        )
        return 0
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("+ apt-get install -y " + " ".join(PACKAGES), flush=True)
    done = subprocess.run([apt, "install", "-y", "--no-install-recommends", *PACKAGES], env=env)
    if done.returncode != 0:  # an old package index: refresh it once
        subprocess.run([apt, "update"], env=env, check=False)
        done = subprocess.run([apt, "install", "-y", "--no-install-recommends", *PACKAGES], env=env)
    if done.returncode != 0:  # the other tests still run; the browser test says what is missing
        print(f"batch-router: apt-get could not install {' '.join(PACKAGES)}", file=sys.stderr)
    return 0


def start_chromium() -> Any:
    """A headless Chromium under ChromeDriver, with a fresh profile; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='batch-router-chromium-')}")
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Debian's Chromium and ChromeDriver for the browser test")
    parser.add_argument("--install", action="store_true", help="apt-get install them when missing")
    args = parser.parse_args(argv)
    if args.install:
        return install()
    problem = browser_missing()
    print(problem or f"{CHROMIUM} and {CHROMEDRIVER} are installed")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
