"""Starting and stopping the local Batch: ports, states, run slots, clean shutdown, pointing clients at it.

Each test starts its own LocalBatch (one per process at a time), so none of them uses ``local_batch``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import moto.batch.models
import pytest

from batch_router.config.model import Route, RouteTable
from batch_router.dev.local import LocalBatch, LocalBatchError, PortInUseError

Wait = Callable[..., dict[str, Any]]

TABLE = RouteTable(
    routes=(Route(name="only", compute="fargate", job_queue="q", job_definition="d"),),
    default_route="only",
)
SPAWNER = (
    "import os, subprocess, time; child = subprocess.Popen(['sleep', '60']);"
    " print(os.getpid(), child.pid, flush=True); time.sleep(60)"
)
SLEEP = ["python", "-c", "import time; time.sleep(60)"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _submit(batch: Any, command: list[str], name: str = "job") -> str:
    job_id: str = batch.submit_job(
        jobName=name, jobQueue="q", jobDefinition="d", containerOverrides={"command": command}
    )["jobId"]
    return job_id


def test_a_taken_port_fails_fast_naming_the_port(taken_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(PortInUseError, match=f"port {taken_port} "):
        LocalBatch(port=taken_port).start()
    assert time.monotonic() - started < 5


def test_no_port_means_a_free_one_on_localhost() -> None:
    with LocalBatch() as local:
        assert local.endpoint_url == f"http://127.0.0.1:{local.port}"
        assert local.client("batch").describe_job_queues()["jobQueues"] == []


def test_the_port_asked_for_is_the_port_served() -> None:
    port = _free_port()
    with LocalBatch(port=port) as local:
        assert local.endpoint_url.endswith(f":{port}")


def test_a_second_local_batch_in_the_same_process_is_refused() -> None:
    with LocalBatch(), pytest.raises(LocalBatchError, match="already runs"):
        LocalBatch().start()


def test_moto_runs_its_own_jobs_again_after_stop() -> None:
    with LocalBatch():
        assert moto.batch.models.Job.__name__ == "LocalJob"
    assert moto.batch.models.Job.__module__ == "moto.batch.models"


def test_a_job_passes_through_every_state_in_order(wait_for: Wait) -> None:
    with LocalBatch(TABLE, transition_seconds=0.3) as local:
        batch = local.client("batch")
        job_id = _submit(batch, ["python", "-c", "import time; time.sleep(0.5)"])
        seen = [batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]]
        while seen[-1] not in ("SUCCEEDED", "FAILED"):
            status = batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]
            if status != seen[-1]:
                seen.append(status)
            time.sleep(0.01)
    assert seen == ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]


def test_jobs_beyond_the_cap_wait_in_runnable(wait_for: Wait) -> None:
    with LocalBatch(TABLE, transition_seconds=0.02, max_concurrent_jobs=1) as local:
        batch = local.client("batch")
        wait_for(batch, _submit(batch, SLEEP), ("RUNNING",))
        waiting = _submit(batch, ["true"])
        wait_for(batch, waiting, ("RUNNABLE",))
        time.sleep(0.3)
        assert batch.describe_jobs(jobs=[waiting])["jobs"][0]["status"] == "RUNNABLE"


def test_cancel_fails_a_job_that_has_not_started_with_the_reason(wait_for: Wait) -> None:
    with LocalBatch(TABLE, transition_seconds=0.02, max_concurrent_jobs=1) as local:
        batch = local.client("batch")
        wait_for(batch, _submit(batch, SLEEP), ("RUNNING",))
        waiting = _submit(batch, ["true"])
        wait_for(batch, waiting, ("RUNNABLE",))
        batch.cancel_job(jobId=waiting, reason="changed my mind")
        job = wait_for(batch, waiting)
    assert (job["status"], job["statusReason"], job["attempts"]) == ("FAILED", "changed my mind", [])


def test_stop_leaves_no_job_process_or_child_alive(
    wait_for: Wait, messages: Callable[[Any, str], list[str]], alive: Callable[[int], bool]
) -> None:
    pids: list[int] = []
    with LocalBatch(TABLE, transition_seconds=0.02, kill_grace_seconds=1.0) as local:
        batch, logs = local.client("batch"), local.client("logs")
        for job_id in [_submit(batch, ["python", "-c", SPAWNER]) for _ in range(2)]:
            stream = wait_for(batch, job_id, ("RUNNING",))["container"]["logStreamName"]
            deadline = time.monotonic() + 10
            while not (lines := _lines(logs, stream, messages)) and time.monotonic() < deadline:
                time.sleep(0.02)
            pids += [int(pid) for pid in lines[0].split()]
        assert all(alive(pid) for pid in pids)
    time.sleep(0.1)  # the orphaned grandchildren are reaped by init, not by us
    assert [pid for pid in pids if alive(pid)] == []


def _lines(logs: Any, stream: str, messages: Callable[[Any, str], list[str]]) -> list[str]:
    try:
        return messages(logs, stream)
    except logs.exceptions.ResourceNotFoundException:
        return []


def test_jobs_run_in_their_own_folder_of_the_work_dir(
    tmp_path: Path, wait_for: Wait, messages: Callable[[Any, str], list[str]]
) -> None:
    with LocalBatch(TABLE, transition_seconds=0.02, work_dir=tmp_path) as local:
        batch = local.client("batch")
        job = wait_for(batch, _submit(batch, ["python", "-c", "import os; print(os.getcwd())"]))
        lines = messages(local.client("logs"), job["container"]["logStreamName"])
    assert lines == [str(tmp_path / job["jobId"])]


def test_env_points_plain_boto3_at_the_local_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    with LocalBatch(TABLE) as local:
        for name, value in local.env().items():
            monkeypatch.setenv(name, value)
        queues = boto3.client("batch").describe_job_queues()["jobQueues"]
    assert [q["jobQueueName"] for q in queues] == ["q"]


def test_env_points_airflows_aws_connection_at_the_local_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

    with LocalBatch(TABLE, region="eu-west-1") as local:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", local.env()["AIRFLOW_CONN_AWS_DEFAULT"])
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BATCH", "AWS_DEFAULT_REGION"):
            monkeypatch.delenv(name, raising=False)
        client: Any = BatchClientHook(aws_conn_id="aws_default").client
        queues = client.describe_job_queues()["jobQueues"]
    assert [q["jobQueueArn"].split(":")[3] for q in queues] == ["eu-west-1"]


def test_env_connection_is_json_with_endpoint_and_region_in_extra() -> None:
    with LocalBatch(region="eu-west-1") as local:
        connection = json.loads(local.env()["AIRFLOW_CONN_AWS_DEFAULT"])
        endpoint = local.endpoint_url
    assert connection["extra"] == {"endpoint_url": endpoint, "region_name": "eu-west-1"}


def test_without_events_there_is_no_events_queue_and_no_variable_for_the_executor() -> None:
    with LocalBatch(TABLE, events=False) as local:
        assert local.events_queue is None
        assert "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_EVENTS_QUEUE" not in local.env()
