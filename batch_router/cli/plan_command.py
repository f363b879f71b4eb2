"""``batch-router plan``: the route and the exact SubmitJob request of each task (DAGs or one exec_config)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_router.errors import BatchRouterError, ExecConfigError, RoutingError
from batch_router.plan.model import TaskIdentity
from batch_router.rules import MAX_PAYLOAD_BYTES

if TYPE_CHECKING:
    from batch_router.plan.planner import Plan

from batch_router.cli.common import PLAN_COMMAND, print_problems
from batch_router.config.routes import mode_line
from batch_router.plan.configured import Configured, configured_plan, stdout_to_stderr

# ---------------------------------------------------------------- plan


# A task token is a JWT of about 380 characters (Airflow 3.3, HS512); the sample says so at twice that.
_SAMPLE_TOKEN = "<a task token of about this size>".ljust(760, ".")


def _sample_command(identity: TaskIdentity, executor_config: Any, queue: str | None) -> list[str]:
    """The command a real try of this task would carry: its whole workload as JSON, token included.

    SubmitJob's 30 KiB limit counts the command (about 1.3 KB of workload JSON), so ``plan`` measures
    the request with this, not with a placeholder.
    """
    import uuid

    with stdout_to_stderr():
        from airflow.executors.workloads import BundleInfo, ExecuteTask, TaskInstanceDTO

    ti = TaskInstanceDTO(
        id=uuid.uuid4(),
        dag_version_id=uuid.uuid4(),
        dag_id=identity.dag_id,
        task_id=identity.task_id,
        run_id=identity.run_id,
        try_number=identity.try_number,
        map_index=identity.map_index,
        queue=queue or "default",
        pool_slots=1,
        priority_weight=1,
        executor_config=executor_config,
        external_executor_id=str(uuid.uuid4()),
    )
    workload = ExecuteTask(
        ti=ti,
        dag_rel_path=Path(f"{identity.dag_id}.py"),
        token=_SAMPLE_TOKEN,
        log_path=f"dag_id={identity.dag_id}/run_id={identity.run_id}/task_id={identity.task_id}/attempt=1.log",
        bundle_info=BundleInfo(name="dags-folder"),
    )
    return [*PLAN_COMMAND[:-1], workload.model_dump_json()]


def _plan_one(plan: Plan, identity: TaskIdentity, executor_config: Any, queue: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"dag_id": identity.dag_id, "task_id": identity.task_id, "queue": queue}
    try:
        command = _sample_command(identity, executor_config, queue)
    except Exception:  # an executor_config the workload model refuses is reported by plan.build below
        command = PLAN_COMMAND
    try:
        built = plan.build(identity=identity, executor_config=executor_config, queue=queue, command=command)
    except (ExecConfigError, RoutingError) as err:
        row.update(ok=False, error=str(err))
        return row
    size = len(json.dumps(built.kwargs, separators=(",", ":"), default=str).encode())
    shown = _with_placeholder_command(built.kwargs, len(command[-1]))
    row.update(
        ok=True,
        route=built.route.name,
        compute=built.route.compute,
        job_queue=built.kwargs["jobQueue"],  # what is sent, which the policy may let differ from the route's
        job_definition=built.kwargs["jobDefinition"],
        why=built.reason,
        notes=list(built.notes),
        request_bytes=size,
        submit_job_kwargs=shown,
    )
    retry = _retry_route(plan, identity, executor_config, queue)
    if retry is not None and retry.route.name != built.route.name:
        row.update(
            retry_route=retry.route.name, retry_job_queue=retry.kwargs["jobQueue"], retry_why=retry.reason
        )
    return row


def _retry_route(plan: Plan, identity: TaskIdentity, executor_config: Any, queue: str | None) -> Any:
    """Where the task's retries (try 2 and later) go, when the route names a retry_route."""
    try:
        return plan.build(
            identity=dataclasses.replace(identity, try_number=max(2, identity.try_number + 1)),
            executor_config=executor_config,
            queue=queue,
        )
    except (ExecConfigError, RoutingError):
        return None


def _with_placeholder_command(kwargs: Mapping[str, Any], workload_size: int) -> dict[str, Any]:
    """The request as printed: the workload JSON in the command stands as ``<workload: N bytes>``."""
    shown: dict[str, Any] = json.loads(json.dumps(kwargs, default=str))
    pod = (shown.get("eksPropertiesOverride") or {}).get("podProperties") or {}
    for container in [shown.get("containerOverrides") or {}, *(pod.get("containers") or [])]:
        command = container.get("command")
        if isinstance(command, list) and command[:-1] == PLAN_COMMAND[:-1]:
            command[-1] = f"<workload: {workload_size:,} bytes>"
    return shown


def _dag_tasks(dags_dir: Path) -> tuple[list[tuple[TaskIdentity, Any, str | None]], dict[str, str]]:
    from airflow.dag_processing.dagbag import DagBag

    with stdout_to_stderr():  # Airflow logs while parsing; stdout is for the plan
        bag = DagBag(dag_folder=str(dags_dir), safe_mode=False)
    tasks: list[tuple[TaskIdentity, Any, str | None]] = []
    for dag_id in sorted(bag.dags):
        dag = bag.dags[dag_id]
        for task in sorted(dag.tasks, key=lambda t: t.task_id):
            identity = TaskIdentity(dag_id=dag_id, task_id=task.task_id, run_id="manual__plan", try_number=1)
            tasks.append((identity, task.executor_config or None, task.queue))
    return tasks, dict(bag.import_errors)


def cmd_plan(args: argparse.Namespace) -> int:
    from batch_router import examples

    if args.dags is None and args.exec_config is None:
        args.dags = examples.DAGS_DIR
    try:
        configured = configured_plan(args.routes, example=examples.ROUTES_FILE)
    except BatchRouterError as err:
        print_problems(err)
        return 1
    plan = configured.plan
    import_errors: dict[str, str] = {}
    if args.dags:
        if not args.dags.is_dir():
            print(f"error: --dags {args.dags}: no such folder", file=sys.stderr)
            return 2
        tasks, import_errors = _dag_tasks(args.dags)
        if not tasks and not import_errors:
            print(f"error: --dags {args.dags}: no DAGs found in this folder", file=sys.stderr)
            return 1
    else:
        identity = TaskIdentity(dag_id="adhoc", task_id="task", run_id="manual__plan", try_number=1)
        tasks = [(identity, args.exec_config[1], args.queue)]
    rows = [_plan_one(plan, ident, cfg, queue) for ident, cfg, queue in tasks]
    heading = _heading(configured)
    routes_file = _routes_file(args.routes, configured)
    if args.json:
        if configured.example:
            print(heading[0], file=sys.stderr)
        json.dump(
            {
                "routes_source": configured.source,
                "routes_file": str(routes_file) if routes_file else None,
                "example": configured.example,
                "mode": "seed" if plan.table.implicit else "route table",
                "tasks": rows,
                "import_errors": import_errors,
            },
            sys.stdout,
            indent=2,
            default=str,
        )
        print()
    else:
        print("\n".join(heading) + "\n")
        _print_plan(rows, import_errors)
    return 0 if all(r["ok"] for r in rows) and not import_errors else 1


def _heading(configured: Configured) -> list[str]:
    """First the table's source (and, for the example, that nothing was configured), then the mode."""
    lines = []
    if configured.example:
        lines.append(
            "nothing configured (no ROUTES_FILE, ROUTES or JOB_QUEUE / JOB_DEFINITION in "
            f"[aws_batch_executor]): planning {configured.source}"
        )
    else:
        lines.append(f"routes: {configured.source}")
    lines.append(mode_line(configured.plan.table))
    return lines


def _routes_file(given: Path | None, configured: Configured) -> Path | None:
    if given is not None:
        return given
    if configured.example:
        from batch_router import examples

        return examples.ROUTES_FILE
    return configured.settings.routes_file


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _short(text: str, width: int = 72) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_plan(rows: list[dict[str, Any]], import_errors: Mapping[str, str]) -> None:
    summary = [
        [
            f"{r['dag_id']}.{r['task_id']}",
            r.get("route", "-"),
            r.get("compute") or ("not known" if r["ok"] else "-"),
            r.get("job_queue", "-"),
            _short(r["why"]) if r["ok"] else "ERROR (see below)",
        ]
        for r in rows
    ]
    print(_table(["task", "route", "compute", "job queue", "why"], summary))
    for r in rows:
        print(f"\n== {r['dag_id']}.{r['task_id']}")
        if not r["ok"]:
            print(r["error"])
            continue
        print(f"why: {r['why']}")
        if r.get("retry_route"):
            print(f"retries: route {r['retry_route']!r} (job queue {r['retry_job_queue']}): {r['retry_why']}")
        print(f"size: {r['request_bytes']:,} bytes (SubmitJob takes at most {MAX_PAYLOAD_BYTES:,})")
        for note in r["notes"]:
            print(f"note: {note}")
        print(json.dumps(r["submit_job_kwargs"], indent=2, default=str))
    for path, error in import_errors.items():
        print(f"\nimport error in {path}:\n{error}")
