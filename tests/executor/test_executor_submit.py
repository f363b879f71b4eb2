"""Submitting: one job per try, reported running once with its job id, then success or failure."""

from __future__ import annotations

from airflow.utils.state import TaskInstanceState
from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, events, make_workload, queue_all

from batch_router.executor import BatchRouterExecutor


def test_submitted_job_is_reported_running_with_its_job_id_then_success(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    recorder = Recorder(executor)
    world.run(job_id)
    drive(executor, lambda: recorder.states(workload.ti.key))
    world.succeed(job_id)
    drive(executor, lambda: TaskInstanceState.SUCCESS in recorder.states(workload.ti.key))

    assert [(s, i) for k, s, i in recorder.seen if k == workload.ti.key] == [
        (TaskInstanceState.RUNNING, job_id),
        (TaskInstanceState.SUCCESS, None),
    ]
    assert workload.ti.key not in executor.running


def test_running_is_reported_once_however_often_the_job_is_polled(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id)
    recorder = Recorder(executor)
    polls = faults.count("DescribeJobs")
    drive(executor, lambda: faults.count("DescribeJobs") >= polls + 5)

    assert recorder.states(workload.ti.key) == [TaskInstanceState.RUNNING]


def test_the_job_runs_the_workload_command_with_the_workload_as_json(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]

    assert world.describe(job_id)["container"]["command"] == [
        "python",
        "-m",
        "airflow.sdk.execution_time.execute_workload",
        "--json-string",
        workload.model_dump_json(),
    ]


def test_the_job_is_tagged_with_the_pre_assigned_try_id(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]

    assert world.describe(job_id)["tags"]["batch-router:try-id"] == workload.ti.external_executor_id


def test_queued_task_counts_as_running_until_it_finishes(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    drive(executor, lambda: world.job_ids())

    assert workload.ti.key in executor.running
    assert workload.ti.key not in executor.queued_tasks


def test_job_failing_after_the_task_started_is_reported_failed_with_reason_exit_code_and_log_stream(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.fail(job_id, "Essential container in task exited", started=True, exit_code=1)
    recorder = Recorder(executor)
    drive(executor, lambda: TaskInstanceState.FAILED in recorder.states(workload.ti.key))

    (info,) = [i for i in recorder.info(workload.ti.key) if i]
    assert "Essential container in task exited" in info
    assert "exit code 1" in info
    assert f"/aws/batch/job/airflow-task/default/{job_id}" in info
    assert faults.count("SubmitJob") == 1
    assert [e for e, _ in events(executor, workload.ti.key)] == ["batch-router: job failed"]
