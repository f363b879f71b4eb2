"""``batch-router demo --postgres``: the demo with Airflow's metadata on a real PostgreSQL server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@dataclass(frozen=True)
class DemoResult:
    returncode: int
    output: str
    home: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    tmp = tmp_path_factory.mktemp("demo-pg-tmp")
    env = {**os.environ, "TMPDIR": str(tmp)}  # the demo's temporary AIRFLOW_HOME lands in here
    result = subprocess.run(
        [sys.executable, "-m", "batch_router.cli", "demo", "--postgres", "--timeout", "480"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=560,
        check=False,
    )
    match = re.search(r"^AIRFLOW_HOME: (.+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    return DemoResult(result.returncode, result.stdout, Path(match.group(1)))


def postgres_servers_of(home: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(home) in " ".join(proc.info["cmdline"] or []):
            found.append(proc.pid)
    return found


def test_demo_on_postgres_succeeds(demo: DemoResult) -> None:
    assert demo.returncode == 0, demo.output
    assert "every task succeeded" in demo.output


def test_demo_on_postgres_keeps_airflows_metadata_on_postgresql(demo: DemoResult) -> None:
    assert re.search(r"PostgreSQL \d+ started", demo.output), demo.output
    assert "Airflow database migrated (PostgreSQL)" in demo.output


def test_demo_on_postgres_stops_its_server_and_removes_its_data(demo: DemoResult) -> None:
    assert "PostgreSQL stopped and its data removed" in demo.output
    assert postgres_servers_of(demo.home) == []
    assert not demo.home.exists()
