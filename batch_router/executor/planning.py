"""The planning thread's work: new tries in, a tracked record or the reason it cannot run out.

Planning is CPU work (routing, merging, validating against the SubmitJob shape: about 0.2 ms a try), so
it never runs on the scheduler thread: ``plan_workloads`` runs on the executor's planning thread when a
try arrives (to pick its route and refuse a bad ``exec_config`` at once), and ``JobSpec.build`` runs on
an API thread just before each SubmitJob (so no request is held in memory while a try waits its turn).
Both are pure and deterministic: the request sent is the one that was checked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

__all__ = ["InfoLog", "JobSpec", "Planned", "Unplannable", "plan_workloads"]

from batch_router.errors import ExecConfigError, RoutingError
from batch_router.executor.tracker import TryRecord
from batch_router.executor.workloads import (
    Workload,
    executor_config_of,
    queue_of,
    task_identity,
    workload_command,
)
from batch_router.plan.model import BuiltJob, TaskIdentity
from batch_router.plan.planner import Plan

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey


class InfoLog(Protocol):
    """What the planning and API threads need of the executor's logger (stdlib's or Airflow's)."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...


@dataclass(frozen=True)
class JobSpec:
    """Everything a try's SubmitJob request is built from; immutable, so any thread may build it."""

    plan: Plan
    identity: TaskIdentity
    executor_config: Mapping[str, Any] | None
    queue: str | None
    workload: Workload
    lost_capacity: bool = False  # an earlier job of the try lost its capacity (see Plan.build)

    def build(self) -> BuiltJob:
        """Raises ``ExecConfigError`` or ``RoutingError``."""
        return self.plan.build(
            identity=self.identity,
            executor_config=self.executor_config,
            queue=self.queue,
            command=workload_command(self.workload),
            lost_capacity=self.lost_capacity,
        )


@dataclass(frozen=True, slots=True)
class Unplannable:
    """A newly arrived try that cannot be submitted, and why (bad exec_config, no route, a bug)."""

    key: WorkloadKey
    error: str


# What planning makes of a new try: its record, ready to track, or the reason it cannot run.
Planned = TryRecord | Unplannable


def plan_workloads(
    plan: Plan,
    workloads: Sequence[Workload],
    log: InfoLog,
    emit: Callable[[list[Planned]], None],
    chunk_size: int = 100,
) -> None:
    """Route and check each workload, handing results to ``emit`` every ``chunk_size``. Never raises.

    The planning thread's job. One call takes every try that arrived in a heartbeat and hands results
    back as it goes, so the first tries are submitted while the rest are still being planned, and the
    scheduler thread makes one hand-over per heartbeat, not one per chunk.
    """
    planned: list[Planned] = []
    for workload in workloads:
        if len(planned) >= chunk_size:
            emit(planned)
            planned = []
        try:
            planned.append(_plan_one(plan, workload, log))
        except Exception as exc:  # a bug of ours must fail this one task, not strand the rest
            planned.append(_unplannable(workload, f"{type(exc).__name__}: {exc}"))
    if planned:
        emit(planned)


def _plan_one(plan: Plan, workload: Workload, log: InfoLog) -> Planned:
    identity = task_identity(workload)
    executor_config, queue = executor_config_of(workload), queue_of(workload)
    try:
        built = JobSpec(plan, identity, executor_config, queue, workload).build()
    except (ExecConfigError, RoutingError) as exc:
        return Unplannable(workload.key, str(exc))
    with contextlib.suppress(Exception):  # a broken log handler must not cost the task
        log.info("batch-router: %s -> route %r (%s)", workload.key, built.route.name, built.reason)
    return TryRecord(
        key=workload.key,
        identity=identity,
        route=built.route.name,
        job_queue=str(built.kwargs["jobQueue"]),
        job_definition=str(built.kwargs["jobDefinition"]),
        job_name=str(built.kwargs["jobName"]),
        workload=workload,
        executor_config=executor_config,
        queue=queue,
    )


def _unplannable(workload: Workload, reason: str) -> Unplannable:
    return Unplannable(workload.key, f"could not plan the task: {reason}")
