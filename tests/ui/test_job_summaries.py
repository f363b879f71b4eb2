"""What the page computes from job summaries: counts, waits, the blocking job, the charts."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from batch_router.ui.job_summaries import (
    STATUSES,
    blocking_job,
    chart,
    count_by_status,
    ran_seconds,
    wait_stats,
    waited_seconds,
)

NOW = 10_000_000
MINUTE = 60_000


def job(
    status: str, created: int, started: int | None = None, stopped: int | None = None, **extra: Any
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "jobId": f"j{created}{status}",
        "status": status,
        "createdAt": created,
        **extra,
    }
    if started is not None:
        summary["startedAt"] = started
    if stopped is not None:
        summary["stoppedAt"] = stopped
    return summary


def test_every_status_is_counted_even_when_none_has_jobs() -> None:
    counts = count_by_status([job("RUNNING", 1, 2), job("RUNNING", 3, 4), job("FAILED", 1, None, 5)])
    assert list(counts)[: len(STATUSES)] == list(STATUSES)
    assert counts["RUNNING"] == 2 and counts["FAILED"] == 1 and counts["RUNNABLE"] == 0


def test_a_job_still_waiting_has_waited_until_now_and_one_that_never_started_not_at_all() -> None:
    assert waited_seconds(job("RUNNABLE", NOW - 90_000), NOW) == 90
    assert waited_seconds(job("RUNNING", NOW - 90_000, NOW - 30_000), NOW) == 60
    assert waited_seconds(job("FAILED", NOW - 90_000, None, NOW - 1), NOW) is None


def test_a_running_job_has_run_until_now_and_an_ended_one_until_it_stopped() -> None:
    assert ran_seconds(job("RUNNING", 0, NOW - 5_000), NOW) == 5
    assert ran_seconds(job("SUCCEEDED", 0, NOW - 5_000, NOW - 2_000), NOW) == 3


def test_wait_statistics_count_only_jobs_started_in_the_window() -> None:
    jobs = [job("RUNNING", NOW - 100_000 - i * 1000, NOW - 100_000) for i in range(10)]
    jobs.append(job("SUCCEEDED", 0, 1000, 2000))  # started long before the window
    stats = wait_stats(jobs, since_ms=NOW - 200_000)
    assert stats.jobs == 10
    assert stats.longest == 9
    assert stats.p50 is not None and 4 <= stats.p50 <= 5


def test_the_blocking_job_is_the_oldest_runnable_one_with_a_documented_reason() -> None:
    reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job requires more vCPUs than the queue allows."
    older = job("RUNNABLE", 100, statusReason=reason)
    newer = job("RUNNABLE", 200, statusReason=reason)
    no_reason = job("RUNNABLE", 50)
    assert blocking_job([newer, no_reason, older]) is older
    assert blocking_job([no_reason]) is None


def test_the_chart_shows_a_job_waiting_then_running_then_ended_in_its_interval() -> None:
    created, started, stopped = NOW - 50 * MINUTE, NOW - 30 * MINUTE, NOW - 12 * MINUTE
    drawn = chart([job("FAILED", created, started, stopped)], NOW, 60 * MINUTE, 5 * MINUTE)
    at = {t: i for i, t in enumerate(drawn.times)}
    assert drawn.series["waiting"][at[NOW - 45 * MINUTE]] == 1
    assert drawn.series["running"][at[NOW - 20 * MINUTE]] == 1
    assert drawn.series["failed"][at[NOW - 10 * MINUTE]] == 1
    assert sum(drawn.series["failed"]) == 1
    assert drawn.series["running"][-1] == 0 and drawn.series["waiting"][-1] == 0


@st.composite
def summaries(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(st.integers(NOW - 90 * MINUTE, NOW))
    started = draw(st.none() | st.integers(created, NOW))
    stopped = draw(st.none() | st.integers(started or created, NOW))
    status = (
        "RUNNING"
        if stopped is None and started
        else "RUNNABLE"
        if stopped is None
        else draw(st.sampled_from(["SUCCEEDED", "FAILED"]))
    )
    return job(status, created, started, stopped)


@given(st.lists(summaries(), max_size=30))
def test_at_every_moment_each_job_that_exists_and_has_not_ended_is_either_waiting_or_running(
    jobs: list[dict[str, Any]],
) -> None:
    drawn = chart(jobs, NOW, 60 * MINUTE, 5 * MINUTE)
    for i, t in enumerate(drawn.times):
        alive = sum(
            1 for j in jobs if j["createdAt"] <= t and (j.get("stoppedAt") is None or j["stoppedAt"] > t)
        )
        assert drawn.series["waiting"][i] + drawn.series["running"][i] == alive
    ended_in_window = sum(
        1 for j in jobs if j.get("stoppedAt") is not None and j["stoppedAt"] > drawn.times[0] - 5 * MINUTE
    )
    assert sum(drawn.series["succeeded"]) + sum(drawn.series["failed"]) == ended_in_window
