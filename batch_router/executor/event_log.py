"""The queue of task events (Airflow's ``log`` table) an executor hands to the scheduler.

Airflow 3.3's scheduler saves them with ``_process_task_event_logs``: it pops every ``Log`` off the
executor's deque inside a generator and passes that to ``Session.bulk_save_objects``, which keeps only
each object's ``InstanceState``. The state holds its object weakly, so each ``Log`` is freed as soon as
it is popped and the insert runs with no values: ``NOT NULL constraint failed: log.event``. The
scheduler logs "Something went wrong when trying to save task event logs" and every event of that loop
(the reason a job failed, the notice that a try is submitted again) is lost.

``EventLogQueue`` keeps what the scheduler popped alive until the executor's next heartbeat, which
comes after the save in the scheduler's loop. Nothing else about the deque changes.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class EventLogQueue(deque[Any]):
    """A deque that holds on to what was popped off its left until ``release()``."""

    def __init__(self) -> None:
        super().__init__()
        self._handed_out: list[Any] = []

    def popleft(self) -> Any:
        item = super().popleft()
        self._handed_out.append(item)
        return item

    def release(self) -> None:
        """Let go of the events the scheduler took; call once its loop has saved them."""
        self._handed_out.clear()
