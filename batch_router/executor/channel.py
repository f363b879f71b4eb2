"""The one way back from the other threads: each call's outcome, handled on the scheduler thread.

The API, poll and planning threads share no mutable state with the scheduler thread. A call handed over
with ``send`` returns one outcome value (a failure is a value too, and a call that raises is stood in
for by its ticket's ``crashed`` outcome); a pool thread only appends the finished future to a deque
(an atomic append). The scheduler thread turns finished calls into outcomes and hands each to the one
handler registered for its type, within a time budget. A handler that raises is logged and counted,
and the tries its outcome is about are put back where they can make progress (``PutBack``), so no try
is left waiting for an answer that was already lost.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from batch_router.executor.metrics import UNKNOWN_ROUTE
from batch_router.executor.outcomes import About, Outcome

__all__ = ["Channel", "PutBack"]

OutcomeT = TypeVar("OutcomeT", bound=Outcome)


class _Log(Protocol):
    def error(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def exception(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class _Counter(Protocol):
    def count(self, name: str, route: str) -> None: ...

    def unexpected_error(self, phase: str) -> None: ...


# Puts the tries an outcome is about back where they can make progress; says how many it moved.
PutBack = Callable[[About], int]


class Channel:
    """Tickets out to the pools, outcomes back, one handler per outcome type."""

    def __init__(self, log: _Log, metrics: _Counter, put_back: PutBack):
        self._log = log
        self._metrics = metrics
        self._put_back = put_back
        self._handlers: dict[type[Any], Callable[[Any], None]] = {}
        # Appended by pool threads (deque appends are atomic); everything else only on the scheduler thread.
        self._finished: deque[tuple[Future[Any], Callable[[BaseException], Outcome]]] = deque()
        self._posted: deque[Outcome] = deque()  # outcomes a call hands back as it goes (planning)
        self._ready: deque[Outcome] = deque()  # waiting for their handler, in the order they came
        self._in_flight: set[Future[Any]] = set()  # handed over, not yet collected

    def on(self, kind: type[OutcomeT], handler: Callable[[OutcomeT], None]) -> None:
        if kind in self._handlers:
            raise ValueError(f"{kind.__name__} already has a handler")
        self._handlers[kind] = handler

    def send(
        self,
        pool: ThreadPoolExecutor | None,
        run: Callable[[], OutcomeT],
        crashed: Callable[[BaseException], OutcomeT],
    ) -> bool:
        """Run ``run()`` on ``pool``; its outcome (or ``crashed(exception)``) goes to its handler.
        False after shutdown: nothing was handed over."""
        if pool is None:
            return False
        try:
            future = pool.submit(run)
        except RuntimeError:  # the pool was shut down by end()
            return False
        self._in_flight.add(future)
        future.add_done_callback(lambda done: self._finished.append((done, crashed)))
        return True

    def post(self, outcome: Outcome) -> None:
        """An outcome handed back before its call ends (any thread)."""
        self._posted.append(outcome)

    def queue(self, outcome: Outcome) -> None:
        """An outcome made on the scheduler thread, handled after those already waiting."""
        self._ready.append(outcome)

    @property
    def in_flight(self) -> int:
        """Calls handed over whose end has not been collected."""
        return len(self._in_flight)

    @property
    def answered(self) -> bool:
        """Whether calls have ended (or handed outcomes back) since the last ``apply``."""
        return bool(self._finished or self._posted)

    def apply(self, budget_seconds: float) -> None:
        """Handle outcomes in the order they came until the budget is spent (always at least one)."""
        deadline = time.monotonic() + budget_seconds
        while True:
            self._collect()
            if not self._ready:
                return
            self._handle(self._ready.popleft())
            if time.monotonic() >= deadline:
                return

    def drain(self, pools: list[ThreadPoolExecutor], timeout: float) -> int:
        """Cancel the calls not yet started, wait up to ``timeout`` for the running ones, and join the
        threads if they all ended. Returns how many calls are still running."""
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        running = [future for future in self._in_flight if not future.done()]
        _, still = wait(running, timeout=timeout) if running else (set(), set())
        if not still:
            for pool in pools:
                pool.shutdown(wait=True)  # nothing left to run: the threads exit, and are joined
        return len(still)

    def _collect(self) -> None:
        while self._posted:
            self._ready.append(self._posted.popleft())
        while self._finished:
            future, crashed = self._finished.popleft()
            self._in_flight.discard(future)
            if future.cancelled():
                continue
            error = future.exception()  # the call functions catch what they expect
            if error is None:
                self._ready.append(future.result())
                continue
            self._log.error("batch-router: a call on a worker thread failed", exc_info=error)
            self._metrics.count("crashed", UNKNOWN_ROUTE)
            try:
                self._ready.append(crashed(error))
            except Exception:  # the stand-in itself failed: nothing more can be done for this call
                self._log.exception("batch-router: could not account for a failed call")

    def _handle(self, outcome: Outcome) -> None:
        try:
            self._handlers[type(outcome)](outcome)
        except Exception:
            self._log.exception("batch-router: could not handle %s", type(outcome).__name__)
            self._metrics.unexpected_error("handler")
            try:
                self._put_back(outcome.about())
            except Exception:
                self._log.exception("batch-router: could not put back the tries of a failed handler")
