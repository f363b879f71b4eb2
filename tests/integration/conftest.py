"""Integration fixtures: a moto_server on a free loopback port, a fault proxy in front of it, and the
executor pointed at the proxy the way users point boto3 at a local endpoint (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).parent.parent / "executor"))  # the shared Batch world helpers

from batch_world import BatchWorld, hold_jobs
from fault_proxy import FaultProxy

from batch_router.executor import BatchRouterExecutor

JWT_SECRET = "batch-router-integration-secret-" * 3


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    host, port = moto_server.removeprefix("http://").split(":")
    started = FaultProxy(host, int(port)).start()
    yield started
    started.stop()


@pytest.fixture
def world(moto_server: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> BatchWorld:
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    proxy.clear()
    hold_jobs(monkeypatch)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    return BatchWorld(endpoint_url=moto_server)


@pytest.fixture
def set_option(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def set_(**options: object) -> None:
        for name, value in options.items():
            monkeypatch.setenv(f"AIRFLOW__AWS_BATCH_EXECUTOR__{name.upper()}", str(value))

    return set_


@pytest.fixture
def executor(
    world: BatchWorld, proxy: FaultProxy, set_option: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[BatchRouterExecutor]:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__RETRY_BASE_SECONDS", "0.01")
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__RETRY_MAX_SECONDS", "0.05")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    set_option(
        job_queue=world.queue("airflow-fargate"),
        job_definition=world.job_definition("airflow-task"),
        region_name="us-east-1",
        poll_interval=0.05,
    )
    started = BatchRouterExecutor()
    started.start()
    yield started
    started.end()
    proxy.delay = 0.0
