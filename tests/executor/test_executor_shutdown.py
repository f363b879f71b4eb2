"""Revoke, end and terminate: a revoked job never runs on its dead token; end() leaves jobs to the next
scheduler and returns at once; terminate() stops every job it owns."""

from __future__ import annotations

import gc
import threading
import time

import pytest
from airflow.utils.state import TaskInstanceState
from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, make_workload, queue_all, task_instance, tune

from batch_router.executor import BatchRouterExecutor
from batch_router.executor.core import REVOKE_REASON, TERMINATE_REASON
from batch_router.executor.heap_freeze import YOUNG_THRESHOLD
from batch_router.executor.outcomes import Stopped


def test_revoking_a_waiting_job_cancels_it_and_forgets_the_task_without_events(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.move(job_id, "RUNNABLE")
    recorder = Recorder(executor)

    executor.revoke_task(ti=task_instance(workload, external_executor_id=workload.ti.external_executor_id))
    drive(executor, lambda: world.stopped(job_id))

    assert world.stopped(job_id) == REVOKE_REASON
    assert faults.count("CancelJob") == 1 and faults.count("TerminateJob") == 0
    assert workload.ti.key not in executor.running
    assert recorder() == []
    assert not executor._task_event_logs


def test_revoking_a_started_job_terminates_it(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.move(job_id, "STARTING")

    executor.revoke_task(ti=task_instance(workload, external_executor_id=job_id))
    drive(executor, lambda: world.stopped(job_id))

    assert faults.count("TerminateJob") == 1 and faults.count("CancelJob") == 0


def test_revoking_while_the_submit_is_under_way_stops_the_job_it_makes(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.delay = 0.3
    workload = make_workload()
    queue_all(executor, workload)
    drive(executor, lambda: faults.count("SubmitJob"))
    executor.revoke_task(ti=task_instance(workload, external_executor_id=workload.ti.external_executor_id))
    job_id = drive(executor, lambda: world.job_ids())[0]
    faults.delay = 0.0
    drive(executor, lambda: world.stopped(job_id))

    assert world.stopped(job_id) == REVOKE_REASON


def test_revoke_never_raises_even_when_aws_fails_or_the_task_is_unknown(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    drive(executor, lambda: world.job_ids())
    faults.error("*", "ServerException", 500, times=100)

    executor.revoke_task(ti=task_instance(workload, external_executor_id=None))
    executor.revoke_task(ti=task_instance(make_workload(task_id="never-queued"), external_executor_id=None))
    for _ in range(20):
        executor.heartbeat()

    assert workload.ti.key not in executor.running


def test_end_returns_at_once_and_leaves_running_jobs_alone(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id)
    faults.delay = 1.0  # calls under way must not hold end() up either
    executor.heartbeat()

    began = time.monotonic()
    executor.end()
    elapsed = time.monotonic() - began
    faults.delay = 0.0
    time.sleep(1.1)

    assert elapsed < 0.5
    assert world.stopped(job_id) is None
    assert world.describe(job_id)["status"] == "RUNNING"


def test_terminate_stops_every_job_it_owns_and_submits_nothing_more(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    running, waiting, unsent = (
        make_workload(task_id="a"),
        make_workload(task_id="b"),
        make_workload(task_id="c"),
    )
    queue_all(executor, running, waiting)
    jobs = drive(executor, lambda: len(world.job_ids()) == 2 and world.job_ids())
    world.run(jobs[0])
    drive(executor, lambda: executor.event_buffer)
    queue_all(executor, unsent)

    executor.terminate()
    for _ in range(10):
        executor.heartbeat()

    assert {world.stopped(j) for j in jobs} == {TERMINATE_REASON}
    assert faults.count("TerminateJob") == 2
    assert len(world.job_ids()) == 2


def test_a_heartbeat_after_end_does_nothing_and_raises_nothing(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    executor.end()
    queue_all(executor, make_workload())
    recorder = Recorder(executor)
    for _ in range(5):
        executor.heartbeat()

    assert world.job_ids() == []
    assert TaskInstanceState.FAILED not in [s for _, s, _ in recorder()]


def test_one_executor_ending_does_not_thaw_the_heap_under_another(default_route: str) -> None:
    first, second = BatchRouterExecutor(), BatchRouterExecutor()
    first.start()
    second.start()
    try:
        first.end()
        assert gc.get_freeze_count() > 0  # the second executor still runs on a frozen heap
    finally:
        second.end()
    assert gc.get_freeze_count() == 0


def test_a_running_executor_collects_the_young_generation_less_often_until_it_ends(
    default_route: str,
) -> None:
    before = gc.get_threshold()
    executor = BatchRouterExecutor()
    executor.start()
    try:
        assert gc.get_threshold() == (max(before[0], YOUNG_THRESHOLD), before[1], before[2])
    finally:
        executor.end()
    assert gc.get_threshold() == before


def test_a_young_threshold_the_process_set_higher_is_kept(default_route: str) -> None:
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD * 3, before[1], before[2])
    try:
        executor = BatchRouterExecutor()
        executor.start()
        try:
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD * 3
        finally:
            executor.end()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD * 3
    finally:
        gc.set_threshold(*before)


def test_the_young_threshold_comes_back_when_the_last_executor_ends(default_route: str) -> None:
    before = gc.get_threshold()
    first, second = BatchRouterExecutor(), BatchRouterExecutor()
    first.start()
    second.start()
    try:
        first.end()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        second.end()
    assert gc.get_threshold() == before


def test_ending_twice_releases_the_frozen_heap_once(default_route: str) -> None:
    first, second = BatchRouterExecutor(), BatchRouterExecutor()
    first.start()
    second.start()
    try:
        first.end()
        first.end()
        assert gc.get_freeze_count() > 0
    finally:
        second.end()


def test_terminate_stops_the_job_a_submit_under_way_makes(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, plan_here_budget_seconds=10.0)  # planned in this heartbeat
    faults.delay = 0.5  # the SubmitJob is still under way when terminate() is called
    queue_all(executor, make_workload())
    executor.heartbeat()
    deadline = time.monotonic() + 10
    while not faults.count("SubmitJob") and time.monotonic() < deadline:
        time.sleep(0.01)  # the call has been sent: it is under way, no longer cancellable

    executor.terminate()

    jobs = world.job_ids()
    assert len(jobs) == 1
    assert world.stopped(jobs[0]) == TERMINATE_REASON


def test_terminate_stops_the_job_of_a_try_whose_submit_answer_was_lost(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.lose_response("SubmitJob")
    queue_all(executor, make_workload())
    drive(executor, lambda: world.job_ids() and all(r.lookup_first for r in executor._tracker))
    faults.error("ListJobs", "ServerException", 500, times=1000)  # and it cannot be looked up for now
    for _ in range(5):
        executor.heartbeat()
    faults._before.clear()  # AWS answers again by the time the scheduler stops

    executor.terminate()

    assert world.stopped(world.job_ids()[0]) == TERMINATE_REASON


def test_end_joins_the_threads_it_started_when_no_call_is_under_way(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    queue_all(executor, make_workload())
    drive(executor, lambda: world.job_ids())
    drive(executor, lambda: executor._tracker.in_flight() == 0 and not executor._hub.channel.in_flight)

    executor.end()

    names = [t.name for t in threading.enumerate()]
    ours = ("batch-router-api", "batch-router-plan", "batch-router-poll")
    assert not [n for n in names if n.startswith(ours)], names


def test_terminate_right_after_a_revoke_still_stops_the_revoked_job(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id)
    tune(executor, terminate_timeout_seconds=0.2)
    release = faults.hold("ListJobs")  # every API thread busy: the revoke's stop waits in the queue
    hub = executor._hub
    client = hub.runtime().client

    def busy() -> Stopped:
        client.list_job_ids("q", "RUNNING")
        return Stopped(None, None)

    for _ in range(hub.runtime().settings.api_concurrency):
        hub.channel.send(hub.api, busy, lambda _: Stopped(None, None))
    try:
        executor.revoke_task(ti=task_instance(workload, external_executor_id=job_id))
        executor.terminate()  # cancels the calls not yet started, the revoke's stop among them
    finally:
        release.set()

    assert world.stopped(job_id)
