"""``batch-router``: thin commands over the pieces (validate, plan, provision, iam-policy, local, demo).

Every command answers in two forms: a readable table for people and ``--json`` for scripts. Exit
codes are part of the interface: 0 good, 1 the input is wrong (with ``path: message`` lines), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_router.errors import BatchRouterError, ExecConfigError, RoutingError
from batch_router.plan.model import TaskIdentity

if TYPE_CHECKING:
    from batch_router.plan.planner import Plan

from batch_router.cli.common import PLAN_COMMAND, exec_config_arg, print_problems
from batch_router.cli.plan_command import cmd_plan
from batch_router.cli.provision_commands import add_parsers as add_provision_parsers

__all__ = ["build_parser", "main"]

# ---------------------------------------------------------------- validate


def cmd_validate(args: argparse.Namespace) -> int:
    """The configuration the executor would run with (``--routes``/FILE for its route table, else
    ROUTES_FILE, ROUTES or JOB_QUEUE / JOB_DEFINITION), with SUBMIT_JOB_KWARGS and every setting as
    start-up reads them; what ``provision`` would refuse and caps the provisioned capacity cannot
    hold; then each exec_config, parsed, routed and built as the executor would, so validate and plan
    agree."""
    from batch_router.config.route_capacity import capacity_lines
    from batch_router.config.routes import mode_line
    from batch_router.plan.configured import NothingConfigured, configured_plan

    if args.routes_file is not None and args.routes is not None:
        print(
            "error: give the route table once: `validate FILE` or `validate --routes FILE`", file=sys.stderr
        )
        return 2
    routes: Path | None = args.routes_file or args.routes
    plan: Plan | None = None
    try:
        configured = configured_plan(routes)
        plan = configured.plan
        table = plan.table
        count = f"{len(table.routes)} route{'s' if len(table.routes) != 1 else ''}"
        print(f"{configured.source}: valid ({count}, default {table.default_route!r})")
        print(mode_line(table))
        for line in capacity_lines(table):
            print(line)
    except NothingConfigured as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BatchRouterError as err:
        print_problems(err)
        if routes is not None and getattr(err, "source", None) != str(routes):
            _check_file_alone(routes)  # the settings failed: the file may have problems of its own
    ok = plan is not None and _deployment_ok(plan)
    ok = _settings_ok() and ok
    for source, raw in args.exec_config or ():
        ok = _validate_exec_config(plan, source, raw) and ok
    return 0 if ok else 1


def _check_file_alone(routes: Path) -> None:
    from batch_router.config.routes import read_route_file
    from batch_router.plan.planner import Plan

    try:
        Plan(read_route_file(routes)).check_routes()
    except BatchRouterError as err:
        print_problems(err)


def _deployment_ok(plan: Plan) -> bool:
    """What ``provision`` would refuse (errors) and caps its capacity cannot hold (warnings: AWS would
    take such a job and leave it waiting)."""
    from batch_router.provision.capacity import capacity_warnings
    from batch_router.provision.problems import provision_problems

    if plan.table.implicit:
        return True
    source = plan.table.source
    errors = provision_problems(plan.table, None)
    for problem in errors:
        print(f"{source}: {problem.render()} (batch-router provision would refuse it)")
    for warning in capacity_warnings(plan.table):
        print(f"warning: {source}: {warning.render()}", file=sys.stderr)
    return not errors


def _settings_ok() -> bool:
    """The executor settings this environment and airflow.cfg give, checked as start-up checks them; an
    option nobody reads is an error here (a warning at start-up), JOB_QUEUE beside a table a note."""
    from batch_router.config.settings import load_settings, unused_beside_route_table
    from batch_router.provider_info import unknown_options

    try:
        settings = load_settings(route_table_given=True)
    except BatchRouterError as err:
        print_problems(err)
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
        print_problems(err)
        return False
    return True


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
    return run_local(
        args.routes,
        args.port,
        args.region,
        args.work_dir,
        held=args.hold_capacity,
        throttle_submits=args.throttle_submits,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from batch_router.dev.demo import run_demo
    except ImportError as exc:
        return _needs_local_extra("demo", exc)
    if args.postgres:
        from batch_router.dev.postgres import PostgresMissing, require_postgres

        try:
            require_postgres()
        except PostgresMissing as exc:
            print(f"error: batch-router demo --postgres: {exc}", file=sys.stderr)
            return 2
    return run_demo(keep=args.keep, timeout=args.timeout, postgres=args.postgres, stay=args.stay)


def build_parser() -> argparse.ArgumentParser:
    from batch_router.provider_info import DISTRIBUTION, installed_version

    parser = argparse.ArgumentParser(prog="batch-router", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version", action="version", version=f"batch-router {installed_version()} ({DISTRIBUTION})"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    exec_help = "a task's executor_config: inline JSON, or @path to a JSON or YAML file"
    p = sub.add_parser("validate", help="check a route table (and exec_configs) against the schemas")
    p.add_argument("routes_file", type=Path, nargs="?", help="the route table (YAML or JSON)")
    p.add_argument("--routes", type=Path, default=None, help="the route table (same as the positional form)")
    p.add_argument(
        "--exec-config", action="append", type=exec_config_arg, metavar="JSON_OR_@FILE",
        help=f"{exec_help}; routed and built on the table as plan does (repeatable)",
    )  # fmt: skip
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="show the route and exact SubmitJob request for tasks")
    p.add_argument("--routes", type=Path, default=None, help="route table (default: the bundled example)")
    p.add_argument("--exec-config", type=exec_config_arg, metavar="JSON_OR_@FILE", help=exec_help)
    p.add_argument("--queue", default=None, help="the task's Airflow queue (with --exec-config)")
    p.add_argument(
        "--dags", type=Path, help="a DAG folder, loaded with Airflow's DagBag (default: the examples)"
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts instead of the table")
    p.set_defaults(func=cmd_plan)

    add_provision_parsers(sub)

    p = sub.add_parser("schema", help="print a JSON Schema")
    p.add_argument("name", choices=sorted(SCHEMA_NAMES), help="which schema")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("local", help="run a local AWS Batch (moto + a local job runner)")
    p.add_argument(
        "--routes", type=Path, default=None, help="provision these routes (default: the bundled example)"
    )
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--region", default="us-east-1", help="the AWS region it answers for")
    p.add_argument(
        "--work-dir", type=Path, default=None, help="where jobs run (default: a temporary folder, removed)"
    )
    p.add_argument(
        "--hold-capacity",
        action="append",
        default=[],
        metavar="JOB_QUEUE",
        help="act as if EC2 had no instances for this queue: its jobs wait in RUNNABLE with AWS's "
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY reason (repeatable)",
    )
    p.add_argument(
        "--throttle-submits", type=int, default=0, metavar="N",
        help="answer the first N SubmitJob calls with AWS's throttling error (429 TooManyRequestsException)",
    )  # fmt: skip
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("demo", help="run the demo DAG through the executor on the local Batch")
    p.add_argument("--keep", action="store_true", help="keep the temporary AIRFLOW_HOME")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds the demo DAG run may take")
    p.add_argument(
        "--stay", action="store_true",
        help="keep Airflow and the local Batch running after the run (Airflow's UI, the Batch routes page)",
    )  # fmt: skip
    p.add_argument(
        "--postgres", action="store_true",
        help="keep Airflow's metadata on a real PostgreSQL server (the 'postgres' extra) instead of SQLite",
    )  # fmt: skip
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
