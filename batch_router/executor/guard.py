"""Nothing escapes the executor's phases, and nothing that goes wrong in them goes unseen.

The scheduler calls ``heartbeat()``, ``end()``, ``revoke_task()`` and adoption from its own loop; an
exception out of them would crash or stall it. Known failures are handled where they happen (an AWS
error becomes a retry, a bad exec_config fails its task); what is left is a bug or a surprise. That is
caught here, logged with its traceback the first time, counted in ``batch_router.unexpected_errors``
(tagged with the phase), and when the same phase keeps failing heartbeat after heartbeat it is said
again as an ERROR with the count, so an operator watching for errors sees a stuck executor, not a
single line lost in a scroll of retries.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from batch_router.executor.hub import Log
from batch_router.executor.metrics import ExecutorMetrics

__all__ = ["PhaseGuard"]


class PhaseGuard:
    def __init__(self, log: Log, metrics: ExecutorMetrics, *, repeat_every: int = 10):
        self._log = log
        self._metrics = metrics
        self._repeat_every = repeat_every  # a phase failing this many times in a row is said again
        self._in_a_row: Counter[str] = Counter()

    @contextlib.contextmanager
    def phase(self, name: str, what_happens: str = "trying again on the next heartbeat") -> Iterator[None]:
        """Run the block; an exception from it is logged, counted and swallowed."""
        try:
            yield
        except Exception as exc:
            self._in_a_row[name] += 1
            times = self._in_a_row[name]
            self._metrics.unexpected_error(name)
            if times == 1:
                self._log.exception("batch-router: %s failed; %s", name, what_happens)
            elif times % self._repeat_every == 0:
                self._log.error(
                    "batch-router: %s has failed %d times in a row (last: %s: %s); the executor is not "
                    "making progress there, see the first traceback",
                    name,
                    times,
                    type(exc).__name__,
                    exc,
                )
        else:
            self._in_a_row[name] = 0

    def failures_in_a_row(self, name: str) -> int:
        return self._in_a_row[name]
