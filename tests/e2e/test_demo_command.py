"""``batch-router demo``, the README's main command, run the way a user runs it: as its own process."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from batch_router.dev.demo import run_demo
from batch_router.dev.processes import processes_with_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EXPECTED_ROUTES = {
    "small": "fargate-small",
    "train_on_gpu": "ec2-gpu",
    "on_eks": "eks-general",
    "heavy_report": "ec2-large",
}


@dataclass(frozen=True)
class DemoResult:
    returncode: int
    output: str
    home: Path
    seconds: float


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    tmp = tmp_path_factory.mktemp("demo-tmp")
    env = {**os.environ, "TMPDIR": str(tmp)}  # the demo's temporary AIRFLOW_HOME lands in here
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "batch_router.cli", "demo", "--timeout", "480"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=560,
        check=False,
    )
    seconds = time.monotonic() - started
    match = re.search(r"^AIRFLOW_HOME: (.+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    return DemoResult(result.returncode, result.stdout, Path(match.group(1)), seconds)


def table_rows(output: str) -> dict[str, list[str]]:
    """The closing table's rows by task, split into columns."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("task ") and "Batch state" in line)
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_demo_exits_zero(demo: DemoResult) -> None:
    assert demo.returncode == 0, demo.output


def test_demo_table_shows_each_task_on_its_route(demo: DemoResult) -> None:
    rows = table_rows(demo.output)
    assert {task: cells[1] for task, cells in rows.items()} == EXPECTED_ROUTES


def test_demo_table_shows_every_job_and_task_succeeded(demo: DemoResult) -> None:
    rows = table_rows(demo.output)
    assert {task: (cells[5], cells[6]) for task, cells in rows.items()} == dict.fromkeys(
        EXPECTED_ROUTES, ("SUCCEEDED", "success")
    )


def test_demo_prints_the_batch_routes_page_and_what_it_shows_for_the_demos_jobs(demo: DemoResult) -> None:
    assert re.search(r"the Batch routes page: http://127\.0\.0\.1:\d+/plugin/batch-routes", demo.output)
    said = next(line for line in demo.output.splitlines() if "the Batch routes page says:" in line)
    for route in EXPECTED_ROUTES.values():
        assert f"{route}: 1 SUCCEEDED" in said, said


def test_demo_leaves_no_process_behind(demo: DemoResult) -> None:
    assert processes_with_env("AIRFLOW_HOME", str(demo.home)) == []
    assert "none left behind" in demo.output


def test_demo_removes_its_home_unless_asked_to_keep_it(demo: DemoResult) -> None:
    assert not demo.home.exists()


def test_demo_finishes_within_its_time_budget(demo: DemoResult) -> None:
    # Two minutes on two idle cores; the margin is for CI machines that run other tests alongside.
    assert demo.seconds < 240, demo.output


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_demo_fails_fast_when_its_api_port_is_taken(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = io.StringIO()
    started = time.monotonic()
    code = run_demo(api_port=taken_port, out=out)
    assert (code, time.monotonic() - started < 10) == (1, True)
    assert f"port {taken_port} on 127.0.0.1 is already in use" in out.getvalue()
