"""Start-up: settings and routes come from Airflow's configuration; the health check names each route
that cannot run jobs and stops the scheduler."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from batch_world import BatchWorld, Faults
from executor_kit import RecordingLog

from batch_router.errors import ConfigError
from batch_router.executor import BatchRouterExecutor


def _routes(*routes: dict[str, str]) -> str:
    return json.dumps({"version": 1, "routes": list(routes)})


def test_start_fails_naming_the_route_whose_job_queue_does_not_exist(
    world: BatchWorld, set_option: Callable[..., None]
) -> None:
    set_option(
        job_queue="typo-queue", job_definition=world.job_definition("airflow-task"), region_name="us-east-1"
    )

    with pytest.raises(ConfigError) as raised:
        BatchRouterExecutor().start()

    assert "route 'default'" in str(raised.value)
    assert "job queue 'typo-queue' does not exist" in str(raised.value)


def test_start_fails_when_a_fargate_route_sits_on_ec2_compute(
    world: BatchWorld, set_option: Callable[..., None]
) -> None:
    set_option(
        routes=_routes(
            {
                "name": "small",
                "compute": "fargate",
                "job_queue": world.queue("fg"),
                "job_definition": world.job_definition("fg-def"),
            },
            {
                "name": "gpu",
                "compute": "fargate",
                "job_queue": world.queue("ec2", compute="EC2"),
                "job_definition": world.job_definition("ec2-def", fargate=False),
            },
        ),
        region_name="us-east-1",
    )

    with pytest.raises(ConfigError) as raised:
        BatchRouterExecutor().start()

    text = str(raised.value)
    assert "route 'gpu'" in text and "EC2 on ECS, but the route says compute: fargate" in text
    assert "route 'small'" not in text


def test_start_fails_when_a_job_queue_is_disabled(world: BatchWorld, set_option: Callable[..., None]) -> None:
    set_option(
        job_queue=world.queue("off", state="DISABLED"),
        job_definition=world.job_definition("airflow-task"),
        region_name="us-east-1",
    )

    with pytest.raises(ConfigError, match="job queue 'off' is DISABLED, not ENABLED"):
        BatchRouterExecutor().start()


def test_start_fails_when_a_job_definition_is_missing_or_inactive(
    world: BatchWorld, set_option: Callable[..., None]
) -> None:
    world.batch.deregister_job_definition(jobDefinition=world.job_definition("retired") + ":1")
    set_option(
        routes=_routes(
            {"name": "a", "compute": "fargate", "job_queue": world.queue("q1"), "job_definition": "retired"},
            {"name": "b", "compute": "fargate", "job_queue": "q1", "job_definition": "never-registered"},
        ),
        region_name="us-east-1",
    )

    with pytest.raises(ConfigError) as raised:
        BatchRouterExecutor().start()

    text = str(raised.value)
    assert "route 'a'" in text and "job definition 'retired'" in text
    assert "route 'b'" in text and "job definition 'never-registered' does not exist" in text


def test_the_health_check_can_be_turned_off(world: BatchWorld, set_option: Callable[..., None]) -> None:
    set_option(
        job_queue="typo-queue",
        job_definition="nothing",
        region_name="us-east-1",
        check_health_on_startup=False,
    )
    executor = BatchRouterExecutor()

    executor.start()
    executor.end()


def test_start_fails_with_the_settings_problem_when_no_queue_is_configured(world: BatchWorld) -> None:
    with pytest.raises(ConfigError, match="JOB_QUEUE"):
        BatchRouterExecutor().start()


def test_settings_are_read_for_the_executors_team(
    world: BatchWorld, set_option: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_option(
        job_queue="wrong-team-queue",
        job_definition=world.job_definition("airflow-task"),
        region_name="us-east-1",
    )
    monkeypatch.setenv("AIRFLOW__CORE__MULTI_TEAM", "True")
    monkeypatch.setenv("AIRFLOW__TEAM_A___AWS_BATCH_EXECUTOR__JOB_QUEUE", world.queue("team-a-queue"))
    monkeypatch.setenv("AIRFLOW__TEAM_A___AWS_BATCH_EXECUTOR__JOB_DEFINITION", "airflow-task")

    executor = BatchRouterExecutor(team_name="team_a")
    executor.start()  # the health check would fail on the global queue, which does not exist
    executor.end()


def test_a_transient_error_in_the_health_check_is_retried_and_start_up_goes_on(
    default_route: str, faults: Faults
) -> None:
    faults.error("DescribeJobQueues", "ServerException", 500, times=2)
    executor = BatchRouterExecutor()

    executor.start()  # no ConfigError: the third check gets an answer
    executor.end()

    assert faults.count("DescribeJobQueues") == 3


def test_when_aws_does_not_answer_the_scheduler_starts_and_the_check_goes_on_in_the_background(
    default_route: str, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__HEALTH_RETRY_SECONDS", "0.2")
    faults.error("DescribeJobQueues", "TooManyRequestsException", 429, times=20)
    executor = BatchRouterExecutor()

    started = time.monotonic()
    executor.start()
    try:
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 20
        while faults.count("DescribeJobDefinitions") == 0:  # a check got past the queues: AWS answered
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        executor.end()
    assert faults.count("DescribeJobQueues") == 21


def test_a_finding_still_stops_start_up_after_a_transient_error(
    world: BatchWorld, faults: Faults, set_option: Callable[..., None]
) -> None:
    set_option(
        job_queue="typo-queue", job_definition=world.job_definition("airflow-task"), region_name="us-east-1"
    )
    faults.error("DescribeJobQueues", "ServerException", 500, times=1)

    with pytest.raises(ConfigError, match="job queue 'typo-queue' does not exist"):
        BatchRouterExecutor().start()


def test_each_executor_runs_with_its_own_tuning(default_route: str, set_option: Callable[..., None]) -> None:
    set_option(submit_pipeline_depth=7, plan_here_budget_seconds=0)
    executor = BatchRouterExecutor()
    executor.start()
    try:
        assert executor._hub.tunables.submit_pipeline_depth == 7
        assert executor._hub.tunables.plan_here_budget_seconds == 0
    finally:
        executor.end()
    assert BatchRouterExecutor()._hub.tunables.submit_pipeline_depth == 500  # nothing changed for others


def test_start_warns_of_a_misspelt_option_and_still_starts(
    default_route: str, set_option: Callable[..., None]
) -> None:
    set_option(submit_rate_limt=10)
    executor = BatchRouterExecutor()
    log = RecordingLog()
    executor._log = log  # type: ignore[assignment]

    executor.start()
    executor.end()

    assert any("SUBMIT_RATE_LIMT is not an option" in w and "SUBMIT_RATE_LIMIT" in w for w in log.warnings)


def test_start_says_the_route_table_wins_over_a_job_queue_left_beside_it(
    world: BatchWorld, set_option: Callable[..., None]
) -> None:
    route = {"name": "small", "compute": "fargate", "job_queue": world.queue("fg"),
             "job_definition": world.job_definition("fg-def")}  # fmt: skip
    set_option(routes=_routes(route), job_queue="old-queue", region_name="us-east-1")
    executor = BatchRouterExecutor()
    log = RecordingLog()
    executor._log = log  # type: ignore[assignment]

    executor.start()
    executor.end()

    assert any("JOB_QUEUE: is set beside ROUTES; the route table wins" in w for w in log.warnings)


def test_start_starts_every_thread_so_no_heartbeat_waits_for_one(
    world: BatchWorld, default_route: str, set_option: Callable[..., None]
) -> None:
    set_option(api_concurrency=3, poll_concurrency=2)
    executor = BatchRouterExecutor()
    executor.start()
    try:
        names = [thread.name for thread in threading.enumerate()]
    finally:
        executor.end()

    assert sum(name.startswith("batch-router-api") for name in names) == 3
    assert sum(name.startswith("batch-router-poll") for name in names) == 2
    assert sum(name.startswith("batch-router-plan") for name in names) == 1
