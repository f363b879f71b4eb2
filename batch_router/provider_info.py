"""What Airflow's ProvidersManager reads of batch-router (the ``apache_airflow_provider`` entry point).

It registers the executor (``airflow providers executors``) and the options batch-router reads in
``[aws_batch_executor]``, each with a description, type, default and example, for ``airflow config``
and the UI's configuration page. The options come from ``ExecutorSettings`` itself, so a new setting
cannot be left out; a test keeps every one described.

The same metadata answers which options set in the section nobody reads (``unknown_options``): the
amazon provider's count as known, read from its own provider info.

Airflow 3.3 merges providers' configuration descriptions section by section (the last provider, in
package-name order, wins a section), and the amazon provider, installed beside us, declares the same
section: see docs/settings.md, "Airflow's view of the options".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, get_args

from batch_router.config.settings import OPTION_NAMES, SECTION, ExecutorSettings
from batch_router.config.unknown_options import options_set, our_options, unknown_option_problems
from batch_router.errors import Problem

__all__ = ["DISTRIBUTION", "get_cli_commands", "get_provider_info", "installed_version", "unknown_options"]

DISTRIBUTION = "airflow-provider-batch-router"
FIRST_VERSION = "0.1.0"

DESCRIPTIONS: dict[str, str] = {
    "job_queue": "Job queue (name or ARN) of the implicit single route; required without a route table.",
    "job_definition": "Job definition (name, name:revision or ARN) of the implicit single route.",
    "job_name": "Prefix of every job name (the rest names the DAG, task, try and a hash of them).",
    "region_name": "AWS region of the job queues (default: the connection's region).",
    "aws_conn_id": "Airflow connection for credentials, role assumption and endpoint overrides.",
    "submit_job_kwargs": "JSON object of SubmitJob arguments under every job (the lowest layer).",
    "eks_properties_override": "JSON eksPropertiesOverride added to SUBMIT_JOB_KWARGS when it has none.",
    "node_override": "Multi-node jobs are not supported; setting this is an error.",
    "max_submit_job_attempts": "Jobs and failed SubmitJob calls one task try may use.",
    "check_health_on_startup": "Check every route (queue, compute, job definition) at start-up.",
    "deployment": "Every job's batch-router:deployment tag; the scheduler's IAM policy stops only these.",
    "compute": "Compute of the implicit route (fargate, ec2, eks or ecs-managed-instances); unset: read "
    "from JOB_DEFINITION.",
    "routes_file": "Path to a route table (YAML or JSON).",
    "routes": "The route table as an inline JSON string (instead of ROUTES_FILE).",
    "poll_interval": "Seconds between DescribeJobs rounds over every unfinished job.",
    "api_concurrency": "Threads that make SubmitJob, look-up and stop calls (1 to 64).",
    "poll_concurrency": "Threads of their own for the poll sweeps' DescribeJobs calls (1 to 16).",
    "submit_rate_limit": "SubmitJob calls per second this executor sends at most (AWS: 50 per account).",
    "describe_rate_limit": "DescribeJobs calls per second the poll sweeps average at most; 0: no limit.",
    "log_group": "CloudWatch Logs group the UI's live task logs are read from.",
    "job_events_queue": "SQS queue (URL or ARN) of AWS Batch's job state change events; unset: polling only.",
    "reconcile_interval": "Seconds between full DescribeJobs sweeps while job events flow.",
    "event_grace_seconds": "A job with no event this long is polled at POLL_INTERVAL until one comes.",
    "events_wait_seconds": "ReceiveMessage long-poll wait of the job events reader (0 to 20).",
    "events_hold_seconds": "How long an event about a job another scheduler follows is left for it.",
    "events_concurrency": "Threads reading the job events queue, 10 messages a call each (1 to 8).",
    "ui_refresh_seconds": "Seconds between the Batch routes page's reads of AWS Batch (one shared read).",
    "ui_window_seconds": "Seconds of jobs the Batch routes page lists (300-86400); RUNNABLE, RUNNING: all.",
    "ui_max_aws_calls": "AWS calls one refresh of the Batch routes page makes at most (4 to 200).",
    "default_queue": "The Airflow queue tasks have unless they say otherwise ([operators] default_queue).",
    "log_aws_requests": "Let botocore's DEBUG wire logging (request bodies hold tokens) through.",
    "retry_mode": "botocore's retry mode for every call but SubmitJob: standard, adaptive or legacy.",
    "retry_base_seconds": "Backoff base of retried calls, resubmits and pauses.",
    "retry_max_seconds": "Backoff cap of retried calls, resubmits and pauses.",
    "terminate_timeout_seconds": "terminate() waits this long for calls under way, then for its stops.",
    "end_grace_seconds": "end() waits this long for calls under way before it leaves them to finish.",
    "health_retry_seconds": "start() retries a health check AWS does not answer this long.",
    "vanished_after_polls": "DescribeJobs rounds in a row that must miss a job before its try fails.",
    "apply_budget_seconds": "Time per heartbeat for applying results of AWS calls.",
    "dispatch_budget_seconds": "Time per heartbeat for handing SubmitJob calls to the API threads.",
    "plan_here_budget_seconds": "Time per heartbeat for planning new tries on the scheduler thread.",
    "plan_chunk": "Planned tries the planning thread hands back at a time.",
    "submit_pipeline_depth": "SubmitJob calls handed to the API threads ahead of time.",
}
EXAMPLES: dict[str, str] = {
    "job_queue": "airflow-fargate",
    "job_definition": "airflow-worker:3",
    "routes_file": "/opt/airflow/routes.yaml",
    "region_name": "us-east-1",
    "submit_job_kwargs": '{"tags": {"team": "data"}}',
}
_TYPES = {bool: "boolean", int: "integer", float: "float"}


def _type_of(annotation: Any) -> str:
    kinds = [a for a in (get_args(annotation) or (annotation,)) if a is not type(None)]
    return _TYPES.get(kinds[0], "string") if len(kinds) == 1 else "string"


def _default_of(name: str) -> str | None:
    field = ExecutorSettings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if value is None:
        return None
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def options() -> dict[str, dict[str, Any]]:
    """Every option batch-router reads, under the name users write it."""
    found = {}
    for name, field in ExecutorSettings.model_fields.items():
        option = OPTION_NAMES.get(name, (name,))[0]
        found[option] = {
            "description": DESCRIPTIONS[name],
            "version_added": FIRST_VERSION,
            "type": _type_of(field.annotation),
            "example": EXAMPLES.get(name),
            "default": _default_of(name),
        }
    return found


def installed_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was not installed
        return FIRST_VERSION


def get_cli_commands() -> list[Any]:
    """No ``airflow`` subcommands: batch-router's CLI is the ``batch-router`` script. Declared all the
    same, because Airflow warns on every CLI call about a provider's executor without a ``cli`` entry."""
    return []


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": DISTRIBUTION,
        "name": "batch-router",
        "description": "Each Airflow task try as an AWS Batch job, routed per task to Fargate, EC2 or EKS.",
        "versions": [installed_version()],
        "executors": ["batch_router.executor.BatchRouterExecutor"],
        "cli": ["batch_router.provider_info.get_cli_commands"],
        "config": {
            SECTION: {
                "description": "batch-router's options (docs/settings.md); the amazon provider's "
                "AwsBatchExecutor reads the same section.",
                "options": options(),
            }
        },
    }


# -- options set that nobody reads (see config.unknown_options) ---------------------------------------


def amazon_options() -> frozenset[str]:
    """The section's options the amazon provider declares (its AwsBatchExecutor reads them)."""
    try:
        from airflow.providers.amazon.get_provider_info import get_provider_info
    except ImportError:  # a dependency of ours; without it only our own names are known
        return frozenset()
    info: dict[str, Any] = get_provider_info()  # type: ignore[no-untyped-call]
    section = info.get("config", {}).get(SECTION, {})
    return frozenset(str(name).lower() for name in section.get("options", {}))


def cfg_options(conf: Any) -> list[str]:
    """The keys airflow.cfg itself has in the section (not defaults, not the environment)."""
    as_dict = getattr(conf, "as_dict", None)
    if as_dict is None:  # a plain ConfSource (tests, tools): no file behind it
        return []
    sections = as_dict(
        display_source=True,
        display_sensitive=True,
        include_env=False,
        include_cmds=False,
        include_secret=False,
    )
    options = sections.get(SECTION, {}) if isinstance(sections, Mapping) else {}
    return [key for key, (_, source) in options.items() if source == "airflow.cfg"]


def unknown_options(conf: Any = None, team_name: str | None = None) -> list[Problem]:
    """The options this process's environment and airflow.cfg set that nobody reads."""
    if conf is None:
        from airflow.configuration import conf as airflow_conf

        conf = airflow_conf
    found = options_set(os.environ, cfg_options(conf), team_name)
    return unknown_option_problems(found, our_options() | amazon_options())
