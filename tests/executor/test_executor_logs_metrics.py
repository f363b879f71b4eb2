"""Live task logs from CloudWatch for the UI, and per-route metrics through Airflow's stats."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airflow._shared.observability.metrics import stats
from batch_world import BatchWorld, Faults
from executor_kit import drive, make_workload, queue_all, task_instance

from batch_router.executor import BatchRouterExecutor


def test_task_log_returns_the_jobs_cloudwatch_lines_found_by_job_id(
    executor: BatchRouterExecutor, world: BatchWorld, default_route: str
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id, ["starting task", "extracted 42 rows"])
    reader = BatchRouterExecutor()  # the API server loads its own, never started, executor

    messages, lines = reader.get_task_log(task_instance(workload, external_executor_id=job_id), 1)

    assert lines == ["starting task", "extracted 42 rows"]
    assert any(f"/aws/batch/job/airflow-task/default/{job_id}" in m for m in messages)


def test_task_log_starts_with_the_route_and_why_and_links_to_the_job_and_its_log_stream(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id, ["working"])

    messages, _ = BatchRouterExecutor().get_task_log(task_instance(workload, external_executor_id=job_id), 1)

    route, job, stream = messages
    assert route == "batch-router: route 'default' (Airflow queue 'default' names route 'default')"
    assert job.endswith(
        f"https://us-east-1.console.aws.amazon.com/batch/home?region=us-east-1#jobs/detail/{job_id}"
    )
    assert "cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fjob" in stream


def test_task_log_finds_the_job_by_name_when_only_the_try_id_is_known(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id, ["hello from batch"])

    ti = task_instance(workload, external_executor_id=workload.ti.external_executor_id)
    _, lines = BatchRouterExecutor().get_task_log(ti, 1)

    assert lines == ["hello from batch"]


def test_task_log_explains_instead_of_raising_when_aws_fails(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    faults.error("*", "ServerException", 500, times=100)

    messages, lines = BatchRouterExecutor().get_task_log(task_instance(workload, external_executor_id="x"), 1)

    assert lines == []
    assert any("ServerException" in m for m in messages)


def test_task_log_says_so_when_the_container_has_not_started(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]

    messages, lines = BatchRouterExecutor().get_task_log(
        task_instance(workload, external_executor_id=job_id), 1
    )

    assert lines == []
    assert any("no log stream yet" in m for m in messages)


class _Backend:
    """A stats backend (Airflow's own factory seam) that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any, Any]] = []

    def incr(self, stat: str, count: int = 1, rate: float = 1, *, tags: Any = None) -> None:
        self.sent.append(("incr", stat, count, tags))

    def gauge(
        self, stat: str, value: float, rate: float = 1, delta: bool = False, *, tags: Any = None
    ) -> None:
        self.sent.append(("gauge", stat, value, tags))

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@pytest.fixture
def sent_metrics(executor: BatchRouterExecutor) -> Iterator[_Backend]:
    backend = _Backend()
    stats.initialize(factory=lambda: backend, export_legacy_names=False)
    yield backend
    stats.initialize(factory=lambda: _Backend(), export_legacy_names=False)


def test_per_route_counters_for_submitted_running_succeeded_and_throttled(
    executor: BatchRouterExecutor,
    world: BatchWorld,
    faults: Faults,
    sent_metrics: _Backend,
    default_route: str,
) -> None:
    faults.error("SubmitJob", "TooManyRequestsException", 429)
    queue_all(executor, make_workload())
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id)
    drive(executor, lambda: executor.event_buffer)
    world.succeed(job_id)
    drive(executor, lambda: ("incr", "batch_router.succeeded.default", 1, None) in sent_metrics.sent)

    counters = {stat for kind, stat, _, _ in sent_metrics.sent if kind == "incr"}
    for name in ("submitted", "running", "succeeded", "throttled"):
        assert f"batch_router.{name}.default" in counters
        # where the job was sent: the queue and the job definition
        tags = {"route": "default", "job_queue": default_route, "job_definition": "airflow-task"}
        assert ("incr", f"batch_router.{name}", 1, tags) in sent_metrics.sent


def test_per_route_gauges_count_jobs_waiting_in_batch(
    executor: BatchRouterExecutor, world: BatchWorld, sent_metrics: _Backend
) -> None:
    queue_all(executor, make_workload(task_id="a"), make_workload(task_id="b"))
    drive(executor, lambda: len(world.job_ids()) == 2)
    drive(executor, lambda: ("gauge", "batch_router.jobs.queued.default", 2.0, None) in sent_metrics.sent)


def test_a_completed_poll_sweep_reports_how_long_it_took(
    executor: BatchRouterExecutor, world: BatchWorld, sent_metrics: _Backend
) -> None:
    queue_all(executor, make_workload())
    drive(executor, lambda: world.job_ids())
    sweeps = drive(
        executor,
        lambda: [v for kind, stat, v, _ in sent_metrics.sent if stat == "batch_router.poll.sweep_seconds"],
    )
    assert all(0 <= seconds < 30 for seconds in sweeps)


def saved_task_events(executor: BatchRouterExecutor) -> list[tuple[str | None, str | None, str | None]]:
    """Save the executor's task events the way Airflow's scheduler loop does, into a real table."""
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.log import Log
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    engine = create_engine("sqlite://")
    Log.__table__.create(engine)  # type: ignore[attr-defined]
    with Session(engine) as session:
        SchedulerJobRunner._process_task_event_logs(executor._task_event_logs, session)
        session.commit()
        return [(row.task_id, row.event, row.extra) for row in session.scalars(select(Log))]


def test_failure_events_survive_the_schedulers_bulk_save(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload(task_id="misconfigured", executor_config={"containerOverride": {}})
    queue_all(executor, workload)
    drive(executor, lambda: executor.get_event_buffer())

    [(task_id, event, extra)] = saved_task_events(executor)

    assert (task_id, event) == ("misconfigured", "batch-router: task not submitted")
    assert extra is not None and "containerOverrides" in extra


def test_saved_events_are_let_go_on_the_next_heartbeat(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    queue_all(executor, make_workload(executor_config={"containerOverride": {}}))
    drive(executor, lambda: executor.get_event_buffer())
    saved_task_events(executor)
    event = weakref.ref(executor._task_event_logs._handed_out[0])

    executor.heartbeat()

    assert event() is None


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def botocore_debug() -> Iterator[_Keep]:
    handler = _Keep()
    logger = logging.getLogger("botocore")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _submit_one(executor: BatchRouterExecutor, world: BatchWorld) -> None:
    queue_all(executor, make_workload(token="secret-workload-token"))
    drive(executor, lambda: world.job_ids())


def test_tokens_and_signatures_stay_out_of_the_logs_at_debug(
    executor: BatchRouterExecutor, world: BatchWorld, botocore_debug: _Keep
) -> None:
    _submit_one(executor, world)

    logged = "\n".join(r.getMessage() for r in botocore_debug.records)
    assert "secret-workload-token" not in logged
    assert "Signature" not in logged and "Authorization" not in logged


def test_log_aws_requests_lets_botocore_s_wire_logging_through(
    default_route: str, world: BatchWorld, botocore_debug: _Keep, set_option: Callable[..., None]
) -> None:
    set_option(log_aws_requests=True)
    executor = BatchRouterExecutor()
    executor.start()
    try:
        _submit_one(executor, world)
    finally:
        executor.end()

    assert "secret-workload-token" in "\n".join(r.getMessage() for r in botocore_debug.records)


def test_another_aws_hooks_wire_logging_in_the_same_process_is_left_alone(
    executor: BatchRouterExecutor, world: BatchWorld, botocore_debug: _Keep
) -> None:
    import boto3

    _submit_one(executor, world)  # batch-router's calls: quiet
    theirs = boto3.client("batch", region_name="us-east-1")
    theirs.describe_job_queues(jobQueues=["someone-elses-queue"])

    logged = [r.getMessage() for r in botocore_debug.records]
    assert any("someone-elses-queue" in line for line in logged)
    assert not any("secret-workload-token" in line for line in logged)
