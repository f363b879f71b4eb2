"""Tracking jobs: failures before the task started are submitted again with a fresh token; vanished jobs
fail; callbacks run on the default route."""

from __future__ import annotations

import uuid
from typing import Any

from airflow.executors.workloads import BundleInfo, ExecuteCallback
from airflow.executors.workloads.callback import CallbackDTO, CallbackFetchMethod
from airflow.models.callback import CallbackKey
from airflow.utils.state import CallbackState, TaskInstanceState
from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, events, make_workload, queue_all

from batch_router.executor import BatchRouterExecutor


def _token_of(world: BatchWorld, job_id: str) -> str:
    import json

    return json.loads(world.describe(job_id)["container"]["command"][-1])["token"]


def test_a_job_that_failed_before_the_task_started_is_submitted_again_with_a_fresh_token(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload(token="token-signed-at-queue-time")
    queue_all(executor, workload)
    first = drive(executor, lambda: world.job_ids())[0]
    world.fail(first, "CannotPullContainerError: pull access denied for apache/airflow", started=False)
    second = drive(executor, lambda: [j for j in world.job_ids() if j != first])[0]

    assert _token_of(world, first) == "token-signed-at-queue-time"
    assert _token_of(world, second) not in ("", "token-signed-at-queue-time")
    assert world.describe(second)["jobName"] == world.describe(first)["jobName"]
    assert world.describe(second)["tags"]["batch-router:try-id"] == workload.ti.external_executor_id
    [(event, extra)] = events(executor, workload.ti.key)
    assert event == "batch-router: resubmitting"
    assert "CannotPullContainerError" in extra


def test_a_host_lost_while_starting_counts_as_before_start(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    first = drive(executor, lambda: world.job_ids())[0]
    world.fail(first, "Host EC2 (instance i-0abc) terminated.", started=False)

    drive(executor, lambda: len(world.job_ids()) == 2)


def test_a_resubmitted_try_that_keeps_failing_before_start_fails_after_max_submit_job_attempts(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    failed: set[str] = set()

    def fail_new_jobs() -> bool:
        for job_id in set(world.job_ids()) - failed:
            failed.add(job_id)
            world.fail(job_id, "ResourceInitializationError: unable to pull secrets", started=False)
        return TaskInstanceState.FAILED in recorder.states(workload.ti.key)

    drive(executor, fail_new_jobs)

    assert len(world.job_ids()) == 3
    (info,) = recorder.info(workload.ti.key)
    assert "ResourceInitializationError" in info and "MAX_SUBMIT_JOB_ATTEMPTS=3 used up" in info


def test_a_job_seen_running_that_fails_is_not_submitted_again(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id)
    drive(executor, lambda: recorder.states(workload.ti.key))
    world.fail(job_id, "Host EC2 (instance i-0abc) terminated.", started=True)
    drive(executor, lambda: TaskInstanceState.FAILED in recorder.states(workload.ti.key))

    assert faults.count("SubmitJob") == 1


def test_a_job_batch_no_longer_knows_fails_with_that_reason(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.forget(job_id)
    drive(executor, lambda: TaskInstanceState.FAILED in recorder.states(workload.ti.key))

    (info,) = recorder.info(workload.ti.key)
    assert f"AWS Batch no longer knows job {job_id}" in info
    assert events(executor, workload.ti.key)[0][0] == "batch-router: job vanished"


def test_waiting_statuses_report_nothing(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    for status in ("PENDING", "RUNNABLE", "STARTING"):
        world.move(job_id, status)
        polls = faults.count("DescribeJobs")
        drive(executor, lambda polls=polls: faults.count("DescribeJobs") >= polls + 2)

    assert recorder.states(workload.ti.key) == []


def test_callbacks_run_as_jobs_on_the_default_route(executor: BatchRouterExecutor, world: BatchWorld) -> None:
    callback_id = str(uuid.uuid4())
    workload = ExecuteCallback(
        callback=CallbackDTO(
            id=callback_id,
            fetch_method=CallbackFetchMethod.IMPORT_PATH,
            data={"path": "alerts.notify_on_call", "kwargs": {}},
        ),
        dag_rel_path="dags/etl.py",
        token="t",
        log_path=f"executor_callbacks/etl/run/{callback_id}",
        bundle_info=BundleInfo(name="dags-folder"),
    )
    executor.queue_workload(workload, session=None)  # type: ignore[arg-type]
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.succeed(job_id)
    drive(executor, lambda: recorder.states(CallbackKey(id=callback_id)))

    job = world.describe(job_id)
    assert job["jobQueue"].endswith("/airflow-fargate")
    assert job["container"]["command"][-1] == workload.model_dump_json()
    assert CallbackState.SUCCESS in recorder.states(CallbackKey(id=callback_id))


# ---------------------------------------------------------------- retry_route


def _spot_routes(world: BatchWorld) -> str:
    import json

    definition = world.job_definition("worker-ec2", fargate=False)
    spot = {"name": "spot", "compute": "ec2", "job_queue": world.queue("spot-q", compute="SPOT")}
    on_demand = {"name": "on-demand", "compute": "ec2", "job_queue": world.queue("od-q", compute="EC2")}
    routes = [
        {**spot, "job_definition": definition, "retry_route": "on-demand"},
        {**on_demand, "job_definition": definition},
    ]
    return json.dumps({"version": 1, "routes": routes})


def _start_on_spot(world: BatchWorld, set_option: Any) -> BatchRouterExecutor:
    set_option(routes=_spot_routes(world), region_name="us-east-1", poll_interval=0.02)
    executor = BatchRouterExecutor()
    executor.start()
    return executor


def _spot_host_reclaimed(executor: BatchRouterExecutor, world: BatchWorld) -> tuple[Any, str, str]:
    """A try whose first job lost its Spot host before the task started: (workload, first, second job)."""
    workload = make_workload()
    queue_all(executor, workload)
    first = drive(executor, lambda: world.job_ids())[0]
    world.fail(first, "Host EC2 (instance i-0abc) terminated.", started=False)
    second = drive(executor, lambda: [j for j in world.job_ids() if j != first])[0]
    return workload, first, second


def test_a_job_whose_spot_host_was_reclaimed_before_start_is_resubmitted_on_the_retry_route(
    world: BatchWorld, set_option: Any
) -> None:
    executor = _start_on_spot(world, set_option)
    workload, first, second = _spot_host_reclaimed(executor, world)
    executor.end()

    assert world.describe(first)["jobQueue"].endswith("/spot-q")
    assert world.describe(second)["jobQueue"].endswith("/od-q")
    assert world.describe(second)["tags"]["batch-router:route"] == "on-demand"
    [(_, extra)] = events(executor, workload.ti.key)
    assert "submitted again on retry route 'on-demand'" in extra


def test_a_try_moved_to_its_retry_route_is_counted_there_and_no_longer_on_its_first_route(
    world: BatchWorld, set_option: Any
) -> None:
    executor = _start_on_spot(world, set_option)
    _, _, second = _spot_host_reclaimed(executor, world)
    drive(executor, lambda: executor._tracker.by_job(second))
    counts = executor._tracker.counts_by_route()
    world.succeed(second)
    drive(executor, lambda: not executor._tracker.counts_by_route())  # nothing left once it ended
    executor.end()

    assert counts == {"on-demand": {"pending": 0, "queued": 1, "running": 0}}


def test_a_job_that_failed_before_start_for_another_reason_is_resubmitted_on_the_same_route(
    world: BatchWorld, set_option: Any
) -> None:
    executor = _start_on_spot(world, set_option)
    queue_all(executor, make_workload())
    first = drive(executor, lambda: world.job_ids())[0]
    world.fail(first, "CannotPullContainerError: manifest unknown", started=False)
    second = drive(executor, lambda: [j for j in world.job_ids() if j != first])[0]
    executor.end()

    assert world.describe(second)["jobQueue"].endswith("/spot-q")


def test_an_airflow_retry_runs_on_the_retry_route(world: BatchWorld, set_option: Any) -> None:
    executor = _start_on_spot(world, set_option)
    queue_all(executor, make_workload(try_number=2))
    (job_id,) = drive(executor, lambda: world.job_ids())
    executor.end()

    assert world.describe(job_id)["jobQueue"].endswith("/od-q")


# ---------------------------------------------------------------- what a tracked try keeps


def test_a_tracked_try_keeps_no_workload_its_job_holds_it(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    drive(executor, lambda: world.job_ids())
    record = drive(executor, lambda: (r := executor._hub.tracker.get(workload.ti.key)) and r.job_id and r)

    assert record.payload is None


def test_a_tracked_try_shares_the_schedulers_key_object(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    drive(executor, lambda: world.job_ids())
    record = executor._hub.tracker.get(workload.ti.key)

    assert record is not None
    assert any(key is record.key for key in executor.running)


def test_a_taken_try_keeps_the_key_object_the_scheduler_queued_it_under(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    (queued_key,) = executor.queued_tasks
    executor.heartbeat()

    assert not executor.queued_tasks
    assert any(key is queued_key for key in executor.running)


def test_a_heartbeat_takes_the_highest_priority_tries_up_to_the_open_slots(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    low, high, middle = (make_workload(task_id=name) for name in ("low", "high", "middle"))
    for workload, weight in ((low, 1), (high, 10), (middle, 5)):
        workload.ti.priority_weight = weight
    executor.parallelism = len(executor.running) + 2
    queue_all(executor, low, high, middle)
    executor.heartbeat()

    assert [key.task_id for key in executor.queued_tasks] == ["low"]
    assert {key.task_id for key in executor.running} >= {"high", "middle"}


def test_a_workload_read_back_from_the_job_is_resubmitted_with_a_valid_token_for_the_same_task_instance(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    import json
    import os

    import jwt

    secret = os.environ["AIRFLOW__API_AUTH__JWT_SECRET"]  # the executor signs with it (conftest sets it)

    workload = make_workload(token="token-signed-at-queue-time")
    queue_all(executor, workload)
    first = drive(executor, lambda: world.job_ids())[0]
    world.fail(first, "CannotPullContainerError: manifest unknown", started=False)
    second = drive(executor, lambda: [j for j in world.job_ids() if j != first])[0]

    sent = json.loads(world.describe(second)["container"]["command"][-1])
    claims = jwt.decode(sent["token"], secret, algorithms=["HS512", "HS256"], options={"verify_aud": False})
    assert claims["sub"] == str(workload.ti.id)
    assert sent["ti"]["id"] == str(workload.ti.id)
    assert world.describe(second)["tags"]["batch-router:try-id"] == workload.ti.external_executor_id
