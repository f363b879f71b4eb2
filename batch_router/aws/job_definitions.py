"""What a job definition's description says about the jobs that use it: their compute and their size.

The seed's options name a job definition, not a compute; the reference sends every job as ECS
containers and lets AWS judge. batch-router reads the description once at start-up (the health check
describes it anyway), so the implicit route gets its compute's rules and shape, and a Fargate request
that gives one side of its size is checked against the other side the job definition gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from batch_router.aws.batch_client import BatchClient
from batch_router.config.compute_kinds import compute_of_definition
from batch_router.config.model import DefinitionFacts, RouteTable

__all__ = ["definition_facts", "describe_definitions", "in_force"]


def in_force(descriptions: Sequence[Mapping[str, Any]], reference: str) -> Mapping[str, Any] | None:
    """The revision a job submitted with ``reference`` runs: the one it pins (``name:3`` or an ARN),
    else the newest ACTIVE one (SubmitJob: "If the revision is not specified, then the latest active
    revision is used", API_SubmitJob jobDefinition). None when there is no such revision."""
    active = [d for d in descriptions if d.get("status") == "ACTIVE"]
    pinned = reference.rsplit(":", 1)[-1] if ":" in reference.rsplit("/", 1)[-1] else None
    if pinned is not None:
        return next((d for d in active if str(d.get("revision")) == pinned), None)
    return max(active, key=lambda d: int(d.get("revision") or 0), default=None)


def definition_facts(description: Mapping[str, Any]) -> DefinitionFacts:
    """Compute and size from one description.

    Compute (API_JobDefinition): ``eksProperties`` makes it an EKS job definition; otherwise
    ``platformCapabilities`` says EC2, FARGATE or MANAGED_INSTANCES ("If no value is specified, it
    defaults to EC2").
    Size: ``containerProperties.resourceRequirements`` VCPU / MEMORY, or the deprecated ``vcpus`` /
    ``memory`` members; left None for ECS task properties and EKS pods (their sizes are per container).
    """
    compute = compute_of_definition(description)
    container = description.get("containerProperties") or {}
    sizes: dict[str, float] = {}
    for requirement in container.get("resourceRequirements") or ():
        try:
            sizes[str(requirement.get("type"))] = float(requirement.get("value"))
        except (TypeError, ValueError):
            continue
    vcpu = sizes.get("VCPU", _number(container.get("vcpus")))
    memory = sizes.get("MEMORY", _number(container.get("memory")))
    return DefinitionFacts(compute=compute, vcpu=vcpu, memory_mib=memory)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def describe_definitions(client: BatchClient, table: RouteTable) -> dict[str, DefinitionFacts]:
    """The facts of every route's job definition that exists; raises ``BatchApiError`` as the client
    does. One DescribeJobDefinitions call per job definition, at start-up only."""
    facts: dict[str, DefinitionFacts] = {}
    for reference in sorted({route.job_definition for route in table.routes}):
        description = in_force(client.describe_job_definitions(reference), reference)
        if description is not None:
            facts[reference] = definition_facts(description)
    return facts
