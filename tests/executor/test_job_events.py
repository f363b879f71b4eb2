"""Job state from AWS Batch's events (EventBridge -> SQS), the DescribeJobs sweep as the safety net.

The events travel as in AWS: the job's state change event put on moto's EventBridge, its rule (the
pattern ``provision --events`` writes) sending it to an SQS queue, the executor reading that queue.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from batch_world import ACCOUNT, REGION, BatchWorld, Faults
from executor_kit import Recorder, RecordingLog, drive, make_workload, queue_all

from batch_router.executor import BatchRouterExecutor
from batch_router.plan.naming import DEPLOYMENT_TAG


@pytest.fixture
def events_url(world: BatchWorld, default_route: str, set_option: Callable[..., None]) -> str:
    url = world.events_queue(default_route)
    set_option(
        job_events_queue=url,
        events_wait_seconds=1,  # a long poll returns as soon as a message comes
        reconcile_interval=1000,
        event_grace_seconds=1000,
        poll_interval=0.02,
    )
    return url


@pytest.fixture
def log() -> RecordingLog:
    return RecordingLog()


@pytest.fixture
def on_events(events_url: str, log: RecordingLog) -> Iterator[BatchRouterExecutor]:
    executor = BatchRouterExecutor()
    executor._hub.log = log  # what the event path says, kept for the test
    executor.start()
    try:
        drive(executor, lambda: executor._events.flowing)
        yield executor
    finally:
        executor.end()


@contextlib.contextmanager
def _on_events_with(set_option: Callable[..., None], **options: object) -> Iterator[BatchRouterExecutor]:
    """An executor reading the events queue (``events_url``'s options, changed by ``options``)."""
    set_option(**options)
    executor = BatchRouterExecutor()
    executor.start()
    try:
        drive(executor, lambda: executor._events.flowing)
        yield executor
    finally:
        executor.end()


def _submitted(executor: BatchRouterExecutor, world: BatchWorld, task_id: str = "task") -> tuple[Any, str]:
    workload = make_workload(task_id=task_id)
    queue_all(executor, workload)
    job_id = drive(executor, lambda: (r := executor._tracker.get(workload.ti.key)) and r.job_id)
    return workload.ti.key, job_id


def _messages_left(world: BatchWorld, url: str) -> int:
    attributes = world.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _send(world: BatchWorld, url: str, body: Any) -> None:
    world.sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))


def _event(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "account": ACCOUNT,
        "time": "2026-12-05T10:00:00Z",
        "region": REGION,
        "resources": [job.get("jobArn", "")],
        "detail": job,
    }


def test_a_job_that_ends_reaches_airflow_from_its_event_with_no_describe_jobs(
    on_events: BatchRouterExecutor, world: BatchWorld, faults: Faults, events_url: str
) -> None:
    key, job_id = _submitted(on_events, world)
    drive(on_events, lambda: faults.count("DescribeJobs") >= 1)  # the one sweep when it was new
    polls = faults.count("DescribeJobs")
    recorder = Recorder(on_events)
    world.run(job_id)
    world.emit(job_id)
    drive(on_events, lambda: "running" in recorder.states(key))
    world.succeed(job_id)
    world.emit(job_id)

    drive(on_events, lambda: "success" in recorder.states(key))

    assert recorder.states(key) == ["running", "success"]
    assert faults.count("DescribeJobs") == polls
    drive(on_events, lambda: _messages_left(world, events_url) == 0)


def test_a_duplicate_or_late_event_changes_nothing_and_is_deleted(
    on_events: BatchRouterExecutor, world: BatchWorld, events_url: str
) -> None:
    key, job_id = _submitted(on_events, world)
    world.run(job_id)
    running = world.describe(job_id)
    world.succeed(job_id)
    world.emit(job_id)  # SUCCEEDED first ...
    _send(world, events_url, _event(running))  # ... then the RUNNING event, late
    world.emit(job_id)  # ... and SUCCEEDED again, a duplicate
    recorder = Recorder(on_events)

    drive(on_events, lambda: "success" in recorder.states(key))
    drive(on_events, lambda: _messages_left(world, events_url) == 0)

    assert recorder.states(key) == ["success"]


def test_an_event_for_a_status_the_executor_has_passed_does_not_move_the_job_back(
    on_events: BatchRouterExecutor, world: BatchWorld, events_url: str
) -> None:
    _, job_id = _submitted(on_events, world)
    world.move(job_id, "RUNNABLE")
    runnable = world.describe(job_id)
    world.run(job_id)
    world.emit(job_id)
    drive(on_events, lambda: on_events._tracker.by_job(job_id).status == "RUNNING")  # type: ignore[union-attr]
    _send(world, events_url, _event(runnable))

    drive(on_events, lambda: _messages_left(world, events_url) == 0)

    assert on_events._tracker.by_job(job_id).status == "RUNNING"  # type: ignore[union-attr]


def test_a_job_that_failed_before_its_task_started_is_submitted_again_from_its_event_alone(
    on_events: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    key, job_id = _submitted(on_events, world)
    drive(on_events, lambda: faults.count("DescribeJobs") >= 1)  # the one sweep when it was new
    polls = faults.count("DescribeJobs")
    world.fail(job_id, "CannotPullContainerError: pull access denied", started=False)
    world.emit(job_id)

    second = drive(on_events, lambda: [j for j in world.job_ids() if j != job_id])

    assert len(second) == 1
    assert faults.count("DescribeJobs") == polls
    assert on_events._tracker.get(key).job_id == second[0]  # type: ignore[union-attr]


def test_an_unreadable_message_is_logged_once_and_deleted_and_the_reader_goes_on(
    on_events: BatchRouterExecutor, world: BatchWorld, events_url: str, log: RecordingLog
) -> None:
    key, job_id = _submitted(on_events, world)
    for body in (
        "not json",
        "[1, 2]",
        {"source": "aws.ecs", "detail-type": "ECS Task State Change"},
        "not json",
    ):
        _send(world, events_url, body)
    world.succeed(job_id)
    world.emit(job_id)
    recorder = Recorder(on_events)

    drive(on_events, lambda: "success" in recorder.states(key))
    drive(on_events, lambda: _messages_left(world, events_url) == 0)

    said = [w for w in log.warnings if "deleted job events message" in w]
    assert len(said) == 3  # one per reason: not JSON, not an object, not a Batch job event


def test_an_event_of_a_job_in_a_queue_of_no_route_or_of_another_deployment_is_deleted(
    on_events: BatchRouterExecutor, world: BatchWorld, events_url: str, default_route: str
) -> None:
    _, job_id = _submitted(on_events, world)
    job = world.describe(job_id)
    elsewhere = {
        **job,
        "jobId": "job-elsewhere",
        "jobQueue": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/other",
    }
    theirs = {**job, "jobId": "job-theirs", "tags": {**job.get("tags", {}), DEPLOYMENT_TAG: "someone-else"}}
    _send(world, events_url, _event(elsewhere))
    _send(world, events_url, _event(theirs))

    drive(on_events, lambda: _messages_left(world, events_url) == 0)


def test_an_event_of_this_deployments_job_no_try_here_has_is_left_for_another_scheduler(
    on_events: BatchRouterExecutor, world: BatchWorld, events_url: str
) -> None:
    _, job_id = _submitted(on_events, world)
    job = world.describe(job_id)
    _send(world, events_url, _event({**job, "jobId": "job-of-another-scheduler"}))
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        on_events.heartbeat()
        time.sleep(0.01)

    attributes = world.sqs.get_queue_attributes(
        QueueUrl=events_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1  # released for 15 s, not deleted


def test_an_event_held_longer_than_events_hold_seconds_is_deleted(
    world: BatchWorld, events_url: str, set_option: Callable[..., None]
) -> None:
    with _on_events_with(set_option, events_hold_seconds=0.01) as executor:
        _, job_id = _submitted(executor, world)
        _send(world, events_url, _event({**world.describe(job_id), "jobId": "job-nobody-follows"}))
        time.sleep(0.05)

        drive(executor, lambda: _messages_left(world, events_url) == 0)


def test_while_events_flow_the_sweep_waits_for_reconcile_interval(
    on_events: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    _submitted(on_events, world)
    drive(on_events, lambda: faults.count("DescribeJobs") >= 1)  # the sweep of the first heartbeats
    polls = faults.count("DescribeJobs")
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        on_events.heartbeat()
        time.sleep(0.005)

    assert faults.count("DescribeJobs") - polls <= 1  # POLL_INTERVAL is 0.02 s: 25 sweeps without events


def test_a_job_no_event_was_heard_of_for_event_grace_seconds_is_looked_at_once(
    world: BatchWorld, faults: Faults, events_url: str, set_option: Callable[..., None]
) -> None:
    with _on_events_with(set_option, event_grace_seconds=0.1) as executor:
        _, job_id = _submitted(executor, world)
        asked = lambda: sum(job_id in p["jobs"] for p in faults.params("DescribeJobs"))  # noqa: E731
        drive(executor, lambda: asked() >= 1)  # the full sweep after the queue was read
        before = asked()
        drive(executor, lambda: asked() > before, timeout=5)  # its one early look, between 0.1 and 0.2 s
        after = asked()
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            executor.heartbeat()
            time.sleep(0.005)

    assert asked() == after


def test_a_queue_that_cannot_be_read_brings_back_the_poll_pace_and_its_return_the_slow_one(
    on_events: BatchRouterExecutor,
    world: BatchWorld,
    faults: Faults,
    log: RecordingLog,
) -> None:
    _submitted(on_events, world)
    faults.error("ReceiveMessage", "AWS.SimpleQueueService.NonExistentQueue", 400, times=1_000_000)
    drive(on_events, lambda: not on_events._events.flowing)
    polls = faults.count("DescribeJobs")
    drive(on_events, lambda: faults.count("DescribeJobs") >= polls + 3)  # POLL_INTERVAL again
    faults._before.clear()  # the queue is back
    drive(on_events, lambda: on_events._events.flowing)

    assert sum("cannot read the job events queue" in m for m in log.errors) == 1
    assert sum("reading job events from" in m for m in log.infos) == 2  # at start, and once back


def test_without_job_events_queue_no_sqs_call_is_made(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    _, job_id = _submitted(executor, world)
    world.succeed(job_id)
    drive(executor, lambda: executor.event_buffer)

    assert not [c for c in faults.calls if c in ("ReceiveMessage", "GetQueueUrl", "DeleteMessageBatch")]


def test_a_lost_event_is_made_up_for_by_the_reconciling_sweep(
    world: BatchWorld, events_url: str, set_option: Callable[..., None]
) -> None:
    with _on_events_with(set_option, reconcile_interval=0.5) as executor:
        key, job_id = _submitted(executor, world)
        recorder = Recorder(executor)
        world.succeed(job_id)  # and no event: EventBridge lost it

        drive(executor, lambda: "success" in recorder.states(key), timeout=10)


def test_an_event_whose_job_description_cannot_be_read_is_deleted_and_the_others_are_applied(
    on_events: BatchRouterExecutor, world: BatchWorld, events_url: str, log: RecordingLog
) -> None:
    key, job_id = _submitted(on_events, world)
    broken = {**world.describe(job_id), "status": "FAILED", "attempts": "not a list", "container": 7}
    _send(world, events_url, _event(broken))
    drive(on_events, lambda: any("cannot be read" in w for w in log.warnings))  # read before the real one
    world.fail(job_id, "Essential container in task exited", started=True, exit_code=1)
    world.emit(job_id)
    recorder = Recorder(on_events)

    drive(on_events, lambda: "failed" in recorder.states(key))
    drive(on_events, lambda: _messages_left(world, events_url) == 0)

    assert any("cannot be read" in w for w in log.warnings)


CAPACITY = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested"


def test_a_queue_blocked_event_brings_the_jobs_reason_with_no_describe_jobs(
    on_events: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    key, job_id = _submitted(on_events, world)
    world.block(job_id, None)
    world.emit(job_id)
    drive(on_events, lambda: (r := on_events._tracker.get(key)) and r.status == "RUNNABLE")
    polls = faults.count("DescribeJobs")
    world.block(job_id, CAPACITY)
    world.emit(job_id, queue_blocked=True)

    drive(on_events, lambda: (r := on_events._tracker.get(key)) and r.blocked)

    assert on_events._tracker.get(key).blocked == "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"  # type: ignore[union-attr]
    assert faults.count("DescribeJobs") == polls


def test_a_late_runnable_state_change_event_does_not_clear_a_reason(
    on_events: BatchRouterExecutor, world: BatchWorld, events_url: str
) -> None:
    key, job_id = _submitted(on_events, world)
    world.block(job_id, None)
    plain_runnable = world.describe(job_id)
    world.block(job_id, CAPACITY)
    world.emit(job_id, queue_blocked=True)
    drive(on_events, lambda: (r := on_events._tracker.get(key)) and r.blocked)

    _send(world, events_url, _event(plain_runnable))  # the RUNNABLE state change, late
    drive(on_events, lambda: _messages_left(world, events_url) == 0)

    assert on_events._tracker.get(key).blocked == "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"  # type: ignore[union-attr]
