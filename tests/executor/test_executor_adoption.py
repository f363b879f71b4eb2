"""Adoption after a scheduler died: by the job id it reported, or by the try's pre-assigned id when it
died before reporting. Nothing alive is submitted again; what cannot be found is handed back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from airflow.utils.state import TaskInstanceState
from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, make_workload, queue_all, task_instance

from batch_router.executor import BatchRouterExecutor


@pytest.fixture
def successor(default_route: str) -> Iterator[BatchRouterExecutor]:
    """The executor of the scheduler that starts after the first one died."""
    started = BatchRouterExecutor()
    started.start()
    yield started
    started.end()


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
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    executor.end()  # died before the job ran: the scheduler only has the pre-assigned id

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
    workload = make_workload()
    queue_all(executor, workload)
    first = drive(executor, lambda: world.job_ids())[0]
    executor.end()

    successor.try_adopt_task_instances(
        [task_instance(workload, external_executor_id=workload.ti.external_executor_id)]
    )
    world.fail(first, "CannotPullContainerError: manifest unknown", started=False)
    second = drive(successor, lambda: [j for j in world.job_ids() if j != first])[0]

    assert world.describe(second)["tags"]["batch-router:try-id"] == workload.ti.external_executor_id


def test_a_try_with_no_job_is_handed_back_to_the_scheduler(
    successor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    ti = task_instance(workload, external_executor_id=str(uuid.uuid4()))
    no_id = task_instance(make_workload(task_id="other"), external_executor_id=None)

    assert successor.try_adopt_task_instances([ti, no_id]) == [no_id, ti]
    assert workload.ti.key not in successor.running


def test_adoption_describes_at_most_100_ids_per_call(
    successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    tis = [
        task_instance(make_workload(task_id=f"t{i}"), external_executor_id=str(uuid.uuid4()))
        for i in range(150)
    ]

    not_adopted = successor.try_adopt_task_instances(tis)

    sizes = sorted(len(p["jobs"]) for p in faults.params("DescribeJobs"))
    assert sizes == [50, 100]
    assert len(not_adopted) == 150


def test_tries_are_adopted_and_looked_up_later_when_aws_cannot_be_reached_during_adoption(
    executor: BatchRouterExecutor, successor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    executor.end()
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
    real = adoption.adopted_record

    def breaks_on_bad(plan: object, ti: object, *rest: object) -> object:
        if getattr(ti, "task_id", None) == "bad":
            raise TypeError("a row Airflow changed under us")
        return real(plan, ti, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(adoption, "adopted_record", breaks_on_bad)
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
