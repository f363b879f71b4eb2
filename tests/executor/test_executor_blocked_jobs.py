"""Jobs that wait: AWS Batch's documented reason a RUNNABLE job blocks its queue, told where people look,
and a try failed at once where waiting can never end it; the consumable resources a job waits for
(issue 27)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, events, make_workload, queue_all

from batch_router.executor import BatchRouterExecutor
from batch_router.executor.task_notes import NOTES_SUFFIX

CAPACITY = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for "
    "instance type [p4d.24xlarge]"
)
TOO_BIG = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher "
    "than that can be met by the CE(s) attached to the job queue."
)


def _submitted(executor: BatchRouterExecutor, task_id: str = "task") -> tuple[Any, str]:
    workload = make_workload(task_id=task_id)
    queue_all(executor, workload)
    job_id = drive(executor, lambda: (r := executor._tracker.get(workload.ti.key)) and r.job_id)
    return workload.ti.key, job_id


def test_a_job_blocked_for_capacity_stays_queued_and_its_event_log_says_why_and_what_to_change(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    key, job_id = _submitted(executor)
    world.block(job_id, CAPACITY)

    said = drive(executor, lambda: [extra for event, extra in events(executor, key) if "waiting" in event])

    assert CAPACITY in said[0] and "route 'default'" in said[0] and "instance_types" in said[0]
    assert executor._tracker.get(key) is not None and not Recorder(executor).states(key)
    assert world.stopped(job_id) is None


def test_the_tries_log_pane_says_why_its_job_waits(
    executor: BatchRouterExecutor, world: BatchWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path))
    key, job_id = _submitted(executor)
    world.block(job_id, CAPACITY)
    drive(executor, lambda: [e for e, _ in events(executor, key) if "waiting" in e])

    (notes,) = tmp_path.rglob(f"attempt={key.try_number}.log{NOTES_SUFFIX}")
    assert CAPACITY in json.loads(notes.read_text().splitlines()[0])["event"]
    assert f"task_id={key.task_id}" in str(notes)


def test_the_same_reason_seen_again_is_told_once(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    key, job_id = _submitted(executor)
    world.block(job_id, CAPACITY)
    drive(executor, lambda: [e for e, _ in events(executor, key) if "waiting" in e])
    polls = faults.count("DescribeJobs")

    drive(executor, lambda: faults.count("DescribeJobs") >= polls + 5)  # five more sweeps see it

    assert len([e for e, _ in events(executor, key) if "waiting" in e]) == 1


def test_a_job_that_can_never_run_on_its_queue_fails_its_try_at_once_and_is_cancelled(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    key, job_id = _submitted(executor)
    recorder = Recorder(executor)
    world.block(job_id, TOO_BIG)

    drive(executor, lambda: "failed" in recorder.states(key))

    (info,) = recorder.info(key)
    assert TOO_BIG in info and "max_vcpu" in info and "cancelled the job" in info
    drive(executor, lambda: world.stopped(job_id))
    assert "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" in str(world.stopped(job_id))
    assert [e for e, _ in events(executor, key)] == ["batch-router: job cannot run"]


def test_a_reason_that_goes_away_leaves_the_job_waiting_like_any_other(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    key, job_id = _submitted(executor)
    world.block(job_id, CAPACITY)
    drive(executor, lambda: (r := executor._tracker.get(key)) and r.blocked)
    world.block(job_id, None)

    drive(executor, lambda: (r := executor._tracker.get(key)) and r.status == "RUNNABLE" and not r.blocked)
    recorder = Recorder(executor)
    world.succeed(job_id)

    drive(executor, lambda: "success" in recorder.states(key))
    assert not [e for e, _ in events(executor, key) if "cannot run" in e]


def test_blocked_jobs_are_a_gauge_per_route_and_reason(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    key, job_id = _submitted(executor)
    world.block(job_id, CAPACITY)

    drive(executor, lambda: (r := executor._tracker.get(key)) and r.blocked)

    counts = executor._tracker.counts_by_route()["default"]
    assert counts["blocked:CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"] == 1 and counts["queued"] == 1


def _limited_routes(world: BatchWorld) -> str:
    queue = world.queue("airflow-limited")
    route = {
        "name": "limited",
        "compute": "fargate",
        "job_queue": queue,
        "job_definition": world.job_definition("airflow-task"),
        "wait_limits": {"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 3600},
    }
    return json.dumps({"version": 1, "routes": [route]})


def test_a_job_its_queues_wait_limit_cancelled_fails_naming_the_reason_and_the_limit_and_is_not_sent_again(
    world: BatchWorld, set_option: Callable[..., None]
) -> None:
    set_option(routes=_limited_routes(world), region_name="us-east-1", poll_interval=0.02)
    executor = BatchRouterExecutor()
    executor.start()
    try:
        key, job_id = _submitted(executor)
        recorder = Recorder(executor)
        world.cancel_for_wait_limit(job_id, "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")

        drive(executor, lambda: "failed" in recorder.states(key))
    finally:
        executor.end()

    (info,) = recorder.info(key)
    assert (
        "route 'limited''s wait limit of 3600 s" in info and "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" in info
    )
    assert world.job_ids() == [job_id]
    assert [e for e, _ in events(executor, key)] == ["batch-router: wait limit reached"]


def test_a_tasks_consumable_resources_reach_submit_job_as_the_route_offers_them(
    world: BatchWorld, faults: Faults, set_option: Callable[..., None]
) -> None:
    queue = world.queue("airflow-licensed")
    route = {
        "name": "licensed",
        "compute": "fargate",
        "job_queue": queue,
        "job_definition": world.job_definition("airflow-task"),
        "consumable_resources": {"licence-x": {"quantity": 1, "max": 4}},
    }
    set_option(routes=json.dumps({"version": 1, "routes": [route]}), region_name="us-east-1")
    executor = BatchRouterExecutor()
    executor.start()
    try:
        workload = make_workload(
            task_id="licensed", executor_config={"consumable_resources": {"licence-x": 3}}
        )
        queue_all(executor, workload)
        drive(executor, lambda: faults.count("SubmitJob") >= 1)
    finally:
        executor.end()

    (sent,) = faults.params("SubmitJob")
    assert sent["consumableResourcePropertiesOverride"] == {
        "consumableResourceList": [{"consumableResource": "licence-x", "quantity": 3}]
    }
