"""What batch-router reads of Airflow beyond its public API, in one place.

Written against Airflow 3.3 (``AIRFLOW_VERSION``); ``tests/compat/test_airflow_compat.py`` fails when a
release changes any of it. Only ``executor/`` imports this module (the layout test keeps it so).

1. BaseExecutor's task selection (``_get_workloads_to_schedule``: callbacks first, in order, then tasks
   by ``priority_weight``, highest first, up to the open slots), made without its allocations: it sorts
   a new (key, workload) tuple per queued task and hands bare workloads on, whose ``workload.key``
   builds a second key per try (about 2 us each: 45 ms of one heartbeat for 20,000). Airflow 3.4
   replaces ``queued_tasks`` / ``queued_callbacks`` with per-workload-type queues; where they are not
   plain dicts, ``select_queued`` returns None and the executor uses BaseExecutor's own selection.
2. The executor's queue of task events (``_task_event_logs``), which the scheduler drains: replaced by
   one that keeps what it popped alive until it is saved (``EventLogQueue``, below). Airflow 3.3's
   scheduler saves them with ``_process_task_event_logs``: it pops every ``Log`` off the executor's deque
   inside a generator and passes that to ``Session.bulk_save_objects``, which keeps only each object's
   ``InstanceState``. The state holds its object weakly, so each ``Log`` is freed as soon as it is
   popped and the insert runs with no values: ``NOT NULL constraint failed: log.event``; the scheduler
   logs "Something went wrong when trying to save task event logs" and every event of that loop (the
   reason a job failed, the notice that a try is submitted again) is lost. ``EventLogQueue`` keeps what
   the scheduler popped alive until the executor's next heartbeat, which comes after the save.
3. Airflow's metrics module (``airflow._shared.observability.metrics.stats``), which StatsD, Datadog
   and OpenTelemetry sit behind; Airflow has no public path to it in 3.3.
4. Not here, but tested beside these: the names of the options' environment variables, which
   ``config.settings`` writes itself (``AirflowConfigParser._env_var_name`` is private).
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_4_PLUS",
    "EVENT_LOG_ATTRIBUTE",
    "EventLogQueue",
    "airflow_stats",
    "select_queued",
]

AIRFLOW_V_3_4_PLUS = Version(Version(AIRFLOW_VERSION).base_version) >= Version("3.4.0")
EVENT_LOG_ATTRIBUTE = "_task_event_logs"


def select_queued(executor: Any, open_slots: int) -> tuple[list[Any], list[Any]] | None:
    """(callback keys, task keys) BaseExecutor would schedule now, in its order; None where this
    Airflow does not keep them in ``queued_callbacks`` / ``queued_tasks`` dicts."""
    callbacks_queue = getattr(executor, "queued_callbacks", None)
    tasks_queue = getattr(executor, "queued_tasks", None)
    if AIRFLOW_V_3_4_PLUS or not isinstance(callbacks_queue, dict) or not isinstance(tasks_queue, dict):
        return None
    slots = max(open_slots, 0)
    callbacks: list[Any] = list(itertools.islice(callbacks_queue, slots))
    tasks: list[Any] = []
    if slots > len(callbacks) and tasks_queue:
        tasks = sorted(tasks_queue, key=lambda key: tasks_queue[key].ti.priority_weight, reverse=True)
        del tasks[slots - len(callbacks) :]
    return callbacks, tasks


def airflow_stats() -> Any:
    from airflow._shared.observability.metrics import stats

    return stats


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
