"""One task try in, one SubmitJob request out: the only way the executor and ``batch-router plan`` build jobs.

Keeping parse -> route -> build behind one call means what ``plan`` prints is exactly what the executor
would submit, and the executor has a single place where a task's configuration can fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from batch_router.config.exec_config import parse_exec_config
from batch_router.config.model import RouteTable
from batch_router.plan.job_builder import build_submit_job
from batch_router.plan.model import BuiltJob, TaskIdentity
from batch_router.plan.router import choose_route

# What the reference executor sets in every job, so Airflow's task runner knows it runs in a worker.
DEFAULT_EXECUTOR_ENV: Mapping[str, str] = {"AIRFLOW_IS_EXECUTOR_CONTAINER": "true"}


def plan_task(
    table: RouteTable,
    *,
    base_kwargs: Mapping[str, Any],
    job_name_prefix: str,
    executor_config: Mapping[str, Any] | None,
    queue: str | None,
    identity: TaskIdentity,
    command: Sequence[str],
    executor_env: Mapping[str, str] | None = None,
    default_queue: str = "default",
) -> BuiltJob:
    """Parse the task's executor_config, choose its route and build its request.

    Raises ``ExecConfigError`` (bad executor_config or request) or ``RoutingError`` (no route fits);
    either fails this task only.
    """
    exec_config = parse_exec_config(
        executor_config, source=f"executor_config of {identity.dag_id}.{identity.task_id}"
    )
    choice = choose_route(table, exec_config.hints, queue, default_queue=default_queue)
    return build_submit_job(
        base_kwargs=base_kwargs,
        table=table,
        choice=choice,
        exec_config=exec_config,
        identity=identity,
        command=command,
        job_name_prefix=job_name_prefix,
        executor_env=DEFAULT_EXECUTOR_ENV if executor_env is None else executor_env,
    )
