"""The benchmark harness works: its fake Batch API, its figures and a whole tiny run, end to end.

These check the harness, never the timings: the run uses a handful of tasks with almost no latency.
"""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from benchmarks.api import ApiConfig, no_full_collections
from benchmarks.executors import (
    BATCH_ROUTER,
    JOB_DEFINITION,
    JOB_QUEUE,
    REFERENCE,
    ExecutorSpec,
    batch_router_spec,
    executor_env,
    reference_spec,
)
from benchmarks.figures import FIGURES, check_targets, compute_figures, describe_floor, percentile
from benchmarks.harness import FakeApi
from benchmarks.latency_proxy import QuietGate, operation_of
from benchmarks.rate_limit import TokenBucket
from benchmarks.report import format_ratio, render_table
from benchmarks.worker import CollectionLog, api_quiet

ROOT = Path(__file__).resolve().parent.parent


# -- the rate limit -------------------------------------------------------------------------------------


def test_token_bucket_throttles_once_its_burst_is_spent() -> None:
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    assert [bucket.try_acquire(0.0) for _ in range(3)] == [True, True, False]


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=1, now=0.0)
    assert bucket.try_acquire(0.0)
    assert not bucket.try_acquire(0.05)
    assert bucket.try_acquire(0.1)


def test_token_bucket_saves_no_more_than_its_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    granted = [bucket.try_acquire(100.0) for _ in range(5)]
    assert granted.count(True) == 3


def test_operation_is_read_from_the_rest_path() -> None:
    assert operation_of("/v1/submitjob") == "SubmitJob"
    assert operation_of("/v1/describejobs?x=1") == "DescribeJobs"


# -- the figures ----------------------------------------------------------------------------------------


def test_percentile_is_always_a_measured_value() -> None:
    values = [0.3, 0.1, 0.2, 5.0]
    assert percentile(values, 99) in values
    assert percentile(values, 50) == sorted(values)[1]


def test_describe_floor_is_one_call_per_hundred_jobs() -> None:
    assert [describe_floor(n) for n in (1, 100, 101, 5000)] == [1, 1, 2, 50]


def _events(size: int, *, window_calls: int, window_ids: int) -> list[dict[str, Any]]:
    start = {"describe_calls": 7, "describe_ids": 40}
    end = {"describe_calls": 7 + window_calls, "describe_ids": 40 + window_ids}
    return [
        {"event": "ready", "at": 1.0, "rss_kib": 1000},
        {"event": "queued", "at": 1.0, "started": 1.0, "rss_kib": 1000},
        {"event": "heartbeat", "phase": "submit", "at": 1.1, "seconds": 0.1, "rss_kib": 1100, "failed": 0},
        {"event": "poll_window", "at": 2.0, "start": start, "end": end, "rss_kib": 1100},
        {"event": "done", "at": 3.0, "succeeded": size, "failed": 0, "rss_kib": 1100},
    ]


def test_describe_calls_per_poll_counts_calls_per_sweep_over_every_job() -> None:
    # Three polls over 250 jobs at 99 ids a call (3 calls each) are 9 calls for 750 ids.
    events = _events(250, window_calls=9, window_ids=750)
    figures = compute_figures(size=250, events=events, api={"now": 3.0}, rate_limit=50, wall_seconds=2)
    assert figures["describe_calls_per_poll"] == pytest.approx(3)


def test_submit_rate_runs_from_queueing_to_the_last_job_needed() -> None:
    api = {"now": 5.0, "submit_ok_at": [3.0, 2.0, 1.5, 4.5]}
    figures = compute_figures(
        size=3, events=_events(3, window_calls=1, window_ids=3), api=api, rate_limit=2, wall_seconds=4
    )
    assert figures["queue_to_all_submitted_s"] == pytest.approx(2.0)
    assert figures["submit_rate_pct_of_limit"] == pytest.approx(75)
    assert figures["duplicate_jobs"] == 1


def test_a_heartbeat_cut_short_by_the_time_cap_counts_as_long_as_it_ran() -> None:
    events = [
        {"event": "queued", "at": 1.0, "started": 1.0, "rss_kib": 1},
        {"event": "heartbeat_start", "phase": "submit", "at": 1.0, "rss_kib": 1},
    ]
    figures = compute_figures(size=10, events=events, api={"now": 31.0}, rate_limit=50, wall_seconds=30)
    assert figures["heartbeat_max_ms"] == pytest.approx(30_000)


def test_targets_that_could_not_be_measured_are_neither_met_nor_missed() -> None:
    targets = check_targets({f.key: None for f in FIGURES}, 5000)
    assert {t.met for t in targets} == {None}


def test_twenty_thousand_tries_are_judged_by_the_tighter_targets() -> None:
    figures = {
        "heartbeat_p99_ms": 25.0,
        "heartbeat_max_ms": 120.0,
        "submit_rate_pct_of_limit": 96.0,
        "describe_calls_per_poll": describe_floor(20000),
        "tasks_failed": 0,
        "tasks_lost": 0,
    }

    at_5k = {t.key: t.met for t in check_targets(figures, 5000)}
    at_20k = {t.key: t.met for t in check_targets(figures, 20000)}

    assert at_5k["heartbeat_p99_ms"] and at_5k["submit_rate_pct_of_limit"] and "heartbeat_max_ms" not in at_5k
    assert at_20k["heartbeat_p99_ms"] is False
    assert at_20k["heartbeat_max_ms"] is False
    assert at_20k["submit_rate_pct_of_limit"] is False
    assert at_20k["describe_calls_per_poll"] is True


def test_ratio_is_not_shown_when_the_reference_rounds_to_zero() -> None:
    assert format_ratio(0.004, 0.001, 2) == "-"
    assert format_ratio(2.0, 4.0, 1) == "0.50x"


def test_ratio_keeps_two_significant_digits_when_far_below_one() -> None:
    assert format_ratio(1.0, 2000.0, 1) == "0.0005x"


def test_table_says_why_an_executor_was_skipped() -> None:
    context = {"latency_ms": 50, "rate": 50, "burst": 5, "loop_interval": 1}
    runs = {
        REFERENCE: {"status": "ok", "message": "", "figures": {"tasks_failed": 0}},
        BATCH_ROUTER: {
            "status": "skipped",
            "message": "batch_router.executor is not importable",
            "figures": {},
        },
    }
    table = render_table(100, runs, context)
    run_row = next(line for line in table.splitlines() if line.startswith("run "))
    assert run_row.split()[1:] == ["ok", "skipped"]
    assert f"{BATCH_ROUTER}: skipped: batch_router.executor is not importable" in table.splitlines()


def test_an_executor_that_cannot_be_imported_is_reported_missing() -> None:
    assert ExecutorSpec("absent", "no_such_package.executor.Executor").missing_reason() is not None
    assert reference_spec().missing_reason() is None


def test_executor_env_drops_the_callers_aws_and_airflow_settings() -> None:
    base = {
        "AWS_PROFILE": "prod",
        "AIRFLOW__CORE__EXECUTOR": "x",
        "AIRFLOW_HOME": "/elsewhere",
        "PATH": "/bin",
    }
    env = executor_env(
        batch_router_spec(poll_interval=2),
        endpoint="http://127.0.0.1:1",
        parallelism=5,
        airflow_home="h",
        base=base,
    )
    assert "AWS_PROFILE" not in env
    assert env["AIRFLOW_HOME"] == "h"
    assert env["PATH"] == "/bin"
    assert env["AIRFLOW__AWS_BATCH_EXECUTOR__POLL_INTERVAL"] == "2"


def test_cpu_time_stolen_by_the_hypervisor_is_read_from_proc_stat(tmp_path: Path) -> None:
    from benchmarks.harness import cpu_times, stolen_percent

    stat = tmp_path / "stat"
    stat.write_text("cpu  600 0 200 1000 0 0 0 200 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    before = cpu_times(stat)
    stat.write_text("cpu  1000 0 300 1500 0 0 0 300 0 0\n")

    assert before == (200, 2000)
    assert stolen_percent(before, cpu_times(stat)) == round(100 * 100 / 1100, 2)


def test_stolen_cpu_is_unknown_where_proc_stat_is_not(tmp_path: Path) -> None:
    from benchmarks.harness import cpu_times, stolen_percent

    assert cpu_times(tmp_path / "absent") is None
    assert stolen_percent(None, (1, 2)) is None


# -- the fake Batch API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeApi]:
    config = ApiConfig(latency_ms=0, rate=2, burst=1, job_queue=JOB_QUEUE, job_definition=JOB_DEFINITION)
    with FakeApi(config, tmp_path_factory.mktemp("api") / "api.log") as api:
        yield api


@pytest.fixture
def batch(fake_api: FakeApi) -> Any:
    return boto3.client(
        "batch",
        endpoint_url=fake_api.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def _submit(batch: Any) -> str:
    response = batch.submit_job(
        jobName="bench",
        jobQueue=JOB_QUEUE,
        jobDefinition=JOB_DEFINITION,
        containerOverrides={"command": ["true"]},
    )
    return str(response["jobId"])


@pytest.mark.integration
def test_submit_job_above_the_rate_is_throttled_as_botocore_expects(batch: Any, fake_api: FakeApi) -> None:
    before = fake_api.stats()["submit_throttled"]
    with pytest.raises(ClientError) as raised:
        for _ in range(5):
            _submit(batch)
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert fake_api.stats()["submit_throttled"] == before + 1


@pytest.mark.integration
def test_jobs_stay_running_until_released(batch: Any, fake_api: FakeApi) -> None:
    time.sleep(1.0)  # a fresh token
    job_id = _submit(batch)
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
    request = urllib.request.Request(f"{fake_api.endpoint}/_bench/release", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "SUCCEEDED"


@pytest.mark.integration
def test_a_job_described_again_and_again_is_answered_the_same_way(batch: Any, fake_api: FakeApi) -> None:
    time.sleep(1.0)  # a fresh token
    overrides = {"command": ["true"], "environment": [{"name": "A", "value": "1"}]}
    response = batch.submit_job(
        jobName="bench", jobQueue=JOB_QUEUE, jobDefinition=JOB_DEFINITION, containerOverrides=overrides
    )
    answers = [
        batch.describe_jobs(jobs=[response["jobId"]])["jobs"][0]["container"]["environment"] for _ in range(3)
    ]
    assert answers[0] == answers[1] == answers[2]
    assert {"name": "A", "value": "1"} in answers[0]


def test_the_fake_api_process_makes_no_full_collection_however_many_objects_it_keeps() -> None:
    before, full = gc.get_threshold(), gc.get_stats()[2]["collections"]
    try:
        no_full_collections()
        kept = [[[] for _ in range(10)] for _ in range(100_000)]  # 1.1 million objects, as moto's jobs

        assert len(kept) == 100_000
        assert gc.get_stats()[2]["collections"] == full
    finally:
        gc.set_threshold(*before)


@pytest.mark.integration
def test_describe_jobs_calls_and_job_ids_are_counted(batch: Any, fake_api: FakeApi) -> None:
    before = fake_api.stats()
    batch.describe_jobs(jobs=["a" * 32, "b" * 32, "c" * 32])
    after = fake_api.stats()
    assert after["describe_calls"] - before["describe_calls"] == 1
    assert after["describe_ids"] - before["describe_ids"] == 3


@pytest.mark.integration
def test_describe_jobs_waits_at_the_quiet_gate_until_it_opens(batch: Any, fake_api: FakeApi) -> None:
    answered = threading.Event()
    api_quiet(fake_api.endpoint, 30)
    caller = threading.Thread(target=lambda: (batch.describe_jobs(jobs=["d" * 32]), answered.set()))
    caller.start()
    try:
        assert not answered.wait(0.5)
        assert fake_api.stats()["describe_in_flight"] == 0  # held before it is served, not in flight
    finally:
        api_quiet(fake_api.endpoint, 0)
    assert answered.wait(10)
    caller.join(10)


def test_the_quiet_gate_opens_by_itself_when_its_time_is_up() -> None:
    gate = QuietGate()
    gate.close_for(0.05)
    waiter = threading.Thread(target=gate.wait)
    waiter.start()
    waiter.join(10)

    assert not waiter.is_alive()


# -- a whole run ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", f"--output={output}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    document = json.loads(output.read_text()) if output.exists() else {}
    return done, document


def _run_of(document: dict[str, Any], executor: str) -> dict[str, Any]:
    runs = [run for run in document.get("runs", []) if run["executor"] == executor]
    assert len(runs) == 1, document
    run: dict[str, Any] = runs[0]
    return run


@pytest.mark.integration
def test_smoke_run_prints_one_table_with_both_executors(
    smoke_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    done, _ = smoke_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(rf"^figure\s+{REFERENCE}\s+{BATCH_ROUTER}\s", done.stdout, re.MULTILINE)
    for figure in FIGURES:
        assert figure.label in done.stdout


@pytest.mark.integration
def test_smoke_run_completes_every_task_with_the_reference_executor(
    smoke_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, document = smoke_run
    run = _run_of(document, REFERENCE)
    size = document["config"]["sizes"][0]
    assert run["status"] == "ok", run["message"]
    assert run["figures"]["tasks_failed"] == 0
    assert run["figures"]["tasks_lost"] == 0
    assert run["api"]["calls"]["SubmitJob"] >= size
    assert run["figures"]["heartbeat_p99_ms"] is not None


@pytest.mark.integration
def test_smoke_run_completes_every_task_with_batch_router(
    smoke_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, document = smoke_run
    run = _run_of(document, BATCH_ROUTER)
    if run["status"] == "skipped":
        pytest.skip(run["message"])
    assert run["status"] == "ok", run["message"]
    assert run["figures"]["tasks_failed"] == 0
    assert run["figures"]["tasks_lost"] == 0
    assert {t["key"] for t in run["targets"]} >= {"heartbeat_p99_ms", "describe_calls_per_poll"}


def test_the_checking_benchmark_compares_with_the_reference_and_refuses_every_hostile_input() -> None:
    from benchmarks import checks

    rows = checks.measure(count=10)  # raises if a hostile executor_config were planned, not refused
    names = [name for name, *_ in rows]
    assert names[0].startswith("reference AwsBatchExecutor")
    assert sum(name.startswith("refusing one executor_config") for name in names) == 5
    assert "median µs" in checks.render(rows)


def test_the_gc_freeze_benchmark_shows_the_frozen_heap_is_not_scanned() -> None:
    import gc

    from benchmarks import gc_freeze

    rows = gc_freeze.measure(rounds=1, tries=100)
    (_, unfrozen, *_), (_, frozen, *_) = rows
    assert frozen < unfrozen
    assert gc.get_freeze_count() == 0  # the benchmark leaves the process as it found it


def test_smoke_run_counts_what_each_executor_keeps_per_try(
    smoke_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    done, document = smoke_run
    runs = {run["executor"]: run for run in document["memory_runs"]}

    assert set(runs) == {REFERENCE, BATCH_ROUTER}
    for run in runs.values():
        assert run["status"] == "ok", run
        assert run["figures"]["kept_bytes_per_try"] > 0
        assert run["figures"]["top"]
        assert run["figures"]["describe_in_flight_at_count"] == 0
    assert "memory kept per tracked try" in done.stdout


def test_the_memory_table_judges_batch_router_against_one_kib() -> None:
    from benchmarks.memory import render_memory_table

    runs = [
        {"executor": REFERENCE, "size": 5000, "status": "ok", "figures": {"kept_bytes_per_try": 1400.0}},
        {"executor": BATCH_ROUTER, "size": 5000, "status": "ok", "figures": {"kept_bytes_per_try": 950.0}},
        {"executor": BATCH_ROUTER, "size": 20000, "status": "ok", "figures": {"kept_bytes_per_try": 1100.0}},
    ]

    lines = render_memory_table(runs).splitlines()
    assert "met" in lines[2].split() and "MISSED" in lines[3].split()
    assert "not run" in lines[3]


def test_the_memory_pass_reports_rss_growth_without_tracemalloc_tables() -> None:
    from benchmarks.memory import memory_figures, render_memory_table

    events = [
        {"event": "ready", "rss_kib": 100_000},
        {"event": "traced_memory", "bytes_per_try": 900.0, "top": [], "untraced_rss_kib": 110_240},
        {"event": "traced_memory", "bytes_per_try": 950.0, "top": [], "untraced_rss_kib": 130_000},
    ]

    figures = memory_figures(events, 5000)
    assert figures["kept_bytes_per_try"] == 900.0
    assert figures["rss_mib_per_1000_tasks"] == 10_240 / 1024 / 5000 * 1000
    table = render_memory_table(
        [{"executor": BATCH_ROUTER, "size": 5000, "status": "ok", "figures": figures}]
    )
    assert table.splitlines()[2].split()[-1] == "2.00"


def test_the_reference_is_not_run_above_its_size_cap(tmp_path: Path) -> None:
    from benchmarks.harness import RunOptions, run_all

    (record,) = run_all([reference_spec()], [20000], RunOptions(reference_max_size=5000), tmp_path)

    assert (record.status, record.size) == ("skipped", 20000)
    assert "up to N = 5,000" in record.message


def test_the_worker_logs_full_collections_with_the_thread_that_ran_them() -> None:
    log = CollectionLog(min_seconds=60.0)  # only generation 2 is logged, however fast
    gc.callbacks.append(log)
    try:
        gc.collect(0)
        gc.collect()
    finally:
        gc.callbacks.remove(log)

    logged = log.take()
    assert [entry["gen"] for entry in logged] == [2]
    assert logged[0]["thread"] == threading.current_thread().name
    assert log.take() == []


def test_the_worker_logs_the_cpu_time_a_collection_took_beside_its_wall_time() -> None:
    log = CollectionLog(min_seconds=60.0)
    gc.callbacks.append(log)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(log)

    (entry,) = log.take()
    assert 0 <= entry["cpu_ms"] <= entry["ms"] + 1.0  # thread CPU time ticks coarser than the clock


def test_the_memory_table_judges_the_event_path_in_a_column_of_its_own() -> None:
    from benchmarks.executors import BATCH_ROUTER_EVENTS
    from benchmarks.memory import render_memory_table

    runs = [
        {"executor": BATCH_ROUTER, "size": 20000, "status": "ok", "figures": {"kept_bytes_per_try": 900.0}},
        {
            "executor": BATCH_ROUTER_EVENTS,
            "size": 20000,
            "status": "ok",
            "figures": {"kept_bytes_per_try": 1100.0},
        },
    ]

    header, row = render_memory_table(runs).splitlines()[1:]
    assert BATCH_ROUTER_EVENTS in header
    assert "1,100" in row.split() and "MISSED" in row.split()
