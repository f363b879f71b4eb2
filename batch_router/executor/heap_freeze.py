"""The scheduler process's garbage collector while executors run: ``gc.freeze()`` and a higher
young-generation threshold, shared by every executor in the process.

Freezing moves what the scheduler has loaded at start-up out of the collector's reach, so a full
collection in a later heartbeat does not scan it again (see docs/performance.md). But the frozen
generation is one per process, and a scheduler may run several executors (executor aliases, one per
team): the first to end must not thaw the heap under the others. So the heap is frozen by every start
and thawed only when the last executor that froze it has ended.

The young threshold is raised for the same span, for the same reason. CPython collects the youngest
generation every 700 net allocations (``gc.get_threshold()[0]``), so a DescribeJobs answer of 100 jobs
(about 2,500 dicts and lists: the JSON, then botocore's copy of it) is collected three times while it
is being read. Each time it is still alive, so it moves to the older generations, and enough
of it there triggers a full collection: at 20,000 tracked tries, one every 4 s of 40 ms, on the poll
thread or in a heartbeat, holding the GIL either way (docs/performance.md, "At 20,000 tries"). With
``YOUNG_THRESHOLD`` most answers are read and freed between two young collections and never age.
Cyclic garbage waits for up to that many allocations before it is collected; a threshold the process
set higher is kept, and the one it had is put back when the last executor ends.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["YOUNG_THRESHOLD", "Freeze"]

# Two DescribeJobs answers read at once (POLL_CONCURRENCY's default), twice over, and the SubmitJob calls
# around them.
YOUNG_THRESHOLD = 10_000

_lock = threading.Lock()
_holders = 0
_thresholds_before: tuple[int, int, int] | None = None


class Freeze:
    """One executor's hold on the frozen heap: ``hold()`` at start, ``release()`` at end (idempotent)."""

    def __init__(self) -> None:
        self._held = False

    def hold(self) -> None:
        global _holders, _thresholds_before
        with _lock:
            if self._held:
                return
            gc.collect()
            gc.freeze()  # also freezes what was made since another executor froze the heap
            if _holders == 0:
                young, middle, old = _thresholds_before = gc.get_threshold()
                gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
            _holders += 1
            self._held = True

    def release(self) -> None:
        global _holders, _thresholds_before
        with _lock:
            if not self._held:
                return
            self._held = False
            _holders -= 1
            if _holders == 0:
                gc.unfreeze()
                if _thresholds_before is not None:
                    gc.set_threshold(*_thresholds_before)
                    _thresholds_before = None
