"""The executor's settings and route table, and the one way it turns a try into a SubmitJob request.

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

from batch_router.config.model import RouteTable
from batch_router.config.routes import route_table_from_settings
from batch_router.config.settings import ConfSource, ExecutorSettings, load_settings
from batch_router.errors import BatchRouterError, ExecConfigError, RoutingError
from batch_router.executor.workloads import (
    Workload,
    executor_config_of,
    queue_of,
    task_identity,
    workload_command,
)
from batch_router.plan.model import BuiltJob, TaskIdentity
from batch_router.plan.naming import job_name
from batch_router.plan.planner import plan_task

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey


class InfoLog(Protocol):
    """What the planning and API threads need of the executor's logger (stdlib's or Airflow's)."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...


# Stands in for the command when only the job's name and queue are wanted (looking a job up).
NO_COMMAND = ("true",)


@dataclass(frozen=True)
class Plan:
    settings: ExecutorSettings
    table: RouteTable

    @classmethod
    def load(cls, conf: ConfSource | None = None) -> Plan:
        """Settings and route table from Airflow's configuration; raises ``ConfigError``."""
        settings = load_settings(conf)
        return cls(settings, route_table_from_settings(settings))

    def build(
        self,
        *,
        identity: TaskIdentity,
        executor_config: Mapping[str, Any] | None,
        queue: str | None,
        command: Sequence[str] = NO_COMMAND,
    ) -> BuiltJob:
        """The try's SubmitJob request; raises ``ExecConfigError`` or ``RoutingError``."""
        return plan_task(
            self.table,
            base_kwargs=self.settings.base_submit_job_kwargs(),
            job_name_prefix=self.settings.job_name,
            executor_config=executor_config,
            queue=queue,
            identity=identity,
            command=command,
            default_queue=self.settings.default_queue,
        )

    def warm_up(self) -> None:
        """Plan one made-up try on every route, so lazily loaded models and validators exist now."""
        for route in self.table.routes:
            identity = TaskIdentity(dag_id="warm_up", task_id="warm_up", run_id="warm_up", try_number=1)
            with contextlib.suppress(BatchRouterError):
                self.build(identity=identity, executor_config={"route": route.name}, queue=None)

    def places(
        self, identity: TaskIdentity, executor_config: Mapping[str, Any] | None, queue: str | None
    ) -> list[tuple[str, str]]:
        """Where the try's job would be: (job queue, job name). Every route's queue if planning fails."""
        try:
            built = self.build(identity=identity, executor_config=executor_config, queue=queue)
            return [(str(built.kwargs["jobQueue"]), str(built.kwargs["jobName"]))]
        except BatchRouterError:
            name = job_name(self.settings.job_name, identity)
            return list(dict.fromkeys((route.job_queue, name) for route in self.table.routes))


@dataclass(frozen=True)
class JobSpec:
    """Everything a try's SubmitJob request is built from; immutable, so any thread may build it."""

    plan: Plan
    identity: TaskIdentity
    executor_config: Mapping[str, Any] | None
    queue: str | None
    workload: Workload

    def build(self) -> BuiltJob:
        """Raises ``ExecConfigError`` or ``RoutingError``."""
        return self.plan.build(
            identity=self.identity,
            executor_config=self.executor_config,
            queue=self.queue,
            command=workload_command(self.workload),
        )


@dataclass(frozen=True)
class Planned:
    """A newly arrived try with its route, or the reason it cannot be submitted."""

    key: WorkloadKey
    workload: Workload
    identity: TaskIdentity
    executor_config: Mapping[str, Any] | None
    queue: str | None
    route: str = ""
    job_queue: str = ""
    job_name: str = ""
    error: str | None = None


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
        return Planned(workload.key, workload, identity, executor_config, queue, error=str(exc))
    with contextlib.suppress(Exception):  # a broken log handler must not cost the task
        log.info("batch-router: %s -> route %r (%s)", workload.key, built.route.name, built.reason)
    return Planned(
        workload.key,
        workload,
        identity,
        executor_config,
        queue,
        route=built.route.name,
        job_queue=str(built.kwargs["jobQueue"]),
        job_name=str(built.kwargs["jobName"]),
    )


def _unplannable(workload: Workload, reason: str) -> Planned:
    identity = TaskIdentity(dag_id="?", task_id="?", run_id="?", try_number=0, try_id="?")
    return Planned(workload.key, workload, identity, None, None, error=f"could not plan the task: {reason}")
