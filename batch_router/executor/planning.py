"""The planning thread's work: new tries in, a tracked record or the reason it cannot run out.

Planning is CPU work (routing, merging, validating against the SubmitJob shape: about 0.2 ms a try), so
it never runs on the scheduler thread: ``plan_workloads`` runs on the executor's planning thread when a
try arrives (to pick its route and refuse a bad ``exec_config`` at once), and ``JobSpec.build`` runs on
an API thread just before each SubmitJob (so no request is held in memory while a try waits its turn).
Both are pure and deterministic: the request sent is the one that was checked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

__all__ = ["InfoLog", "JobSpec", "Planned", "Unplannable", "plan_workloads"]

from batch_router.errors import ExecConfigError, RoutingError
from batch_router.executor.tracker import TryRecord
from batch_router.executor.workloads import (
    Workload,
    executor_config_of,
    payload_command,
    queue_of,
    task_identity,
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
    payload: str  # the workload as JSON (see ``TryRecord.payload``)
    lost_capacity: bool = False  # an earlier job of the try lost its capacity (see Plan.build)

    def build(self) -> BuiltJob:
        """Raises ``ExecConfigError`` or ``RoutingError``."""
        return self.plan.build(
            identity=self.identity,
            executor_config=self.executor_config,
            queue=self.queue,
            command=payload_command(self.payload),
            lost_capacity=self.lost_capacity,
        )


@dataclass(frozen=True, slots=True)
class Unplannable:
    """A newly arrived try that cannot be submitted, and why (bad exec_config, no route, a bug)."""

    key: WorkloadKey
    error: str


# What planning makes of a new try: its record, ready to track, or the reason it cannot run.
Planned = TryRecord | Unplannable


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What planning needs of a workload, the workload itself written as JSON (see ``plan_workloads``)."""

    key: WorkloadKey
    identity: TaskIdentity
    executor_config: Mapping[str, Any] | None
    queue: str | None
    payload: str


def plan_workloads(
    plan: Plan,
    workloads: list[Workload],
    log: InfoLog,
    emit: Callable[[list[Planned]], None],
    chunk_size: int = 100,
    share_gil: bool = False,
) -> None:
    """Route and check each workload, handing results to ``emit`` every ``chunk_size``. Never raises.

    The planning thread's job. One call takes every try that arrived in a heartbeat and hands results
    back as it goes, so the first tries are submitted while the rest are still being planned, and the
    scheduler thread makes one hand-over per heartbeat, not one per chunk.

    ``workloads`` is emptied first: each is written as JSON (a few microseconds) before any is planned
    (a fraction of a millisecond), so the models of a burst of 20,000 are gone within a second rather
    than living, a dozen objects each, through every garbage collection of the burst's planning.
    """
    prepared: list[_Prepared | Unplannable] = []
    workloads.reverse()
    while workloads:
        # Popped one at a time, so each model is freed as it is written, not 20,000 in one C call that
        # would hold the GIL (and the scheduler thread) for tens of milliseconds.
        workload = workloads.pop()
        try:
            prepared.append(_prepare(workload))
        except Exception as exc:  # a bug of ours must fail this one task, not strand the rest
            prepared.append(_unplannable(workload, f"{type(exc).__name__}: {exc}"))
        del workload
    planned: list[Planned] = []
    for item in prepared:
        if len(planned) >= chunk_size:
            emit(planned)
            planned = []
        if isinstance(item, Unplannable):
            planned.append(item)
            continue
        try:
            planned.append(_plan_one(plan, item, log))
        except Exception as exc:  # a bug of ours must fail this one task, not strand the rest
            planned.append(Unplannable(item.key, f"could not plan the task: {type(exc).__name__}: {exc}"))
        if share_gil:
            # On the planning thread, let the GIL go between tries: a burst keeps that thread busy for
            # seconds, and the scheduler thread would otherwise wait out the interpreter's switch
            # interval (5 ms) each time it wants the GIL back in the middle of a heartbeat. Never on
            # the scheduler thread itself, which would then wait for the GIL to come back.
            time.sleep(0)
    if planned:
        emit(planned)


def _prepare(workload: Workload) -> _Prepared:
    return _Prepared(
        key=workload.key,
        identity=task_identity(workload),
        executor_config=executor_config_of(workload),
        queue=queue_of(workload),
        payload=workload.model_dump_json(),
    )


def _plan_one(plan: Plan, item: _Prepared, log: InfoLog) -> Planned:
    key, identity, executor_config, queue = item.key, item.identity, item.executor_config, item.queue
    try:
        built = JobSpec(plan, identity, executor_config, queue, item.payload).build()
    except (ExecConfigError, RoutingError) as exc:
        return Unplannable(key, str(exc))
    with contextlib.suppress(Exception):  # a broken log handler must not cost the task
        log.info("batch-router: %s -> route %r (%s)", key, built.route.name, built.reason)
    return TryRecord(
        key=key,
        identity=identity,
        route=built.route.name,
        job_queue=str(built.kwargs["jobQueue"]),
        job_definition=str(built.kwargs["jobDefinition"]),
        job_name=str(built.kwargs["jobName"]),
        payload=item.payload,
        executor_config=executor_config,
        queue=queue,
    )


def _unplannable(workload: Workload, reason: str) -> Unplannable:
    return Unplannable(workload.key, f"could not plan the task: {reason}")
