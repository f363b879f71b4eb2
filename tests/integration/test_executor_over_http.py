"""The executor against moto_server over HTTP, with faults injected on the wire by a proxy."""

from __future__ import annotations

import time

import pytest
from airflow.utils.state import TaskInstanceState
from batch_world import BatchWorld
from executor_kit import Recorder, drive, make_workload, queue_all, task_instance
from fault_proxy import FaultProxy

from batch_router.executor import BatchRouterExecutor

pytestmark = pytest.mark.integration


def test_a_task_runs_to_success_over_http_and_its_logs_are_served(
    executor: BatchRouterExecutor, world: BatchWorld, proxy: FaultProxy
) -> None:
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.run(job_id, ["task says hi"])
    drive(executor, lambda: recorder.states(workload.ti.key))
    _, lines = BatchRouterExecutor().get_task_log(task_instance(workload, external_executor_id=job_id), 1)
    world.succeed(job_id)
    drive(executor, lambda: TaskInstanceState.SUCCESS in recorder.states(workload.ti.key))

    assert recorder.seen == [
        (workload.ti.key, TaskInstanceState.RUNNING, job_id),
        (workload.ti.key, TaskInstanceState.SUCCESS, None),
    ]
    assert lines == ["task says hi"]
    assert proxy.count("SubmitJob") == 1


def test_throttling_on_the_wire_never_fails_the_task(
    executor: BatchRouterExecutor, world: BatchWorld, proxy: FaultProxy
) -> None:
    proxy.error("SubmitJob", 429, "TooManyRequestsException", times=5)
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    drive(executor, lambda: world.job_ids())

    assert proxy.count("SubmitJob") == 6
    assert TaskInstanceState.FAILED not in recorder.states(workload.ti.key)


def test_a_connection_closed_after_the_submit_reached_batch_makes_no_second_job(
    executor: BatchRouterExecutor, world: BatchWorld, proxy: FaultProxy
) -> None:
    proxy.drop_answer("SubmitJob")
    workload = make_workload()
    queue_all(executor, workload)
    recorder = Recorder(executor)
    job_id = drive(executor, lambda: world.job_ids())[0]
    drive(executor, lambda: proxy.count("ListJobs") >= 1 and proxy.count("DescribeJobs") >= 2)
    world.run(job_id)
    drive(executor, lambda: recorder.states(workload.ti.key))

    assert proxy.count("SubmitJob") == 1
    assert world.job_ids() == [job_id]


def test_heartbeat_stays_fast_while_the_endpoint_takes_a_second_per_call(
    executor: BatchRouterExecutor, world: BatchWorld, proxy: FaultProxy
) -> None:
    queue_all(executor, make_workload(task_id="warm-up"))  # first planning loads models: CPU, not AWS
    drive(executor, lambda: world.job_ids())
    proxy.delay = 1.0
    queue_all(executor, *(make_workload(task_id=f"task-{i}") for i in range(6)))
    slowest, deadline = 0.0, time.monotonic() + 2.5
    while time.monotonic() < deadline:
        began = time.monotonic()
        executor.heartbeat()
        slowest = max(slowest, time.monotonic() - began)
        time.sleep(0.01)
    proxy.delay = 0.0
    drive(executor, lambda: len(world.job_ids()) == 7)

    assert slowest < 0.25
