"""Per-route gauges go out when they change, at a bounded rate: 10,000 idle routes cost nothing after
their first report (each heartbeat used to send six gauges for every route)."""

from __future__ import annotations

from typing import Any

from batch_router.executor.metrics import GAUGE_INTERVAL_SECONDS, GAUGE_REFRESH_SECONDS, ExecutorMetrics


class Sink:
    def __init__(self) -> None:
        self.gauges: list[tuple[str, float]] = []

    def incr(self, stat: str, count: int | None = None, rate: Any = None, *, tags: Any = None) -> None: ...

    def gauge(
        self, stat: str, value: float, rate: Any = None, delta: Any = None, *, tags: Any = None
    ) -> None:
        if tags is None:  # the plain StatsD name, one per gauge sent
            self.gauges.append((stat, value))


def metrics() -> tuple[ExecutorMetrics, Sink]:
    sink = Sink()
    return ExecutorMetrics(sink=sink), sink


def test_every_route_is_reported_once_and_an_idle_one_never_again() -> None:
    gauges, sink = metrics()
    idle = {f"route-{i}": {} for i in range(1000)}

    gauges.gauges(idle, now=0.0)
    first = len(sink.gauges)
    gauges.gauges(idle, now=GAUGE_INTERVAL_SECONDS)

    assert first == 3000
    assert len(sink.gauges) == first


def test_only_what_changed_is_sent() -> None:
    gauges, sink = metrics()
    gauges.gauges({"a": {"queued": 2}, "b": {"running": 1}}, now=0.0)
    sink.gauges.clear()

    gauges.gauges({"a": {"queued": 3}, "b": {"running": 1}}, now=GAUGE_INTERVAL_SECONDS)

    assert sink.gauges == [("batch_router.jobs.queued.a", 3.0)]


def test_a_route_that_no_longer_has_tries_goes_to_zero_once() -> None:
    gauges, sink = metrics()
    gauges.gauges({"a": {"running": 1}}, now=0.0)
    sink.gauges.clear()

    gauges.gauges({}, now=1 * GAUGE_INTERVAL_SECONDS)
    gauges.gauges({}, now=2 * GAUGE_INTERVAL_SECONDS)

    assert sink.gauges == [("batch_router.jobs.running.a", 0.0)]


def test_gauges_are_sent_at_most_once_an_interval() -> None:
    gauges, sink = metrics()
    gauges.gauges({"a": {"queued": 1}}, now=0.0)
    sink.gauges.clear()

    gauges.gauges({"a": {"queued": 2}}, now=GAUGE_INTERVAL_SECONDS / 2)
    assert sink.gauges == []
    gauges.gauges({"a": {"queued": 2}}, now=GAUGE_INTERVAL_SECONDS)
    assert sink.gauges == [("batch_router.jobs.queued.a", 2.0)]


def test_non_zero_gauges_are_sent_again_at_each_refresh() -> None:
    gauges, sink = metrics()
    gauges.gauges({"a": {"queued": 1}}, now=0.0)
    sink.gauges.clear()

    gauges.gauges({"a": {"queued": 1}}, now=GAUGE_REFRESH_SECONDS)

    assert sink.gauges == [("batch_router.jobs.queued.a", 1.0)]


def test_blocked_jobs_go_out_per_route_and_reason_and_back_to_zero_when_none_is_left() -> None:
    gauges, sink = metrics()
    gauges.gauges({"gpu": {"queued": 2, "blocked:CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 2}}, now=0.0)
    sent = dict(sink.gauges)
    sink.gauges.clear()

    gauges.gauges({"gpu": {"queued": 2}}, now=GAUGE_INTERVAL_SECONDS)

    assert sent["batch_router.jobs.blocked.capacity.insufficient_instance_capacity.gpu"] == 2.0
    assert sink.gauges == [("batch_router.jobs.blocked.capacity.insufficient_instance_capacity.gpu", 0.0)]


def test_the_tagged_blocked_gauge_carries_the_reason() -> None:
    tagged: list[tuple[str, Any]] = []

    class TaggedSink(Sink):
        def gauge(
            self, stat: str, value: float, rate: Any = None, delta: Any = None, *, tags: Any = None
        ) -> None:
            if tags is not None:
                tagged.append((stat, tags))

    ExecutorMetrics(sink=TaggedSink()).gauges({"gpu": {"blocked:UNDETERMINED": 1}}, now=0.0)

    assert ("batch_router.jobs.blocked", {"route": "gpu", "reason": "UNDETERMINED"}) in tagged
