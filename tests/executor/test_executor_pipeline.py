"""The submit pipeline: planning is spread over heartbeats, and submits go on between heartbeats."""

from __future__ import annotations

import time

import pytest
from batch_world import BatchWorld, Faults
from executor_kit import make_workload, queue_all, task_instance

from batch_router.batch_client import BatchClient
from batch_router.executor import BatchRouterExecutor


def test_a_heartbeat_plans_only_what_fits_its_budget_and_the_rest_later(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BatchRouterExecutor, "PLAN_BUDGET_SECONDS", 0.0)  # one task per heartbeat
    workloads = [make_workload(task_id=f"t{i}") for i in range(5)]
    queue_all(executor, *workloads)
    executor.heartbeat()
    assert len(executor._tracker) == 1
    assert all(w.ti.key in executor.running for w in workloads)  # accepted, counted, not lost
    for _ in range(4):
        executor.heartbeat()
    assert len(executor._tracker) == 5


def test_submits_go_on_between_heartbeats_beyond_the_number_of_api_threads(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    faults.delay = 0.05  # every call takes a while, as on AWS
    workloads = [make_workload(task_id=f"t{i}") for i in range(12)]
    queue_all(executor, *workloads)
    executor.heartbeat()  # one heartbeat hands every planned submit to the pool ...
    deadline = time.monotonic() + 30
    while len(world.job_ids()) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)  # ... and no further heartbeat is needed for them to reach Batch
    assert len(world.job_ids()) == 12


def test_a_revoked_task_that_was_never_planned_is_dropped(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BatchRouterExecutor, "PLAN_BUDGET_SECONDS", 0.0)
    first, second = make_workload(task_id="a"), make_workload(task_id="b")
    queue_all(executor, first, second)
    executor.heartbeat()  # plans "a" only
    executor.revoke_task(ti=task_instance(second, external_executor_id=None))
    for _ in range(3):
        executor.heartbeat()
    assert second.ti.key not in executor.running
    assert executor._tracker.get(second.ti.key) is None


def test_the_submit_rate_limit_paces_submit_job_with_botocores_token_bucket() -> None:
    client = BatchClient(aws_conn_id=None, region_name="us-east-1", submit_rate_limit=7.0)
    assert client.submit_bucket is not None
    assert client.submit_bucket.max_rate == 7.0


def test_no_submit_rate_limit_leaves_pacing_to_botocores_adaptive_mode() -> None:
    assert BatchClient(aws_conn_id=None, region_name="us-east-1", submit_rate_limit=0).submit_bucket is None
