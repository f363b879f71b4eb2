"""Fixtures for the local Batch: a running server with one route per kind of compute, and pollers.

Only one local Batch can run in a process, so ``local_batch`` is per module: test modules that
start their own (lifecycle, command) never overlap with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batch_router.config.model import Route, RouteTable
from batch_router.dev.local import LocalBatch

FINAL = ("SUCCEEDED", "FAILED")

TABLE = RouteTable(
    routes=(
        Route(name="small", compute="fargate", job_queue="local-fargate", job_definition="local-fargate-def"),
        Route(name="big", compute="ec2", job_queue="local-ec2", job_definition="local-ec2-def"),
        Route(name="kube", compute="eks", job_queue="local-eks", job_definition="local-eks-def"),
    ),
    default_route="small",
)


@pytest.fixture(scope="module")
def route_table() -> RouteTable:
    return TABLE


@pytest.fixture(scope="module")
def local_batch() -> Iterator[LocalBatch]:
    with LocalBatch(TABLE, transition_seconds=0.02, kill_grace_seconds=1.0) as batch:
        yield batch


@pytest.fixture(scope="module")
def batch(local_batch: LocalBatch) -> Any:
    return local_batch.client("batch")


@pytest.fixture(scope="module")
def logs(local_batch: LocalBatch) -> Any:
    return local_batch.client("logs")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting for its reaper counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.fixture
def alive() -> Callable[[int], bool]:
    return pid_alive


def _wait_for(batch: Any, job_id: str, statuses: tuple[str, ...], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s, wanted {statuses}")
        time.sleep(0.02)


@pytest.fixture
def wait_for() -> Callable[..., dict[str, Any]]:
    """``wait_for(batch, job_id, statuses=FINAL, timeout=15)`` -> the job's DescribeJobs entry."""

    def wait(
        batch: Any, job_id: str, statuses: tuple[str, ...] = FINAL, timeout: float = 15.0
    ) -> dict[str, Any]:
        return _wait_for(batch, job_id, statuses, timeout)

    return wait


@pytest.fixture
def messages() -> Callable[[Any, str], list[str]]:
    """``messages(logs, stream)`` -> every message in that stream of /aws/batch/job, oldest first."""

    def read(logs: Any, stream: str) -> list[str]:
        events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)
        return [e["message"] for e in events["events"]]

    return read


@pytest.fixture
def run_job(batch: Any, wait_for: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Submit to the fargate route with ``containerOverrides`` and wait until the job ends."""
    counter = iter(range(1_000_000))

    def run(command: list[str], **kwargs: Any) -> dict[str, Any]:
        overrides = {"command": command, **kwargs.pop("containerOverrides", {})}
        submitted = batch.submit_job(
            jobName=f"job-{next(counter)}",
            jobQueue=kwargs.pop("jobQueue", "local-fargate"),
            jobDefinition=kwargs.pop("jobDefinition", "local-fargate-def"),
            containerOverrides=overrides,
            **kwargs,
        )
        return wait_for(batch, submitted["jobId"])

    return run
