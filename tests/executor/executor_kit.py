"""Workloads built the way the scheduler builds them, and a loop that heartbeats like it does."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

from airflow.executors.workloads import BundleInfo, ExecuteTask, TaskInstanceDTO
from airflow.models.taskinstancekey import TaskInstanceKey

from batch_router.executor import BatchRouterExecutor


def make_workload(
    *,
    dag_id: str = "etl",
    task_id: str = "extract",
    run_id: str = "scheduled__2026-01-01T00:00:00+00:00",
    try_number: int = 1,
    map_index: int = -1,
    queue: str = "default",
    executor_config: dict[str, Any] | None = None,
    token: str = "t",
) -> ExecuteTask:
    """An ExecuteTask as the scheduler queues it, with its pre-assigned external_executor_id."""
    ti = TaskInstanceDTO(
        id=uuid.uuid4(),
        dag_version_id=uuid.uuid4(),
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        try_number=try_number,
        map_index=map_index,
        queue=queue,
        pool_slots=1,
        priority_weight=1,
        executor_config=executor_config,
        external_executor_id=str(uuid.uuid4()),
    )
    return ExecuteTask(
        ti=ti,
        dag_rel_path="dags/etl.py",
        token=token,
        log_path=f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/attempt={try_number}.log",
        bundle_info=BundleInfo(name="dags-folder"),
    )


def tune(executor: BatchRouterExecutor, **values: Any) -> None:
    """Change this one started executor's tunables (its settings' values) for a test."""
    tunables = dataclasses.replace(executor._hub.tunables, **values)
    executor._hub.tune(tunables)


def queue_all(executor: BatchRouterExecutor, *workloads: ExecuteTask) -> None:
    for workload in workloads:
        executor.queue_workload(workload, session=None)  # type: ignore[arg-type]


def drive(executor: BatchRouterExecutor, until: Callable[[], Any], *, timeout: float = 30.0) -> Any:
    """Heartbeat as the scheduler does until ``until()`` is truthy; its value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        executor.heartbeat()
        value = until()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s; events: {executor.event_buffer!r}")
        time.sleep(0.005)


def events(executor: BatchRouterExecutor, key: TaskInstanceKey) -> list[tuple[str, str]]:
    """(event, extra) of every task event the executor logged for ``key``."""
    return [
        (log.event, log.extra)
        for log in executor._task_event_logs
        if (log.dag_id, log.task_id, log.run_id, log.try_number)
        == (key.dag_id, key.task_id, key.run_id, key.try_number)
    ]


class Recorder:
    """Collects event-buffer entries across heartbeats (the scheduler empties the buffer each loop)."""

    def __init__(self, executor: BatchRouterExecutor):
        self.executor = executor
        self.seen: list[tuple[Any, Any, Any]] = []

    def __call__(self) -> list[tuple[Any, Any, Any]]:
        for key, (state, info) in self.executor.get_event_buffer().items():
            self.seen.append((key, state, info))
        return self.seen

    def states(self, key: Any) -> list[Any]:
        self()
        return [state for k, state, _ in self.seen if k == key]

    def info(self, key: Any) -> list[Any]:
        self()
        return [info for k, _, info in self.seen if k == key]


def task_instance(workload: ExecuteTask, *, external_executor_id: str | None) -> Any:
    """The scheduler's TaskInstance row for ``workload``'s try, as adoption and the log reader get it."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.serialization.serialized_objects import create_scheduler_operator

    dto = workload.ti
    task = create_scheduler_operator(EmptyOperator(task_id=dto.task_id))
    ti = TaskInstance(
        task=task, run_id=dto.run_id, map_index=dto.map_index, dag_version_id=dto.dag_version_id
    )
    ti.dag_id = dto.dag_id
    ti.try_number = dto.try_number
    ti.queue = dto.queue
    ti.executor_config = dto.executor_config or {}
    ti.external_executor_id = external_executor_id
    return ti


class RecordingLog:
    """Stands in for the executor's logger: keeps what it says at INFO and WARNING; an exception
    logged is a test failure."""

    def __init__(self) -> None:
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def warning(self, event: str, *args: object, **_: object) -> None:
        self.warnings.append(event % args)

    def info(self, event: str, *args: object, **_: object) -> None:
        self.infos.append(event % args)

    def error(self, event: str, *args: object, **_: object) -> None:
        self.errors.append(event % args)

    def exception(self, event: str, *args: object, **_: object) -> None:
        raise AssertionError(event % args)
