"""``run_local``: serve until Ctrl-C or SIGTERM, print how to point Airflow at it, leave nothing behind."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from batch_router.dev.local import run_local

ROUTES = """\
version: 1
default_route: cli
routes:
  - name: cli
    compute: fargate
    job_queue: cli-queue
    job_definition: cli-def
"""
SPAWNER = (
    "import os, subprocess, time; child = subprocess.Popen(['sleep', '60']);"
    " print(os.getpid(), child.pid, flush=True); time.sleep(60)"
)
LAUNCH = "import sys; from pathlib import Path; from batch_router.dev.local import run_local; " + (
    "sys.exit(run_local(Path(sys.argv[1]), None, 'us-east-1'))"
)


@pytest.fixture
def routes_file(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES)
    return path


@pytest.fixture
def served(routes_file: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``run_local`` in a child process, and the variables its ``export`` lines set."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(routes_file)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    exports: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").rstrip("\n").partition("=")
            exports[name] = shlex.split(value)[0]
        if line.startswith("Press Ctrl-C"):
            break
    try:
        yield proc, exports
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _client(exports: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=exports["AWS_ENDPOINT_URL"],
        region_name=exports["AWS_DEFAULT_REGION"],
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.mark.integration
def test_the_printed_exports_reach_a_server_with_the_routes_queue(
    served: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, exports = served
    queues = _client(exports, "batch").describe_job_queues()["jobQueues"]
    assert [q["jobQueueName"] for q in queues] == ["cli-queue"]


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_it_cleanly_killing_every_job_process(
    served: tuple[subprocess.Popen[str], dict[str, str]],
    sig: signal.Signals,
    wait_for: Callable[..., dict[str, Any]],
    alive: Callable[[int], bool],
) -> None:
    proc, exports = served
    batch, logs = _client(exports, "batch"), _client(exports, "logs")
    job_id = batch.submit_job(
        jobName="spawner",
        jobQueue="cli-queue",
        jobDefinition="cli-def",
        containerOverrides={"command": ["python", "-c", SPAWNER]},
    )["jobId"]
    stream = wait_for(batch, job_id, ("RUNNING",))["container"]["logStreamName"]
    pids: list[int] = []
    deadline = time.monotonic() + 10
    while not pids and time.monotonic() < deadline:
        events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]
        pids = [int(pid) for pid in events[0]["message"].split()] if events else []
        time.sleep(0.02)
    assert pids and all(alive(pid) for pid in pids)

    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0
    time.sleep(0.1)  # the orphaned grandchild is reaped by init
    assert [pid for pid in pids if alive(pid)] == []


def test_a_bad_routes_file_is_reported_and_nothing_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_local(tmp_path / "missing.yaml", None, "us-east-1") == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_a_taken_port_is_reported_with_the_port(
    routes_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        assert run_local(routes_file, port, "us-east-1") == 1
    assert f"port {port} " in capsys.readouterr().err
