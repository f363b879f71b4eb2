"""What the Batch routes page says about a route's jobs, from ListJobs summaries alone (pure).

A job summary (API_JobSummary) carries its status, status reason, exit code and the times it was
created, started and stopped: enough for counts, waits, run times, the reason a queue is blocked and
the charts, without one DescribeJobs call per job. The charts are rebuilt from those times, so the page
needs no history of its own: at any past moment a job was waiting (created, not yet started), running
(started, not yet stopped), or it ended in the interval before (SUCCEEDED / FAILED).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch_router.aws.blocked_reasons import blocked

__all__ = [
    "ACTIVE_STATUSES",
    "STATUSES",
    "Chart",
    "WaitStats",
    "blocking_job",
    "chart",
    "count_by_status",
    "ran_seconds",
    "wait_stats",
    "waited_seconds",
]

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
ACTIVE_STATUSES = STATUSES[:5]
SERIES = ("waiting", "running", "succeeded", "failed")


def _ms(summary: Mapping[str, Any], key: str) -> int | None:
    value = summary.get(key)
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def count_by_status(summaries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Jobs per Batch status, every status present (0 when none); a status a newer API adds is counted too."""
    counts = dict.fromkeys(STATUSES, 0)
    for summary in summaries:
        status = str(summary.get("status", "UNKNOWN"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def waited_seconds(summary: Mapping[str, Any], now_ms: int) -> float | None:
    """From creation to start: how long the job waited (SUBMITTED to RUNNABLE to STARTING); a job not
    started yet has waited until now; one that ended without starting never ran, so None."""
    created, started = _ms(summary, "createdAt"), _ms(summary, "startedAt")
    if created is None:
        return None
    if started is not None:
        return max(0.0, (started - created) / 1000)
    if summary.get("status") in ACTIVE_STATUSES:
        return max(0.0, (now_ms - created) / 1000)
    return None


def ran_seconds(summary: Mapping[str, Any], now_ms: int) -> float | None:
    started, stopped = _ms(summary, "startedAt"), _ms(summary, "stoppedAt")
    if started is None:
        return None
    return max(0.0, ((stopped or now_ms) - started) / 1000)


@dataclass(frozen=True)
class WaitStats:
    """Time from creation to start of the jobs that started in the window (seconds)."""

    jobs: int
    p50: float | None
    p90: float | None
    longest: float | None


def wait_stats(summaries: Iterable[Mapping[str, Any]], since_ms: int) -> WaitStats:
    waits = sorted(
        (started - created) / 1000
        for s in summaries
        if (started := _ms(s, "startedAt")) is not None
        and started >= since_ms
        and (created := _ms(s, "createdAt")) is not None
    )
    if not waits:
        return WaitStats(0, None, None, None)
    if len(waits) == 1:
        return WaitStats(1, waits[0], waits[0], waits[0])
    cuts = statistics.quantiles(waits, n=10, method="inclusive")
    return WaitStats(len(waits), statistics.median(waits), cuts[8], waits[-1])


def blocking_job(summaries: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The oldest RUNNABLE job whose status reason is one of AWS Batch's documented blocked reasons:
    the job at the head of a blocked queue is the one its reason is about (aws/blocked_reasons.py)."""
    found = [s for s in summaries if blocked(s) is not None]
    return min(found, key=lambda s: _ms(s, "createdAt") or 0) if found else None


@dataclass(frozen=True)
class Chart:
    """Series per name over ``times`` (the end of each interval, epoch ms)."""

    times: tuple[int, ...]
    series: Mapping[str, tuple[int, ...]]


def chart(summaries: Sequence[Mapping[str, Any]], now_ms: int, window_ms: int, step_ms: int) -> Chart:
    """Jobs waiting and running at the end of each interval, and jobs that ended in it."""
    steps = max(1, window_ms // step_ms)
    times = tuple(now_ms - (steps - 1 - i) * step_ms for i in range(steps))
    series = {name: [0] * steps for name in SERIES}
    for summary in summaries:
        created = _ms(summary, "createdAt")
        if created is None:
            continue
        started, stopped = _ms(summary, "startedAt"), _ms(summary, "stoppedAt")
        status = summary.get("status")
        for i, t in enumerate(times):
            if created > t:
                continue
            if stopped is not None and stopped <= t:
                if stopped > t - step_ms and status in ("SUCCEEDED", "FAILED"):
                    series[str(status).lower()][i] += 1
                continue
            if started is not None and started <= t:
                series["running"][i] += 1
            elif stopped is None or stopped > t:
                series["waiting"][i] += 1
    return Chart(times, {name: tuple(values) for name, values in series.items()})
