"""Airflow workloads as Batch sees them: the command a job runs, the try it belongs to, a fresh token.

The command carries the whole workload as JSON, so a job's own description is enough to rebuild the
workload of a job this scheduler did not submit (adoption) and to submit it again with a new token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.executors.workloads import ExecuteCallback, ExecuteTask

from batch_router.aws.job_states import job_containers
from batch_router.plan.model import TaskIdentity

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.tokens import JWTGenerator

Workload = ExecuteTask | ExecuteCallback

COMMAND_PREFIX = ("python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string")


def workload_command(workload: Workload) -> list[str]:
    """The container command: the Task SDK's workload runner with the workload as JSON."""
    return payload_command(workload.model_dump_json())


def payload_command(payload: str) -> list[str]:
    """The container command for a workload already written as JSON (a try's ``payload``)."""
    return [*COMMAND_PREFIX, payload]


def task_identity(workload: Workload, try_id: str | None = None) -> TaskIdentity:
    """The try a workload runs. Callbacks run once, so their id stands in for the task and the try."""
    if isinstance(workload, ExecuteTask):
        ti = workload.ti
        return TaskIdentity(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            try_number=ti.try_number,
            map_index=ti.map_index if ti.map_index is not None else -1,
            try_id=try_id or ti.external_executor_id or str(ti.id),
        )
    callback = workload.callback
    path = str(callback.data.get("path", "") or "")
    return TaskIdentity(
        dag_id=str(callback.data.get("dag_id") or "callback"),
        task_id=path.rsplit(".", 1)[-1] or "callback",
        run_id=str(callback.id),
        try_number=1,
        try_id=try_id or str(callback.id),
    )


def executor_config_of(workload: Workload) -> Mapping[str, Any] | None:
    return workload.ti.executor_config if isinstance(workload, ExecuteTask) else None


def queue_of(workload: Workload) -> str | None:
    """Tasks route by their Airflow queue; callbacks always take the default route."""
    return workload.ti.queue if isinstance(workload, ExecuteTask) else None


def with_fresh_token(workload: Workload, generator: JWTGenerator) -> Workload:
    """A copy of ``workload`` with a newly signed token, valid for ``[scheduler] task_queued_timeout``."""
    subject = str(workload.ti.id) if isinstance(workload, ExecuteTask) else str(workload.callback.id)
    return workload.model_copy(update={"token": workload.generate_token(subject, generator)})


def fresh_workload(ti: Any, generator: JWTGenerator) -> Workload | None:
    """A workload for the scheduler's task instance row, with a freshly signed token, the way the
    scheduler itself makes one; ``None`` when the row lacks what that needs (its DAG and run)."""
    try:
        return ExecuteTask.make(ti, generator=generator)
    except Exception:
        return None


def command_of_job(job: Mapping[str, Any]) -> Sequence[str] | None:
    """The first command among the job's containers (``job_states.job_containers``: an ECS container,
    an ECS Managed Instances task's containers, an EKS pod's)."""
    for container in job_containers(job):
        if container.get("command"):
            return [str(part) for part in container["command"]]
    return None


def restored(workload: Workload, try_id: str, executor_config: Mapping[str, Any] | None) -> Workload:
    """A workload read back from a job's command, with what its JSON leaves out put back: the try's
    id and its executor_config (a try is planned from both again)."""
    if not isinstance(workload, ExecuteTask):
        return workload
    known = {"external_executor_id": try_id, "executor_config": executor_config}
    return workload.model_copy(update={"ti": workload.ti.model_copy(update=known)})


def workload_from_job(job: Mapping[str, Any]) -> Workload | None:
    """The workload a job of ours runs, read back from its command; ``None`` if it cannot be read."""
    command = command_of_job(job)
    if not command or len(command) <= len(COMMAND_PREFIX) or tuple(command[:-1]) != COMMAND_PREFIX:
        return None
    return workload_from_payload(command[-1])


def workload_from_payload(payload: str) -> Workload | None:
    """A workload from its JSON (a job's command, or a try's ``payload``); ``None`` if it cannot be read."""
    try:
        data = json.loads(payload)
        if data.get("type") == "ExecuteCallback":
            return ExecuteCallback.model_validate(data)
        return ExecuteTask.model_validate(data)
    except (ValueError, TypeError, AttributeError, RecursionError):  # RecursionError: nested thousands deep
        return None
