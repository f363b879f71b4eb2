"""Per-route counters and gauges, through Airflow's own metrics layer (StatsD, Datadog or OpenTelemetry).

Every metric is sent twice: ``batch_router.<name>`` tagged with the route, and for counters of a try's
job the job queue it was sent to (for backends with tags), and ``batch_router.<name>.<route>`` (for
plain StatsD, which drops tags). Counters add up during a heartbeat
and are sent once at its end: 5,000 tasks finishing together make one StatsD packet per route, not
10,000.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from batch_router.compat.airflow import airflow_stats

PREFIX = "batch_router"
UNKNOWN_ROUTE = "unrouted"  # what is counted before a try has a route (or for no try)
# Gauges go out when they change, at most this often, and every GAUGE_REFRESH_SECONDS again for the
# routes that have tries (a restarted StatsD server or agent learns them back): 10,000 idle routes cost
# nothing after the first report, where sending every gauge of every route each heartbeat cost 60,000
# calls a heartbeat.
GAUGE_INTERVAL_SECONDS = 1.0
GAUGE_REFRESH_SECONDS = 60.0
COUNTERS = ("submitted", "running", "succeeded", "failed", "retried", "throttled", "crashed")
GAUGES = ("pending", "queued", "running")
# Jobs blocking their queue per documented reason (aws.blocked_reasons): a gauge per route and reason,
# given to gauges() as "blocked:<reason code>" and sent as ``jobs.blocked`` tagged with the reason, and
# for plain StatsD as ``jobs.blocked.<reason, lower case, ":" as ".">.<route>``.
BLOCKED = "blocked"


class MetricsSink(Protocol):
    """What the executor needs of Airflow's ``stats`` module."""

    def incr(self, stat: str, count: int | None = None, rate: Any = None, *, tags: Any = None) -> None: ...

    def gauge(
        self, stat: str, value: float, rate: Any = None, delta: Any = None, *, tags: Any = None
    ) -> None: ...


class ExecutorMetrics:
    def __init__(self, team_name: str | None = None, sink: MetricsSink | None = None):
        self._sink = sink if sink is not None else airflow_stats()
        self._team_name = team_name
        self._counts: Counter[tuple[str, str, str | None, str | None]] = Counter()
        self._sent: dict[tuple[str, str], float] = {}  # (route, gauge) -> the value last sent
        self._non_zero: set[tuple[str, str]] = set()  # of those, the ones last sent above 0
        self._next_gauges = float("-inf")
        self._next_refresh = float("-inf")
        self._lags: dict[str, float] = {}

    def _tags(
        self, route: str, job_queue: str | None = None, job_definition: str | None = None
    ) -> dict[str, str]:
        tags = {"route": route}
        if job_queue:
            tags["job_queue"] = job_queue
        if job_definition:
            tags["job_definition"] = job_definition
        if self._team_name:
            tags["team_name"] = self._team_name
        return tags

    def count(
        self,
        name: str,
        route: str,
        by: int = 1,
        *,
        job_queue: str | None = None,
        job_definition: str | None = None,
    ) -> None:
        """Add ``by`` to counter ``name`` (one of COUNTERS) for ``route`` and the job queue and job
        definition the try's job was sent to (which the route's policy may let differ from the
        route's); sent by ``flush()``."""
        self._counts[(name, route, job_queue, job_definition)] += by

    def unexpected_error(self, phase: str) -> None:
        """An exception the executor did not expect, in ``phase`` (heartbeat, sync, end...); sent now."""
        try:
            tags = {"phase": phase, **({"team_name": self._team_name} if self._team_name else {})}
            self._sink.incr(f"{PREFIX}.unexpected_errors", 1, tags=tags)
            self._sink.incr(f"{PREFIX}.unexpected_errors.{phase}", 1)
        except Exception:
            pass

    def lag(self, name: str, seconds: float) -> None:
        """Keep the largest of ``name`` until the next flush, sent then as a gauge without a route (one
        reader, one sweep for all): ``events.lag_seconds``, from SQS's receipt of an event to the
        executor hearing of it; ``poll.sweep_seconds``, from a sweep's first DescribeJobs to its last
        answer (a job's state is at most POLL_INTERVAL plus that old on the poll path)."""
        self._lags[name] = max(self._lags.get(name, 0.0), max(seconds, 0.0))

    def flush(self) -> None:
        """Send the counts added since the last flush, and the largest lags seen."""
        counts, self._counts = self._counts, Counter()
        lags, self._lags = self._lags, {}
        try:
            team = {"team_name": self._team_name} if self._team_name else None
            for name, seconds in lags.items():
                self._sink.gauge(f"{PREFIX}.{name}", round(seconds, 3), tags=team)
            by_route: Counter[tuple[str, str]] = Counter()
            for (name, route, job_queue, job_definition), by in counts.items():
                self._sink.incr(f"{PREFIX}.{name}", by, tags=self._tags(route, job_queue, job_definition))
                by_route[(name, route)] += by
            for (name, route), by in by_route.items():
                self._sink.incr(f"{PREFIX}.{name}.{route}", by)
        except Exception:  # metrics must never cost a task or a heartbeat
            pass

    def _send_gauge(self, route: str, name: str, value: float) -> None:
        kind, _, reason = name.partition(":")
        if kind == BLOCKED and reason:
            tags = {**self._tags(route), "reason": reason}
            self._sink.gauge(f"{PREFIX}.jobs.{BLOCKED}", value, tags=tags)
            self._sink.gauge(f"{PREFIX}.jobs.{BLOCKED}.{reason.lower().replace(':', '.')}.{route}", value)
            return
        self._sink.gauge(f"{PREFIX}.jobs.{name}", value, tags=self._tags(route))
        self._sink.gauge(f"{PREFIX}.jobs.{name}.{route}", value)

    def gauges(self, counts_by_route: Mapping[str, Mapping[str, int]], now: float) -> None:
        """Send the GAUGES of the routes given that changed since they were last sent, and 0 for those
        that had tries and are no longer given; at most once every GAUGE_INTERVAL_SECONDS, and every
        GAUGE_REFRESH_SECONDS the non-zero ones again. ``now`` is a monotonic time."""
        if now < self._next_gauges:
            return
        self._next_gauges = now + GAUGE_INTERVAL_SECONDS
        refresh = now >= self._next_refresh
        if refresh:
            self._next_refresh = now + GAUGE_REFRESH_SECONDS
        current = {
            (route, name): float(c.get(name, 0))
            for route, c in counts_by_route.items()
            for name in (*GAUGES, *(n for n in c if n not in GAUGES))
        }
        current.update(dict.fromkeys(self._non_zero - current.keys(), 0.0))
        try:
            for key, value in current.items():
                if self._sent.get(key) == value and not (refresh and value):
                    continue
                route, name = key
                self._send_gauge(route, name, value)
                self._sent[key] = value
                if value:
                    self._non_zero.add(key)
                else:
                    self._non_zero.discard(key)
        except Exception:
            pass
