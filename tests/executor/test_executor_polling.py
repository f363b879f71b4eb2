"""Polling: DescribeJobs only for unfinished jobs, at most 100 ids a call, never empty, once per
POLL_INTERVAL; the scheduler's heartbeat never waits on AWS."""

from __future__ import annotations

import time
from typing import Any

from batch_world import BatchWorld, Faults
from executor_kit import drive, make_workload, queue_all, task_instance
from hypothesis import given
from hypothesis import strategies as st

from batch_router.aws.batch_client import BatchClient
from batch_router.executor import BatchRouterExecutor
from batch_router.executor.polling import SweepPacer


def test_describe_jobs_asks_about_at_most_100_jobs_per_call_and_covers_them_all(
    default_route: str, world: BatchWorld, faults: Faults
) -> None:
    executor = BatchRouterExecutor(parallelism=400)
    executor.start()
    try:
        queue_all(executor, *(make_workload(task_id=f"task-{i}") for i in range(230)))
        drive(executor, lambda: len(world.job_ids()) == 230, timeout=60)
        rounds_before = len(faults.params("DescribeJobs"))
        drive(executor, lambda: len(faults.params("DescribeJobs")) >= rounds_before + 6)
    finally:
        executor.end()

    sizes = [len(p["jobs"]) for p in faults.params("DescribeJobs")[rounds_before:]]
    assert max(sizes) <= 100
    assert min(sizes) >= 1
    polled = {job_id for p in faults.params("DescribeJobs")[rounds_before:] for job_id in p["jobs"]}
    assert polled == set(world.job_ids())


def test_finished_jobs_are_not_polled_and_nothing_is_polled_without_jobs(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    queue_all(executor, make_workload())
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.succeed(job_id)
    drive(executor, lambda: executor.event_buffer)
    polls = faults.count("DescribeJobs")
    for _ in range(50):
        executor.heartbeat()
        time.sleep(0.005)

    assert faults.count("DescribeJobs") == polls
    assert all(p["jobs"] for p in faults.params("DescribeJobs"))


def test_polls_are_paced_by_poll_interval_however_often_the_scheduler_heartbeats(
    world: BatchWorld, faults: Faults, default_route: str, set_option
) -> None:
    set_option(poll_interval=0.25)
    executor = BatchRouterExecutor()
    executor.start()
    try:
        queue_all(executor, make_workload())
        drive(executor, lambda: faults.count("DescribeJobs") >= 1)
        start, polls, beats = time.monotonic(), faults.count("DescribeJobs"), 0
        while time.monotonic() - start < 1.0:
            executor.heartbeat()
            beats += 1
            time.sleep(0.002)
        rounds = faults.count("DescribeJobs") - polls
    finally:
        executor.end()

    assert beats > 100
    assert 2 <= rounds <= 5  # one per 0.25 s in a second, with a little slack for timing


def test_heartbeat_returns_quickly_while_every_aws_call_takes_a_second(
    executor: BatchRouterExecutor, world: BatchWorld, faults: Faults
) -> None:
    queue_all(executor, make_workload(task_id="warm-up"))  # first planning loads models: CPU, not AWS
    drive(executor, lambda: world.job_ids())
    faults.delay = 1.0
    queue_all(executor, *(make_workload(task_id=f"task-{i}") for i in range(8)))
    slowest = 0.0
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        began = time.monotonic()
        executor.heartbeat()
        slowest = max(slowest, time.monotonic() - began)
        time.sleep(0.01)
    submitted = len(world.job_ids()) - 1
    faults.delay = 0.0
    time.sleep(1.1)  # let the calls under way finish while moto is still there

    assert submitted >= 4  # the work did get done, on the pool
    assert slowest < 0.25


# ---------------------------------------------------------------- a sweep paced by DESCRIBE_RATE_LIMIT


def test_a_sweep_sends_its_calls_at_the_describe_rate_limit_and_asks_about_every_job(
    default_route: str, world: BatchWorld, faults: Faults, set_option: Any
) -> None:
    set_option(describe_rate_limit=2)  # a sweep of 230 jobs is 3 calls: 2 at once, the third 0.5 s later
    executor = BatchRouterExecutor(parallelism=400)
    executor.start()
    try:
        queue_all(executor, *(make_workload(task_id=f"task-{i}") for i in range(230)))
        drive(executor, lambda: len(world.job_ids()) == 230, timeout=60)
        before = len(faults.params("DescribeJobs"))
        drive(executor, lambda: len(faults.params("DescribeJobs")) > before)  # the next sweep began
        first_burst = len(faults.params("DescribeJobs")) - before
        started = time.monotonic()
        drive(executor, lambda: len(faults.params("DescribeJobs")) >= before + 9, timeout=60)
        spread = time.monotonic() - started
    finally:
        executor.end()

    assert first_burst <= 2 and spread >= 2.5  # 9 calls at 2 a second, with a burst of 2
    sweeps: list[set[str]] = [set()]
    for params in faults.params("DescribeJobs")[before:]:
        if sweeps[-1] & set(params["jobs"]):  # a job asked about again: the next sweep began
            sweeps.append(set())
        sweeps[-1] |= set(params["jobs"])
    assert len(sweeps) >= 3
    assert all(sweep == set(world.job_ids()) for sweep in sweeps[1:-1])


def test_a_job_revoked_while_its_sweep_is_under_way_is_not_asked_about_later_in_it(
    default_route: str, world: BatchWorld, faults: Faults, set_option: Any
) -> None:
    set_option(describe_rate_limit=1)  # a sweep of 250 jobs is 3 calls, a second apart
    executor = BatchRouterExecutor(parallelism=400)
    executor.start()
    workloads = {w.ti.key: w for w in (make_workload(task_id=f"task-{i}") for i in range(250))}

    def calls_since(count: int) -> list[set[str]]:
        return [set(p["jobs"]) for p in faults.params("DescribeJobs")[count:]]

    try:
        queue_all(executor, *workloads.values())
        # Every job id applied to the tracker (a job moto has made may not be yet), then a sweep that
        # knew them all has ended: the next sweep's snapshot is all 250, in the tracker's order.
        drive(executor, lambda: len(executor._tracker.job_ids()) == 250, timeout=60)
        first_job, *_, next_to_last, last_job = executor._tracker.job_ids()  # a sweep's order
        known_all = len(faults.params("DescribeJobs"))
        drive(executor, lambda: any(last_job in jobs for jobs in calls_since(known_all)), timeout=30)
        before = len(faults.params("DescribeJobs"))
        drive(executor, lambda: any(first_job in jobs for jobs in calls_since(before)), timeout=30)
        sweep_began = len(faults.params("DescribeJobs"))  # its first call, a0..a99, is sent
        record = executor._tracker.by_job(last_job)
        assert record is not None
        executor.revoke_task(ti=task_instance(workloads[record.key], external_executor_id=None))
        drive(executor, lambda: any(next_to_last in jobs for jobs in calls_since(sweep_began)), timeout=30)
    finally:
        executor.end()

    (last_call,) = [jobs for jobs in calls_since(sweep_began) if next_to_last in jobs]
    assert last_job not in last_call and len(last_call) == 49


@given(
    rate=st.floats(min_value=0.1, max_value=50),
    steps=st.lists(st.floats(min_value=0, max_value=3), min_size=1, max_size=40),
    wanted=st.integers(min_value=1, max_value=500),
)
def test_the_sweep_pacer_keeps_to_its_rate_and_never_stops_granting(
    rate: float, steps: list[float], wanted: int
) -> None:
    pacer, now, granted = SweepPacer(rate, now=0.0), 0.0, 0
    for step in steps:
        now += step
        granted += pacer.take(now, wanted - granted)
    assert granted <= max(rate, 1.0) + rate * now + 1e-9  # one second's burst, then the rate
    while granted < wanted:  # whatever happened before, waiting always lets the rest go
        now += 1 / rate
        granted += pacer.take(now, wanted - granted)
    assert granted == wanted


def test_no_describe_rate_limit_sends_a_whole_sweep_at_once() -> None:
    assert SweepPacer(0.0).take(0.0, 200) == 200


def test_polling_goes_on_while_every_api_thread_waits_on_a_submit_job(
    world: BatchWorld, faults: Faults, default_route: str, set_option: Any
) -> None:
    set_option(poll_interval=0.1, api_concurrency=1)
    executor = BatchRouterExecutor()
    executor.start()
    release = faults.hold("SubmitJob")
    try:
        release.set()
        queue_all(executor, make_workload(task_id="polled"))
        drive(executor, lambda: world.job_ids())
        release.clear()  # from here on every SubmitJob holds the one API thread
        queue_all(executor, make_workload(task_id="waiting"))
        drive(executor, lambda: faults.count("SubmitJob") == 2)
        polls = faults.count("DescribeJobs")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            executor.heartbeat()
            time.sleep(0.02)
        polled_meanwhile = faults.count("DescribeJobs") - polls
    finally:
        release.set()
        executor.end()

    assert polled_meanwhile >= 3


def test_the_polls_answers_carry_a_jobs_id_and_status_and_a_failed_job_whole(world: BatchWorld) -> None:
    client = BatchClient(aws_conn_id=None, region_name="us-east-1")
    queue, definition = world.queue("q"), world.job_definition("jd")
    running, failed = (
        client.submit_job({"jobName": name, "jobQueue": queue, "jobDefinition": definition})
        for name in ("running", "failed")
    )
    world.run(running)
    world.fail(failed, "CannotPullContainerError: no such image", started=False)

    polled = client.describe_job_statuses([running, failed])

    assert polled[0] == {"jobId": running, "status": "RUNNING"}
    assert polled[1] == client.describe_jobs([failed])[0]
    assert polled[1]["statusReason"].startswith("CannotPullContainerError")


def test_every_other_read_keeps_the_full_description(world: BatchWorld) -> None:
    client = BatchClient(aws_conn_id=None, region_name="us-east-1")
    job_id = client.submit_job(
        {"jobName": "job-1", "jobQueue": world.queue("q"), "jobDefinition": world.job_definition("jd")}
    )
    world.run(job_id)
    client.describe_job_statuses([job_id])  # the poll's client is made and used first

    assert {"jobName", "container", "jobQueue"} <= set(client.describe_jobs([job_id])[0])
