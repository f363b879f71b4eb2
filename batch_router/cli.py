"""``batch-router``: thin commands over the pieces (validate, plan, schema, local, demo).

Every command answers in two forms: a readable table for people and ``--json`` for scripts. Exit
codes are part of the interface: 0 good, 1 the input is wrong (with ``path: message`` lines), 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_router.config.model import RouteTable
from batch_router.errors import BatchRouterError, ExecConfigError, ProblemsError, RoutingError
from batch_router.plan.model import TaskIdentity
from batch_router.rules import MAX_PAYLOAD_BYTES

if TYPE_CHECKING:
    from batch_router.plan.planner import Plan

PLAN_COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "<workload>"]


def _exec_config_arg(value: str) -> tuple[str, Any]:
    """``--exec-config`` takes JSON inline or ``@path`` to a JSON/YAML file."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise argparse.ArgumentTypeError(f"{path} is not UTF-8 text") from None
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                return str(path), yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise argparse.ArgumentTypeError(f"{path} is not valid YAML: {exc}") from None
        try:
            return str(path), json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    try:
        return "--exec-config", json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg} (use @file for a file)") from None


def _print_problems(err: BatchRouterError) -> None:
    if isinstance(err, ProblemsError):
        for line in err.lines():
            print(f"{err.source}: {line}")
    else:
        print(str(err))


# ---------------------------------------------------------------- validate


def cmd_validate(args: argparse.Namespace) -> int:
    """The route table (schema, then each route's own request against AWS's rules), then each
    exec_config: parsed, routed and built as the executor would, so validate and plan agree.

    Only the route file is read: SUBMIT_JOB_KWARGS from airflow.cfg is not applied here (``plan`` does).
    """
    from batch_router.config.routes import read_route_file
    from batch_router.plan.planner import Plan

    plan: Plan | None = None
    try:
        table = read_route_file(args.routes_file)
        Plan(table).check_routes()
        plan = Plan(table)
        print(f"{args.routes_file}: valid ({len(table.routes)} routes, default {table.default_route!r})")
    except BatchRouterError as err:
        _print_problems(err)
    ok = plan is not None
    ok = _settings_ok() and ok
    for source, raw in args.exec_config or ():
        ok = _validate_exec_config(plan, source, raw) and ok
    return 0 if ok else 1


def _settings_ok() -> bool:
    """The executor settings this environment and airflow.cfg give, checked as start-up checks them; an
    option nobody reads is an error here (a warning at start-up), JOB_QUEUE beside a table a note."""
    from batch_router.config.settings import load_settings, unused_beside_route_table
    from batch_router.executor.section_options import unknown_options

    try:
        settings = load_settings(route_table_given=True)
    except BatchRouterError as err:
        _print_problems(err)
        return False
    for note in unused_beside_route_table(settings):
        print(f"note: {note.path} {note.message} ({note.hint})", file=sys.stderr)
    problems = unknown_options()
    for problem in problems:
        hint = f" ({problem.hint})" if problem.hint else ""
        print(f"error: {problem.path}: {problem.message}{hint}", file=sys.stderr)
    return not problems


def _validate_exec_config(plan: Plan | None, source: str, raw: Any) -> bool:
    from batch_router.config.exec_config import parse_exec_config

    try:
        parse_exec_config(raw, source=source)
        if plan is not None:
            identity = TaskIdentity(
                dag_id="validate", task_id="task", run_id="manual__validate", try_number=1
            )
            built = plan.build(identity=identity, executor_config=raw, queue=None, command=PLAN_COMMAND)
            print(f"{source}: valid exec_config (route {built.route.name!r})")
        else:
            print(f"{source}: valid exec_config (not built: the route table is not valid)")
    except (ExecConfigError, RoutingError) as err:
        _print_problems(err)
        return False
    return True


# ---------------------------------------------------------------- plan


def _plan_for(table: RouteTable, routes_file: Path) -> Plan:
    """The plan this machine's Airflow config makes of ``table``: its SUBMIT_JOB_KWARGS, JOB_NAME and
    default queue, as the executor would use them with ROUTES_FILE pointing at ``routes_file``."""
    from batch_router.config.settings import load_settings
    from batch_router.plan.planner import Plan

    class WithRoutes:
        def __init__(self, inner: Any):
            self._inner = inner

        def get(self, section: str, key: str, *a: Any, **kw: Any) -> Any:
            if key in ("routes_file", "routes"):
                return str(routes_file) if key == "routes_file" else None
            return self._inner.get(section, key, *a, **kw)

    with _stdout_to_stderr():  # importing Airflow's configuration may log
        from airflow.configuration import conf

    settings = load_settings(WithRoutes(conf))
    default_queue = conf.get("operators", "default_queue", fallback="default") or "default"
    return Plan.from_settings(settings, table, default_queue=default_queue)


# A task token is a JWT of about 380 characters (Airflow 3.3, HS512); the sample says so at twice that.
_SAMPLE_TOKEN = "<a task token of about this size>".ljust(760, ".")


def _sample_command(identity: TaskIdentity, executor_config: Any, queue: str | None) -> list[str]:
    """The command a real try of this task would carry: its whole workload as JSON, token included.

    SubmitJob's 30 KiB limit counts the command (about 1.3 KB of workload JSON), so ``plan`` measures
    the request with this, not with a placeholder.
    """
    import uuid

    with _stdout_to_stderr():
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
    return row


def _with_placeholder_command(kwargs: Mapping[str, Any], workload_size: int) -> dict[str, Any]:
    """The request as printed: the workload JSON in the command stands as ``<workload: N bytes>``."""
    shown: dict[str, Any] = json.loads(json.dumps(kwargs, default=str))
    pod = (shown.get("eksPropertiesOverride") or {}).get("podProperties") or {}
    for container in [shown.get("containerOverrides") or {}, *(pod.get("containers") or [])]:
        command = container.get("command")
        if isinstance(command, list) and command[:-1] == PLAN_COMMAND[:-1]:
            command[-1] = f"<workload: {workload_size:,} bytes>"
    return shown


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout, by Python or by loggers holding the raw stream, to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _dag_tasks(dags_dir: Path) -> tuple[list[tuple[TaskIdentity, Any, str | None]], dict[str, str]]:
    from airflow.dag_processing.dagbag import DagBag

    with _stdout_to_stderr():  # Airflow logs while parsing; stdout is for the plan
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
    from batch_router.config.routes import read_route_file

    if args.routes is None:
        args.routes = examples.ROUTES_FILE
    if args.dags is None and args.exec_config is None:
        args.dags = examples.DAGS_DIR
    try:
        plan = _plan_for(read_route_file(args.routes), args.routes)
    except BatchRouterError as err:
        _print_problems(err)
        return 1
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
    if args.json:
        json.dump(
            {"routes_file": str(args.routes), "tasks": rows, "import_errors": import_errors},
            sys.stdout,
            indent=2,
            default=str,
        )
        print()
    else:
        _print_plan(rows, import_errors)
    return 0 if all(r["ok"] for r in rows) and not import_errors else 1


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
            r.get("compute", "-"),
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
        print(f"size: {r['request_bytes']:,} bytes (SubmitJob takes at most {MAX_PAYLOAD_BYTES:,})")
        for note in r["notes"]:
            print(f"note: {note}")
        print(json.dumps(r["submit_job_kwargs"], indent=2, default=str))
    for path, error in import_errors.items():
        print(f"\nimport error in {path}:\n{error}")


# ---------------------------------------------------------------- schema


SCHEMA_NAMES = {"routes": "routes", "exec-config": "exec_config", "submit-job": "submit_job"}


def cmd_schema(args: argparse.Namespace) -> int:
    from batch_router.config.schemas import load_schema

    json.dump(load_schema(SCHEMA_NAMES[args.name]), sys.stdout, indent=2)
    print()
    return 0


# ---------------------------------------------------------------- local, demo


def _needs_local_extra(command: str, exc: ImportError) -> int:
    """The local Batch and the demo need moto, which only the ``local`` extra installs."""
    from importlib.metadata import packages_distributions

    dist = (packages_distributions().get("batch_router") or ["batch-router"])[0]
    print(
        f"error: batch-router {command} needs the 'local' extra ({exc.name or 'moto'} is not installed): "
        f"pip install '{dist}[local]'",
        file=sys.stderr,
    )
    return 2


def cmd_local(args: argparse.Namespace) -> int:
    try:
        from batch_router.dev.local import run_local
    except ImportError as exc:
        return _needs_local_extra("local", exc)
    return run_local(args.routes, args.port, args.region)


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from batch_router.dev.demo import run_demo
    except ImportError as exc:
        return _needs_local_extra("demo", exc)
    return run_demo(keep=args.keep, timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batch-router", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a route table (and exec_configs) against the schemas")
    p.add_argument("routes_file", type=Path)
    p.add_argument("--exec-config", action="append", type=_exec_config_arg, metavar="JSON_OR_@FILE")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="show the route and exact SubmitJob request for tasks")
    p.add_argument("--routes", type=Path, default=None, help="route table (default: the bundled example)")
    p.add_argument("--exec-config", type=_exec_config_arg, metavar="JSON_OR_@FILE")
    p.add_argument("--queue", default=None)
    p.add_argument(
        "--dags", type=Path, help="a DAG folder, loaded with Airflow's DagBag (default: the examples)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("schema", help="print a JSON Schema")
    p.add_argument("name", choices=sorted(SCHEMA_NAMES))
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("local", help="run a local AWS Batch (moto + a local job runner)")
    p.add_argument("--routes", type=Path, default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--region", default="us-east-1")
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("demo", help="run the demo DAG through the executor on the local Batch")
    p.add_argument("--keep", action="store_true", help="keep the temporary AIRFLOW_HOME")
    p.add_argument("--timeout", type=float, default=600.0)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
