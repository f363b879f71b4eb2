"""``gc.freeze()`` shared by every executor in the process.

Freezing moves what the scheduler has loaded at start-up out of the collector's reach, so a full
collection in a later heartbeat does not scan it again (see docs/performance.md). But the frozen
generation is one per process, and a scheduler may run several executors (executor aliases, one per
team): the first to end must not thaw the heap under the others. So the heap is frozen by every start
and thawed only when the last executor that froze it has ended.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["Freeze"]

_lock = threading.Lock()
_holders = 0


class Freeze:
    """One executor's hold on the frozen heap: ``hold()`` at start, ``release()`` at end (idempotent)."""

    def __init__(self) -> None:
        self._held = False

    def hold(self) -> None:
        global _holders
        with _lock:
            if self._held:
                return
            gc.collect()
            gc.freeze()  # also freezes what was made since another executor froze the heap
            _holders += 1
            self._held = True

    def release(self) -> None:
        global _holders
        with _lock:
            if not self._held:
                return
            self._held = False
            _holders -= 1
            if _holders == 0:
                gc.unfreeze()
