"""The pipeline: results are applied within a budget per heartbeat, and submits go on between heartbeats."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from batch_world import BatchWorld, Faults
from executor_kit import drive, make_workload, queue_all, task_instance, tune

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError
from batch_router.executor import BatchRouterExecutor
from batch_router.executor.try_record import Stage


def wait_for_planning(executor: BatchRouterExecutor) -> None:
    deadline = time.monotonic() + 10
    while not executor._hub.channel.answered and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_heartbeat_applies_only_what_fits_its_budget_and_the_rest_later(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, apply_budget_seconds=0.0)  # one result per heartbeat
    tune(executor, plan_here_budget_seconds=0.0)  # all via the planning thread
    workloads = [make_workload(task_id=f"t{i}") for i in range(5)]
    queue_all(executor, *workloads)
    executor.heartbeat()  # hands all five to the planning thread
    wait_for_planning(executor)
    sizes = []
    for _ in range(8):
        executor.heartbeat()
        sizes.append(len(executor._tracker))
        assert all(w.ti.key in executor.running for w in workloads)  # accepted, counted, not lost
    assert sizes[-1] == 5
    assert all(later - earlier <= 1 for earlier, later in itertools.pairwise(sizes))


def test_submits_go_on_between_heartbeats_beyond_the_number_of_api_threads(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, apply_budget_seconds=10.0)  # a slow machine applies all
    tune(executor, dispatch_budget_seconds=10.0)  # and hands all over
    tune(executor, plan_here_budget_seconds=10.0)  # planned in the heartbeat
    faults.delay = 0.05  # every call takes a while, as on AWS
    workloads = [make_workload(task_id=f"t{i}") for i in range(12)]
    queue_all(executor, *workloads)
    executor.heartbeat()  # one heartbeat plans every task and hands every submit to the pool ...
    deadline = time.monotonic() + 30
    while len(world.job_ids()) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)  # ... and no further heartbeat is needed for them to reach Batch
    assert len(world.job_ids()) == 12


def test_a_revoked_task_that_was_never_planned_is_dropped(
    executor: BatchRouterExecutor, world: BatchWorld
) -> None:
    first, second = make_workload(task_id="a"), make_workload(task_id="b")
    queue_all(executor, first, second)
    executor.trigger_tasks(open_slots=10)  # accepted, not yet handed to the planning thread
    executor.revoke_task(ti=task_instance(second, external_executor_id=None))
    drive(executor, lambda: world.job_ids())
    for _ in range(3):
        executor.heartbeat()
    assert second.ti.key not in executor.running
    assert executor._tracker.get(second.ti.key) is None
    assert len(world.job_ids()) == 1


def test_a_task_revoked_while_it_is_being_planned_is_dropped(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, plan_here_budget_seconds=0.0)  # all to the planning thread
    first, second = make_workload(task_id="a"), make_workload(task_id="b")
    queue_all(executor, first, second)
    executor.heartbeat()  # both are on the planning thread now, or already planned
    executor.revoke_task(ti=task_instance(second, external_executor_id=None))
    drive(executor, lambda: world.job_ids())
    for _ in range(3):
        executor.heartbeat()
    assert executor._tracker.get(second.ti.key) is None
    assert len(world.job_ids()) == 1


def test_the_submit_rate_limit_paces_submit_job() -> None:
    client = BatchClient(aws_conn_id=None, region_name="us-east-1", submit_rate_limit=7.0)
    assert client.submit_pacer is not None
    assert client.submit_pacer.rate == 7.0


class CountingPacer:
    def __init__(self) -> None:
        self.taken = 0

    def acquire(self) -> None:
        self.taken += 1


def test_a_submit_slot_is_taken_as_the_request_is_sent_not_before_it_is_built(world: BatchWorld) -> None:
    import botocore.exceptions

    client = BatchClient(aws_conn_id=None, region_name="us-east-1", submit_rate_limit=50.0)
    bucket = CountingPacer()
    client.submit_pacer = bucket  # type: ignore[assignment]
    queue, definition = world.queue("q"), world.job_definition("jd")

    with pytest.raises(BatchApiError) as refused:  # botocore refuses it before sending: no token
        client.submit_job({"jobQueue": queue, "jobDefinition": definition})
    assert isinstance(refused.value.__cause__, botocore.exceptions.ParamValidationError)
    assert bucket.taken == 0

    job_id = client.submit_job({"jobName": "job-1", "jobQueue": queue, "jobDefinition": definition})
    client.describe_jobs([job_id])
    assert bucket.taken == 1  # one SubmitJob sent; DescribeJobs takes none


def test_a_submit_rate_limit_below_half_a_call_per_second_is_kept() -> None:
    client = BatchClient(aws_conn_id=None, region_name="us-east-1", submit_rate_limit=0.2)
    assert client.submit_pacer is not None
    assert client.submit_pacer.rate == 0.2


def test_no_submit_rate_limit_leaves_pacing_to_botocores_adaptive_mode() -> None:
    assert BatchClient(aws_conn_id=None, region_name="us-east-1", submit_rate_limit=0).submit_pacer is None


def test_a_heartbeat_hands_over_only_what_fits_its_dispatch_budget_and_the_rest_later(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, dispatch_budget_seconds=0.0)  # one submit per heartbeat
    tune(executor, apply_budget_seconds=10.0)
    tune(executor, plan_here_budget_seconds=10.0)  # however slow the machine
    queue_all(executor, *(make_workload(task_id=f"t{i}") for i in range(4)))
    executor.heartbeat()  # plans all four here and hands over one
    assert [r.stage for r in executor._tracker].count(Stage.PENDING) == 3
    drive(executor, lambda: len(world.job_ids()) == 4)


def test_a_task_that_arrives_alone_is_submitted_in_the_heartbeat_that_accepted_it(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, plan_here_budget_seconds=10.0)  # however slow the machine
    queue_all(executor, make_workload())
    executor.heartbeat()
    deadline = time.monotonic() + 10
    while not world.job_ids() and time.monotonic() < deadline:
        time.sleep(0.02)  # no second heartbeat
    assert len(world.job_ids()) == 1


def test_a_burst_is_planned_off_the_scheduler_thread_beyond_a_few_tries(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, plan_here_budget_seconds=0.0)
    workloads = [make_workload(task_id=f"t{i}") for i in range(20)]
    queue_all(executor, *workloads)
    executor.heartbeat()
    assert len(executor._tracker) == 0
    assert set(executor._intake.planning) == {w.ti.key for w in workloads}
    drive(executor, lambda: len(world.job_ids()) == 20)


def test_reads_retry_in_botocores_standard_mode_unless_retry_mode_says_otherwise(
    default_route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batch_router.config.settings import load_settings

    made: dict[str, Any] = {}
    client = BatchClient(
        aws_conn_id=None,
        region_name="us-east-1",
        retry_mode=load_settings(None).retry_mode,
        make_client=lambda service, config: made.setdefault("read", config),
    )
    client._make("read")
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__RETRY_MODE", "adaptive")

    assert made["read"].retries["mode"] == "standard"
    assert load_settings(None).retry_mode == "adaptive"


def test_the_default_budgets_of_one_heartbeat_add_up_to_less_than_its_p99_target() -> None:
    from batch_router.config.settings import ExecutorSettings
    from batch_router.config.tunables import Tunables

    for tunables in (Tunables(), Tunables.from_settings(ExecutorSettings())):
        spent = (
            tunables.apply_budget_seconds
            + tunables.dispatch_budget_seconds
            + tunables.plan_here_budget_seconds
        )
        assert spent < 0.020  # the benchmark's heartbeat p99 target (docs/performance.md)
