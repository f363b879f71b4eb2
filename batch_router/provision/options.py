"""What ``batch-router provision`` is told besides the route table, and what it decides from it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from batch_router.config.model import Route, RouteTable
from batch_router.config.settings import DEFAULT_DEPLOYMENT

__all__ = ["DEFAULT_LOG_GROUP", "ProvisionOptions", "created_job_definitions", "created_queues", "logical_id"]

DEFAULT_LOG_GROUP = "/airflow/batch-router/jobs"
# Job definitions the template makes start with this much (one vCPU, 2 GiB); each task's own size is
# sent with every SubmitJob (containerOverrides / eksPropertiesOverride), so this is only the floor a
# task that gives no hints runs with.
BASE_VCPU, BASE_MEMORY_MIB = 1, 2048


@dataclass(frozen=True)
class ProvisionOptions:
    image: str | None = None  # the worker image; a parameter without a default when not given
    api_server_url: str | None = None  # Airflow's API server as the jobs reach it
    eks_cluster_arn: str | None = None
    eks_namespace: str = "airflow"
    log_group: str = DEFAULT_LOG_GROUP
    remote_log_group: str | None = None  # Airflow's CloudWatch remote logging group, if used
    deployment: str = DEFAULT_DEPLOYMENT  # the executor's DEPLOYMENT: whose jobs the scheduler may stop
    events: bool = False  # the job events path: EventBridge rule, SQS queue and dead-letter queue


def created_queues(table: RouteTable) -> dict[str, list[Route]]:
    """Job queues the template makes (every one not given as an ARN), with the routes that use each."""
    queues: dict[str, list[Route]] = {}
    for route in table.routes:
        if not route.job_queue.startswith("arn:"):
            queues.setdefault(route.job_queue, []).append(route)
    return queues


def created_job_definitions(table: RouteTable) -> dict[str, list[Route]]:
    """Job definitions the template makes: those given by bare name. An ARN or ``name:revision`` names
    a registered revision, which is referenced as it is."""
    definitions: dict[str, list[Route]] = {}
    for route in table.routes:
        ref = route.job_definition
        if not ref.startswith("arn:") and ":" not in ref:
            definitions.setdefault(ref, []).append(route)
    return definitions


def logical_id(name: str, suffix: str, taken: Sequence[str] = ()) -> str:
    """A CloudFormation logical id (letters and digits) for ``name``, unique among ``taken``."""
    base = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)
    candidate = f"{base or 'Route'}{suffix}"
    n = 2
    while candidate in taken:
        candidate = f"{base}{n}{suffix}"
        n += 1
    return candidate
