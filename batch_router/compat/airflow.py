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
   one that keeps what it popped alive until it is saved (``executor/event_log.py``).
3. Airflow's metrics module (``airflow._shared.observability.metrics.stats``), which StatsD, Datadog
   and OpenTelemetry sit behind; Airflow has no public path to it in 3.3.
"""

from __future__ import annotations

import itertools
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_4_PLUS",
    "EVENT_LOG_ATTRIBUTE",
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
