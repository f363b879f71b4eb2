"""Nothing escapes the executor's phases, and a phase that keeps failing is said again as an ERROR."""

from __future__ import annotations

from typing import Any

import pytest
from batch_world import BatchWorld

from batch_router.executor import BatchRouterExecutor
from batch_router.executor.guard import PhaseGuard
from batch_router.executor.metrics import ExecutorMetrics


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def incr(self, stat: str, count: int | None = None, rate: Any = None, *, tags: Any = None) -> None:
        self.sent.append((stat, tags))

    def gauge(self, *args: Any, **kwargs: Any) -> None:
        pass


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, event: Any, *args: Any, **kw: Any) -> None:
        self.lines.append(("info", event % args))

    def warning(self, event: Any, *args: Any, **kw: Any) -> None:
        self.lines.append(("warning", event % args))

    def error(self, event: Any, *args: Any, **kw: Any) -> None:
        self.lines.append(("error", event % args))

    def exception(self, event: Any, *args: Any, **kw: Any) -> None:
        self.lines.append(("exception", event % args))


def failing(guard: PhaseGuard, times: int) -> None:
    for _ in range(times):
        with guard.phase("sync"):
            raise KeyError("a bug")


def test_an_unexpected_error_is_swallowed_logged_with_its_traceback_and_counted() -> None:
    log, sink = Log(), Sink()
    guard = PhaseGuard(log, ExecutorMetrics(sink=sink))

    failing(guard, 1)

    assert log.lines == [("exception", "batch-router: sync failed; trying again on the next heartbeat")]
    assert ("batch_router.unexpected_errors", {"phase": "sync"}) in sink.sent


def test_a_phase_failing_again_and_again_is_said_again_as_an_error_with_the_count() -> None:
    log, sink = Log(), Sink()
    guard = PhaseGuard(log, ExecutorMetrics(sink=sink), repeat_every=3)

    failing(guard, 6)

    errors = [text for level, text in log.lines if level == "error"]
    assert len(errors) == 2 and "has failed 6 times in a row" in errors[-1]
    assert sum(stat == "batch_router.unexpected_errors" for stat, _ in sink.sent) == 6


def test_a_phase_that_succeeds_starts_counting_again() -> None:
    guard = PhaseGuard(Log(), ExecutorMetrics(sink=Sink()))
    failing(guard, 2)
    with guard.phase("sync"):
        pass
    assert guard.failures_in_a_row("sync") == 0


def test_nothing_escapes_the_heartbeat_when_a_phase_breaks(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in polling")

    monkeypatch.setattr(executor._poller, "dispatch", broken)
    for _ in range(3):
        executor.heartbeat()  # does not raise
    assert executor._guard.failures_in_a_row("sync") == 3
