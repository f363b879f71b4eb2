"""The planning thread's work: new tries in, a tracked record or the reason it cannot run out.

Planning is CPU work (routing, merging, validating against the SubmitJob shape: about 0.2 ms a try), so
it runs on the executor's planning thread, once per try: ``plan_workloads`` when a try arrives (its
route chosen, a bad ``exec_config`` refused at once, its request built and checked) and ``replan`` when
a tracked try needs a new request (its job died before start and it goes again with a fresh token, maybe
on its retry route; or it was adopted and has no job). The request is kept as compact JSON, and that is
what the API thread sends: the request sent is the one that was checked. The one exception is
``intake``'s small budget per heartbeat for tries that arrive a few at a time (see ``Intake.dispatch``),
which calls the same ``plan_workloads`` on the scheduler thread.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

__all__ = ["InfoLog", "plan_workloads", "replan"]

from batch_router.errors import ExecConfigError, RoutingError
from batch_router.executor.outcomes import Planned, Refused, Replanned, ReplanTicket, Unplannable
from batch_router.executor.try_record import TryRecord
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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What planning needs of a workload, the workload itself written as JSON (see ``plan_workloads``)."""

    key: WorkloadKey
    identity: TaskIdentity
    executor_config: Mapping[str, Any] | None
    queue: str | None
    payload: str


def request_json(built: BuiltJob) -> str:
    """The request as compact JSON (SubmitJob's arguments are JSON data: botocore sends them as JSON)."""
    return json.dumps(built.kwargs, separators=(",", ":"))


def plan_workloads(
    plan: Plan,
    workloads: list[Workload],
    log: InfoLog,
    emit: Callable[[list[Planned | Unplannable]], None],
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
    planned: list[Planned | Unplannable] = []
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


def _plan_one(plan: Plan, item: _Prepared, log: InfoLog) -> Planned | Unplannable:
    key, identity, executor_config, queue = item.key, item.identity, item.executor_config, item.queue
    try:
        built = plan.build(
            identity=identity,
            executor_config=executor_config,
            queue=queue,
            command=payload_command(item.payload),
        )
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
        request=request_json(built),
        executor_config=executor_config,
        queue=queue,
    )


def replan(plan: Plan, ticket: ReplanTicket) -> Replanned | Refused:
    """A tracked try's new request (the planning thread's job). Never raises. A try whose job lost its
    capacity goes to its route's retry_route; if it cannot be planned there, its own route still takes it."""
    try:
        built = _rebuild(plan, ticket, ticket.lost_capacity)
    except Exception as exc:  # ExecConfigError, RoutingError: the policy changed since; or a bug of ours
        try:
            if not ticket.lost_capacity:
                raise
            built = _rebuild(plan, ticket, False)
        except Exception:
            return Refused(ticket.key, ticket.serial, str(exc) or type(exc).__name__)
    return Replanned(
        ticket,
        route=built.route.name,
        job_queue=str(built.kwargs["jobQueue"]),
        job_definition=str(built.kwargs["jobDefinition"]),
        request=request_json(built),
    )


def _rebuild(plan: Plan, ticket: ReplanTicket, lost_capacity: bool) -> BuiltJob:
    return plan.build(
        identity=ticket.identity,
        executor_config=ticket.executor_config,
        queue=ticket.queue,
        command=payload_command(ticket.payload),
        lost_capacity=lost_capacity,
    )


def _unplannable(workload: Workload, reason: str) -> Unplannable:
    return Unplannable(workload.key, f"could not plan the task: {reason}")
