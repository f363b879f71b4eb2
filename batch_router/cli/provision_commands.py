"""``batch-router provision`` and ``batch-router iam-policy``: a route table to a template and a policy.

Both read the route table as the executor does (every check of ``validate`` runs first), and either
print a whole answer or nothing: a template is written to a temporary file beside ``-o`` and moved over
it only when complete.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from batch_router.cli.common import print_problems
from batch_router.config.model import RouteTable
from batch_router.config.settings import DEFAULT_DEPLOYMENT
from batch_router.errors import BatchRouterError

__all__ = ["add_parsers"]

ROLES = ("scheduler", "execution", "job", "ui")

DEPLOYMENT_HELP = (
    "the executor's DEPLOYMENT (AIRFLOW__AWS_BATCH_EXECUTOR__DEPLOYMENT): the scheduler may stop only jobs "
    "tagged batch-router:deployment with it (default: %(default)s)"
)


def _table(path: Path) -> RouteTable:
    """The route table as the executor would load it: read, validated, every route's request checked."""
    from batch_router.config.routes import read_route_file
    from batch_router.plan.planner import Plan

    table = read_route_file(path)
    Plan(table).check_routes()
    return table


def _executor_log_group() -> str:
    """LOG_GROUP as the executor would read it here (environment, airflow.cfg), else its default.

    Reading Airflow's configuration may log; that goes to stderr, so the policy on stdout stays JSON.
    """
    from batch_router.config.settings import ExecutorSettings, load_settings

    try:
        with contextlib.redirect_stdout(sys.stderr):
            return load_settings(route_table_given=True).log_group
    except BatchRouterError:
        return ExecutorSettings.model_fields["log_group"].default  # type: ignore[no-any-return]


def cmd_iam_policy(args: argparse.Namespace) -> int:
    import botocore.session

    from batch_router.provision import (
        ArnScope,
        policy_document,
        routes_that_send_elsewhere,
        scheduler_statements,
    )
    from batch_router.provision.arns import sqs_queue_arn
    from batch_router.provision.iam_policy import (
        execution_role_statements,
        job_role_statements,
        ui_statements,
    )
    from batch_router.provision.iam_resources import ecr_repository_arn

    if args.role == "ui":  # the API server serving the Batch routes page (docs/ui.md): any account, any table
        json.dump(policy_document(ui_statements()), sys.stdout, indent=2)
        print()
        return 0
    if args.routes is None:
        print(f"error: iam-policy --role {args.role} needs the route table: --routes FILE", file=sys.stderr)
        return 2

    region = (
        args.region
        or os.environ.get("AIRFLOW__AWS_BATCH_EXECUTOR__REGION_NAME")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        print(
            "error: iam-policy needs the Region of the route table's queues: --region REGION", file=sys.stderr
        )
        return 2
    if not args.account_id:
        print(
            "error: iam-policy needs the account of the route table's queues: --account-id ID",
            file=sys.stderr,
        )
        return 2
    partition = botocore.session.get_session().get_partition_for_region(region)
    scope = ArnScope(partition, region, args.account_id)
    log_groups = args.log_group or [_executor_log_group()]
    try:
        table = _table(args.routes)
    except BatchRouterError as err:
        print_problems(err)
        return 1
    if args.role == "scheduler":
        events_queue = sqs_queue_arn(scope, args.events_queue) if args.events_queue else None
        statements = scheduler_statements(table, scope, log_groups, args.deployment, events_queue)
        for name in routes_that_send_elsewhere(table):
            print(
                f"note: route {name!r} lets executor_config choose the job queue or definition; this policy"
                " allows only the route table's, so jobs sent elsewhere are denied",
                file=sys.stderr,
            )
    elif args.role == "execution":
        repository = ecr_repository_arn(args.image)
        statements = execution_role_statements(scope, log_groups, [repository] if repository else [])
    else:
        statements = job_role_statements(scope, [args.remote_log_group] if args.remote_log_group else [])
    json.dump(policy_document(statements), sys.stdout, indent=2)
    print()
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    from batch_router.provision import ProvisionOptions, build_template
    from batch_router.provision.options import DEFAULT_LOG_GROUP
    from batch_router.provision.template import template_yaml

    options = ProvisionOptions(
        image=args.image,
        api_server_url=args.api_server_url,
        eks_cluster_arn=args.eks_cluster_arn,
        eks_namespace=args.eks_namespace,
        log_group=args.log_group or DEFAULT_LOG_GROUP,
        remote_log_group=args.remote_log_group,
        deployment=args.deployment,
        events=args.events,
    )
    try:
        template = build_template(_table(args.routes), options)
    except BatchRouterError as err:
        print_problems(err)
        if args.output:
            print(f"nothing written to {args.output}", file=sys.stderr)
        return 1
    text = template_yaml(template)
    if not args.output:
        sys.stdout.write(text)
        return 0
    _write_whole(args.output, text)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _write_whole(path: Path, text: str) -> None:
    """The file appears complete or not at all (a temporary file in its folder, then renamed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "provision", help="write the CloudFormation template for a route table's AWS resources"
    )
    p.add_argument("--routes", type=Path, required=True, help="the route table (YAML or JSON)")
    p.add_argument("--image", default=None, help="the worker image URI (default: a template parameter)")
    p.add_argument("--api-server-url", default=None, help="Airflow's Execution API URL as jobs reach it")
    p.add_argument("--eks-cluster-arn", default=None, help="the EKS cluster EKS routes' environments join")
    p.add_argument("--eks-namespace", default="airflow", help="the Kubernetes namespace of EKS jobs")
    p.add_argument(
        "--log-group", default=None, help="the jobs' CloudWatch log group (default: %(prog)s's own)"
    )
    p.add_argument(
        "--remote-log-group", default=None, help="Airflow's CloudWatch remote logging group, if used"
    )
    p.add_argument("-o", "--output", type=Path, default=None, help="write here (default: standard output)")
    p.add_argument("--deployment", default=DEFAULT_DEPLOYMENT, help=DEPLOYMENT_HELP)
    p.add_argument(
        "--events", action="store_true",
        help="add the job events path: an EventBridge rule for the table's queues, the SQS queue (with a "
        "dead-letter queue) it sends to, and the scheduler's right to read it (docs/job-events.md)",
    )  # fmt: skip
    p.set_defaults(func=cmd_provision)

    p = sub.add_parser("iam-policy", help="print the least-privilege IAM policy for a route table")
    p.add_argument(
        "--routes", type=Path, default=None, help="the route table (YAML or JSON; not for --role ui)"
    )
    p.add_argument(
        "--role", choices=ROLES, default="scheduler",
        help="whose policy (default: the scheduler's; ui: the API server serving the Batch routes page)",
    )  # fmt: skip
    p.add_argument("--region", default=None, help="the Region of the queues (default: REGION_NAME)")
    p.add_argument("--account-id", default=None, help="the 12-digit account of the queues")
    p.add_argument(
        "--log-group", action="append", default=None,
        help="a log group the jobs write to (repeatable; default: LOG_GROUP)",
    )  # fmt: skip
    p.add_argument("--image", default=None, help="the worker image (execution role: its ECR repository)")
    p.add_argument("--remote-log-group", default=None, help="Airflow's remote logging group (job role)")
    p.add_argument("--deployment", default=DEFAULT_DEPLOYMENT, help=DEPLOYMENT_HELP)
    p.add_argument(
        "--events-queue", default=os.environ.get("AIRFLOW__AWS_BATCH_EXECUTOR__JOB_EVENTS_QUEUE"),
        help="JOB_EVENTS_QUEUE (URL or ARN): the event reader's SQS actions on it (default: the option)",
    )  # fmt: skip
    p.set_defaults(func=cmd_iam_policy)
