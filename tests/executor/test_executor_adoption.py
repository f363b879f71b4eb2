"""Adoption after a scheduler died: by the job id it reported, or by the try's pre-assigned id when it
died before reporting. Nothing alive is submitted again; what cannot be found is handed back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest
from airflow.executors.workloads import ExecuteTask
from airflow.utils.state import TaskInstanceState
from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, make_workload, queue_all, task_instance

from batch_router.executor import BatchRouterExecutor
from batch_router.executor.core import REVOKE_REASON
from batch_router.executor.try_record import Stage


@pytest.fixture
def successor(default_route: str) -> Iterator[BatchRouterExecutor]:
    """The executor of the scheduler that starts after the first one died."""
    started = BatchRouterExecutor()
    started.start()
    yield started
    started.end()


def _left_behind(executor: BatchRouterExecutor, world: BatchWorld) -> tuple[ExecuteTask, str]:
    """A try the first scheduler submitted before it died: its workload and its job's id."""
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    executor.end()
    return workload, job_id


def _sent_to_big_by_a_scheduler_that_died(
    world: BatchWorld, set_option: Callable[..., None]
) -> tuple[ExecuteTask, str]:
    """Two routes, small then big; a try sent to big by a scheduler that then died (no job id stored)."""
    routes = [
        {
            "name": name,
            "compute": "fargate",
            "job_queue": world.queue(f"q-{name}"),
            "job_definition": world.job_definition(f"d-{name}"),
        }
        for name in ("small", "big")
    ]
    set_option(
        routes=json.dumps({"version": 1, "routes": routes}), region_name="us-east-1", poll_interval=0.02
    )
    workload = make_workload(executor_config={"route": "big"})
    first = BatchRouterExecutor()
    first.start()
    queue_all(first, workload)
    job_id = drive(first, lambda: world.job_ids())[0]
    first.end()
    return workload, job_id


def test_a_try_reported_running_is_adopted_by_its_job_id_and_tracked_to_completion(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id)
    drive(executor, lambda: executor.event_buffer)
    executor.end()

    not_adopted = successor.try_adopt_task_instances([task_instance(workload, external_executor_id=job_id)])
    recorder = Recorder(successor)
    world.succeed(job_id)
    drive(successor, lambda: recorder.states(workload.ti.key))

    assert not_adopted == []
    assert recorder.states(workload.ti.key) == [TaskInstanceState.SUCCESS]
    assert faults.count("SubmitJob") == 1


def test_a_try_not_yet_reported_is_adopted_by_its_pre_assigned_id(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload, job_id = _left_behind(executor, world)  # died before the job ran: only the pre-assigned id

    ti = task_instance(workload, external_executor_id=workload.ti.external_executor_id)
    not_adopted = successor.try_adopt_task_instances([ti])
    recorder = Recorder(successor)
    world.run(job_id)
    drive(successor, lambda: recorder.states(workload.ti.key))

    assert not_adopted == []
    assert workload.ti.key in successor.running
    assert recorder.seen == [(workload.ti.key, TaskInstanceState.RUNNING, job_id)]
    assert faults.count("SubmitJob") == 1


def test_an_adopted_job_that_failed_before_start_is_submitted_again_from_its_own_command(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload, first = _left_behind(executor, world)

    successor.try_adopt_task_instances(
        [task_instance(workload, external_executor_id=workload.ti.external_executor_id)]
    )
    world.fail(first, "CannotPullContainerError: manifest unknown", started=False)
    second = drive(successor, lambda: [j for j in world.job_ids() if j != first])[0]

    assert world.describe(second)["tags"]["batch-router:try-id"] == workload.ti.external_executor_id


def test_only_a_try_with_no_id_is_handed_back_to_the_scheduler(
    successor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    ti = task_instance(workload, external_executor_id=str(uuid.uuid4()))
    no_id = task_instance(make_workload(task_id="other"), external_executor_id=None)

    assert successor.try_adopt_task_instances([ti, no_id]) == [no_id]
    assert workload.ti.key in successor.running


def test_adoption_answers_the_scheduler_while_aws_has_not_answered_yet(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload, job_id = _left_behind(executor, world)
    released = faults.hold("DescribeJobs")  # AWS takes its time this minute

    try:
        not_adopted = successor.try_adopt_task_instances(
            [task_instance(workload, external_executor_id=job_id)]
        )
        still_asking = successor._tracker.get(workload.ti.key).stage is Stage.ADOPTING  # type: ignore[union-attr]
    finally:
        released.set()
    recorder = Recorder(successor)
    world.succeed(job_id)
    drive(successor, lambda: recorder.states(workload.ti.key))

    assert not_adopted == []
    assert still_asking
    assert recorder.states(workload.ti.key) == [TaskInstanceState.SUCCESS]


def test_an_adopted_try_with_no_job_is_submitted_with_a_fresh_workload(
    successor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batch_router.executor import workloads

    workload = make_workload()  # its scheduler died before submitting it
    # The scheduler's row would give Airflow what ExecuteTask.make needs; the test's row does not.
    monkeypatch.setattr(workloads.ExecuteTask, "make", classmethod(lambda cls, ti, generator=None: workload))
    recorder = Recorder(successor)

    successor.try_adopt_task_instances(
        [task_instance(workload, external_executor_id=workload.ti.external_executor_id)]
    )
    job_id = drive(successor, lambda: world.job_ids())[0]

    assert faults.count("SubmitJob") == 1
    assert world.describe(job_id)["tags"]["batch-router:try-id"] == workload.ti.external_executor_id
    assert TaskInstanceState.FAILED not in recorder.states(workload.ti.key)


def test_an_adopted_try_with_no_job_and_no_workload_fails_naming_the_job_it_looked_for(
    successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()  # the test's row lacks what a fresh workload needs
    recorder = Recorder(successor)

    successor.try_adopt_task_instances(
        [task_instance(workload, external_executor_id=workload.ti.external_executor_id)]
    )
    drive(successor, lambda: recorder.states(workload.ti.key))

    assert recorder.states(workload.ti.key) == [TaskInstanceState.FAILED]
    assert faults.count("SubmitJob") == 0
    assert "no AWS Batch job named" in str(recorder.info(workload.ti.key))


def test_adoption_describes_at_most_100_ids_per_call(
    successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    tis = [
        task_instance(make_workload(task_id=f"t{i}"), external_executor_id=str(uuid.uuid4()))
        for i in range(150)
    ]

    successor.try_adopt_task_instances(tis)
    drive(successor, lambda: len(faults.params("DescribeJobs")) >= 2)

    sizes = sorted(len(p["jobs"]) for p in faults.params("DescribeJobs")[:2])
    assert sizes == [50, 100]


def test_tries_are_adopted_and_looked_up_later_when_aws_cannot_be_reached_during_adoption(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload, job_id = _left_behind(executor, world)
    faults.error("DescribeJobs", "ServerException", 500)

    not_adopted = successor.try_adopt_task_instances(
        [task_instance(workload, external_executor_id=workload.ti.external_executor_id)]
    )
    recorder = Recorder(successor)
    world.succeed(job_id)
    drive(successor, lambda: recorder.states(workload.ti.key))

    assert not_adopted == []
    assert recorder.states(workload.ti.key) == [TaskInstanceState.SUCCESS]
    assert faults.count("SubmitJob") == 1


def test_one_try_that_cannot_be_adopted_is_handed_back_and_the_others_are_adopted(
    executor: BatchRouterExecutor,
    successor: BatchRouterExecutor,
    world: BatchWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batch_router.executor import adoption

    good, bad = make_workload(task_id="good"), make_workload(task_id="bad")
    queue_all(executor, good, bad)
    drive(executor, lambda: len(world.job_ids()) == 2)
    executor.end()
    real = adoption.adopting_record

    def breaks_on_bad(plan: object, ti: object, *rest: object) -> object:
        if getattr(ti, "task_id", None) == "bad":
            raise TypeError("a row Airflow changed under us")
        return real(plan, ti, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(adoption, "adopting_record", breaks_on_bad)
    tis = [task_instance(w, external_executor_id=w.ti.external_executor_id) for w in (good, bad)]

    not_adopted = successor.try_adopt_task_instances(tis)

    assert [ti.task_id for ti in not_adopted] == ["bad"]
    assert successor._tracker.get(good.ti.key) is not None


def test_a_try_adopted_without_an_answer_that_has_no_job_is_submitted_not_failed(
    successor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batch_router.executor import workloads

    workload = make_workload()  # its scheduler died before submitting it: there is no job
    # The scheduler's row would give Airflow what ExecuteTask.make needs; the test's row does not.
    monkeypatch.setattr(workloads.ExecuteTask, "make", classmethod(lambda cls, ti, generator=None: workload))
    faults.error("DescribeJobs", "ServerException", 500)  # adoption cannot ask AWS
    recorder = Recorder(successor)

    not_adopted = successor.try_adopt_task_instances(
        [task_instance(workload, external_executor_id=workload.ti.external_executor_id)]
    )
    drive(successor, lambda: world.job_ids())

    assert not_adopted == []
    assert faults.count("SubmitJob") == 1
    assert TaskInstanceState.FAILED not in recorder.states(workload.ti.key)
    tags = world.describe(world.job_ids()[0])["tags"]
    assert tags["batch-router:try-id"] == workload.ti.external_executor_id


def test_a_try_whose_executor_config_no_longer_plans_is_found_in_any_routes_queue(
    world: BatchWorld, faults: Faults, set_option: Callable[..., None]
) -> None:
    workload, job_id = _sent_to_big_by_a_scheduler_that_died(world, set_option)
    successor = BatchRouterExecutor()
    successor.start()
    try:
        ti = task_instance(workload, external_executor_id=workload.ti.external_executor_id)
        ti.executor_config = {"route": "gone"}  # the route was removed from the table since
        successor.try_adopt_task_instances([ti])
        recorder = Recorder(successor)
        world.succeed(job_id)
        drive(successor, lambda: recorder.states(workload.ti.key))
    finally:
        successor.end()

    assert recorder.states(workload.ti.key) == [TaskInstanceState.SUCCESS]
    assert faults.count("SubmitJob") == 1


def test_a_try_revoked_while_its_job_is_looked_up_has_its_job_stopped(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload, job_id = _left_behind(executor, world)
    released = faults.hold("DescribeJobs")
    ti = task_instance(workload, external_executor_id=job_id)
    try:
        successor.try_adopt_task_instances([ti])
        successor.revoke_task(ti=ti)
    finally:
        released.set()
    drive(successor, lambda: world.stopped(job_id))

    assert world.stopped(job_id) == REVOKE_REASON
    assert workload.ti.key not in successor.running
    assert faults.count("SubmitJob") == 1


def test_a_try_revoked_while_adopting_has_its_job_stopped_in_whichever_route_queue_it_is(
    world: BatchWorld, faults: Faults, set_option: Callable[..., None]
) -> None:
    workload, job_id = _sent_to_big_by_a_scheduler_that_died(world, set_option)
    successor = BatchRouterExecutor()
    successor.start()
    released = faults.hold("DescribeJobs")
    try:
        ti = task_instance(workload, external_executor_id=workload.ti.external_executor_id)
        ti.executor_config = {"route": "gone"}  # no longer plans: its job may be in any route's queue
        successor.try_adopt_task_instances([ti])
        successor.revoke_task(ti=ti)
        released.set()
        drive(successor, lambda: world.stopped(job_id))
    finally:
        released.set()
        successor.end()

    assert world.stopped(job_id) == REVOKE_REASON


def test_an_adopted_id_naming_another_tries_job_is_not_tracked_as_this_one(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    other = make_workload(task_id="someone_else")
    queue_all(executor, other)
    other_job = drive(executor, lambda: world.job_ids())[0]
    executor.end()
    workload = make_workload()  # its row names the other try's job as its own

    successor.try_adopt_task_instances([task_instance(workload, external_executor_id=other_job)])
    recorder = Recorder(successor)
    world.succeed(other_job)
    drive(successor, lambda: recorder.states(workload.ti.key))

    # Not the other try's success: looked up by its own name, nothing found, and failed saying so.
    assert recorder.states(workload.ti.key) == [TaskInstanceState.FAILED]
    assert "no AWS Batch job named" in str(recorder.info(workload.ti.key)[0])
    assert faults.count("SubmitJob") == 1


def test_an_adopted_try_without_a_job_gets_every_attempt_it_is_owed(
    successor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dead scheduler's SubmitJob calls are unknown: none is counted against the try (issue 25, tries
    failed after two SubmitJob calls for 'gave up after 3 attempts, none of which made a job')."""
    from batch_router.executor import workloads

    workload = make_workload()
    monkeypatch.setattr(workloads.ExecuteTask, "make", classmethod(lambda cls, ti, generator=None: workload))
    faults.error("SubmitJob", "ServerException", 500, times=2)
    recorder = Recorder(successor)

    successor.try_adopt_task_instances(
        [task_instance(workload, external_executor_id=workload.ti.external_executor_id)]
    )
    drive(successor, lambda: world.job_ids())

    assert faults.count("SubmitJob") == 3  # MAX_SUBMIT_JOB_ATTEMPTS=3 calls, the third made the job
    assert TaskInstanceState.FAILED not in recorder.states(workload.ti.key)
