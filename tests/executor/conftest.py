"""Fixtures for executor tests: moto in-process, a Batch world, fault injection, a started executor."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from batch_world import BatchWorld, Faults, hold_jobs, install
from moto import mock_aws

from batch_router.dev.local import job_definition_revisions
from batch_router.executor import BatchRouterExecutor

JWT_SECRET = "batch-router-test-secret-" * 4


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    recorder = Faults()
    install(monkeypatch, recorder)
    return recorder


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, faults: Faults) -> Iterator[BatchWorld]:
    hold_jobs(monkeypatch)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # 0.3 s per test otherwise
    job_definition_revisions.install()  # the local Batch's fix of moto: AWS finds name:revision too
    try:
        with mock_aws():
            yield BatchWorld()
    finally:
        job_definition_revisions.uninstall()


@pytest.fixture
def set_option(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set executor options the way users do: AIRFLOW__AWS_BATCH_EXECUTOR__<OPTION>."""

    def set_(**options: object) -> None:
        for name, value in options.items():
            monkeypatch.setenv(f"AIRFLOW__AWS_BATCH_EXECUTOR__{name.upper()}", str(value))

    return set_


@pytest.fixture(autouse=True)
def _logs_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The executor's notes for a try's log pane (task_notes) go to the test's own folder."""
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path_factory.mktemp("logs")))


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__RETRY_BASE_SECONDS", "0.01")
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__RETRY_MAX_SECONDS", "0.05")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)


@pytest.fixture
def default_route(world: BatchWorld, set_option: Callable[..., None]) -> str:
    """One queue and job definition, configured like the reference executor (no route table)."""
    queue = world.queue("airflow-fargate")
    set_option(
        job_queue=queue,
        job_definition=world.job_definition("airflow-task"),
        region_name="us-east-1",
        poll_interval=0.02,
        max_submit_job_attempts=3,
    )
    return queue


@pytest.fixture
def executor(default_route: str) -> Iterator[BatchRouterExecutor]:
    started = BatchRouterExecutor()
    started.start()
    yield started
    started.end()
