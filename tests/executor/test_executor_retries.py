"""SubmitJob failures: throttling is paced and never costs the task; 5xx and network errors use attempts;
a request AWS refuses fails the task at once; a lost answer never makes a second job."""

from __future__ import annotations

import time

import pytest
from airflow.utils.state import TaskInstanceState
from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, events, make_workload, queue_all, tune

from batch_router.executor import BatchRouterExecutor


def test_throttling_never_fails_a_task_even_past_max_submit_job_attempts(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.error("SubmitJob", "TooManyRequestsException", 429, times=6)
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    drive(executor, lambda: world.job_ids())

    assert faults.count("SubmitJob") == 7
    assert TaskInstanceState.FAILED not in recorder.states(workload.ti.key)
    assert len(world.job_ids()) == 1


def test_throttling_pauses_submits_instead_of_hammering_the_api(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch
) -> None:
    tune(executor, retry_base_seconds=0.3)
    faults.error("SubmitJob", "ThrottlingException", 400, times=1)
    queue_all(executor, *(make_workload(task_id=f"t{i}") for i in range(3)))
    drive(executor, lambda: faults.count("SubmitJob") >= 1)
    for _ in range(20):  # 20 heartbeats well inside the pause
        executor.heartbeat()

    assert faults.count("SubmitJob") <= 4  # the calls already under way, none started after the throttle


def test_server_errors_are_retried_and_a_later_success_submits_one_job(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.error("SubmitJob", "ServerException", 500, times=2)
    workload = make_workload()
    queue_all(executor, workload)
    drive(executor, lambda: world.job_ids())

    assert faults.count("SubmitJob") == 3
    assert len(world.job_ids()) == 1


def test_server_errors_fail_the_task_after_max_submit_job_attempts(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.error("SubmitJob", "ServerException", 503, times=10)
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    drive(executor, lambda: TaskInstanceState.FAILED in recorder.states(workload.ti.key))

    assert faults.count("SubmitJob") == 3
    (info,) = recorder.info(workload.ti.key)
    assert "gave up after 3 attempts" in info and "ServerException" in info
    assert world.job_ids() == []


def test_a_refused_request_fails_the_task_at_once_with_the_reason_in_its_event_log(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.error("SubmitJob", "ClientException", 400, message="Job queue gone-queue does not exist")
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    drive(executor, lambda: TaskInstanceState.FAILED in recorder.states(workload.ti.key))

    assert faults.count("SubmitJob") == 1
    [(event, extra)] = events(executor, workload.ti.key)
    assert event == "batch-router: SubmitJob refused"
    assert "Job queue gone-queue does not exist" in extra
    assert "Job queue gone-queue does not exist" in recorder.info(workload.ti.key)[0]


def test_a_throttled_submit_is_sent_again_between_heartbeats(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, plan_here_budget_seconds=10.0)  # planned in this heartbeat
    faults.error("SubmitJob", "TooManyRequestsException", 429, times=2)
    queue_all(executor, make_workload())
    executor.heartbeat()

    deadline = time.monotonic() + 10
    while not world.job_ids() and time.monotonic() < deadline:
        time.sleep(0.02)  # no heartbeat: the API thread sends it again itself

    assert len(world.job_ids()) == 1
    assert faults.count("SubmitJob") == 3


def test_a_bad_executor_config_fails_only_that_task_before_any_call(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    bad = make_workload(task_id="bad", executor_config={"route": "no-such-route"})
    good = make_workload(task_id="good")
    queue_all(executor, bad, good)
    recorder = Recorder(executor)
    drive(executor, lambda: world.job_ids() and TaskInstanceState.FAILED in recorder.states(bad.ti.key))

    [(event, extra)] = events(executor, bad.ti.key)
    assert event == "batch-router: task not submitted"
    assert "no-such-route" in extra
    assert faults.count("SubmitJob") == 1
    assert world.describe(world.job_ids()[0])["tags"]["airflow:task_id"] == "good"


def test_a_bad_executor_config_fails_at_once_even_behind_many_tasks_waiting_to_be_submitted(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.delay = 0.5  # four API threads: about 8 SubmitJobs a second
    waiting = [make_workload(task_id=f"t{i}") for i in range(25)]  # within the fixture's parallelism
    bad = make_workload(task_id="bad", executor_config={"vcpu": "lots"})
    queue_all(executor, *waiting, bad)
    recorder = Recorder(executor)

    drive(executor, lambda: TaskInstanceState.FAILED in recorder.states(bad.ti.key), timeout=10)

    assert faults.count("SubmitJob") < len(waiting)
    faults.delay = 0.0
    drive(executor, lambda: len(world.job_ids()) == len(waiting))  # no call left running after the test


def test_a_lost_submit_answer_finds_the_job_instead_of_submitting_a_second_one(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.lose_response("SubmitJob")
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    drive(executor, lambda: faults.count("ListJobs") >= 1 and faults.count("DescribeJobs") >= 2)
    world.run(job_id)
    drive(executor, lambda: recorder.states(workload.ti.key))

    assert faults.count("SubmitJob") == 1
    assert world.job_ids() == [job_id]
    assert recorder.seen == [(workload.ti.key, TaskInstanceState.RUNNING, job_id)]


def test_a_lost_answer_on_the_last_attempt_still_finds_the_job(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults, set_option
) -> None:
    set_option(max_submit_job_attempts=1)
    fresh = BatchRouterExecutor()
    fresh.start()
    try:
        faults.lose_response("SubmitJob")
        workload = make_workload()
        queue_all(fresh, workload)
        recorder = Recorder(fresh)
        job_id = drive(fresh, lambda: world.job_ids())[0]
        drive(fresh, lambda: faults.count("ListJobs") >= 1 and faults.count("DescribeJobs") >= 2)
        world.succeed(job_id)
        drive(fresh, lambda: recorder.states(workload.ti.key))
    finally:
        fresh.end()

    assert recorder.states(workload.ti.key) == [TaskInstanceState.SUCCESS]
    assert faults.count("SubmitJob") == 1


def test_expired_credentials_keep_the_work_and_it_resumes_once_they_are_renewed(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.error(
        "*",
        "ExpiredTokenException",
        403,
        times=4,
        message="The security token included in the request is expired",
    )
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.succeed(job_id)
    drive(executor, lambda: recorder.states(workload.ti.key))

    assert recorder.states(workload.ti.key) == [TaskInstanceState.SUCCESS]
    assert faults.count("SubmitJob") == 5


def test_missing_credentials_never_escape_heartbeat(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    executor._client.reset()  # as after an expiry: the next call builds clients from the credential chain
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    for _ in range(30):
        executor.heartbeat()

    assert world.job_ids() == []
    assert recorder.states(workload.ti.key) == []
    assert workload.ti.key in executor.running


def test_look_ups_that_fail_after_a_lost_answer_cost_the_task_no_attempt(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.lose_response("SubmitJob")
    faults.error("ListJobs", "ServerException", 500, times=3)  # as many as MAX_SUBMIT_JOB_ATTEMPTS
    workload = make_workload()
    queue_all(executor, workload)
    first = drive(executor, lambda: world.job_ids())[0]
    drive(executor, lambda: faults.count("ListJobs") >= 4)  # three failed look-ups, then one that finds it
    drive(executor, lambda: executor._tracker.get(workload.ti.key).job_id == first)

    # The job dies before the task starts: one attempt (the lost submit) is used, so it is sent again.
    world.fail(first, "Host EC2 (instance i-0abc) terminated.", started=False)
    drive(executor, lambda: len(world.job_ids()) == 2)
