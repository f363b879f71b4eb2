"""The kinds of compute a route can run on, one entry each: everything that differs between them.

Config, rules, plan, aws and provision ask this table instead of comparing names, so a fourth kind is
one more entry (every field is required: a new kind cannot leave one out) and the place where each
difference is used can be found from its field. ``tests/config/test_compute_kinds.py`` keeps the code
from branching on a kind's name elsewhere.

Sources: API_JobDefinition (``platformCapabilities``, ``eksProperties``), API_ComputeResource (``type``:
EC2, SPOT, FARGATE, FARGATE_SPOT), API_ContainerOverrides / API_EksPropertiesOverride (how a job's
request overrides its definition), API_ResourceRequirement (Fargate's vCPU/memory pairs; GPUs are not
available on Fargate), API_SubmitJob (``propagateTags`` is for ECS tasks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "ALL_COMPUTE",
    "KINDS",
    "Compute",
    "ComputeKind",
    "compute_of_definition",
    "kind",
    "kinds_where",
    "pods",
    "provisioned",
]

Compute = Literal["fargate", "ec2", "eks"]


@dataclass(frozen=True)
class ComputeKind:
    name: Compute
    label: str  # in messages: "Fargate", "EC2", "EKS"
    # ECS (containers) or EKS (pods): the compute environment's containerOrchestrationType, which job
    # definitions it takes (containerProperties / eksProperties) and how a request overrides them
    # (containerOverrides / eksPropertiesOverride).
    orchestration: Literal["ECS", "EKS"]
    platform_capability: Literal["FARGATE", "EC2"]  # the job definition's platformCapabilities
    environment_types: tuple[str, str]  # the compute environments' resource type: (on demand, Spot)
    # How a size hint is written: "pairs" (the vCPU/memory pairs Fargate sells, rounded up), "whole"
    # (whole vCPUs for EC2 containers), "pod" (Kubernetes requests and limits, as given).
    sizing: Literal["pairs", "whole", "pod"]
    gpus: bool  # may run GPU jobs
    chooses_hosts: bool  # picks its own hosts: no instance types, allocation strategy or minimum vCPUs
    pod_role: bool  # its jobs take a role of their own per pod (service account), not the definition's

    @property
    def pods(self) -> bool:
        return self.orchestration == "EKS"

    @property
    def overrides_key(self) -> str:
        return "eksPropertiesOverride" if self.pods else "containerOverrides"

    @property
    def propagates_tags(self) -> bool:
        """SubmitJob's propagateTags copies tags to ECS tasks; EKS jobs must not set it."""
        return not self.pods


KINDS: Mapping[str, ComputeKind] = {
    k.name: k
    for k in (
        ComputeKind(
            name="fargate",
            label="Fargate",
            orchestration="ECS",
            platform_capability="FARGATE",
            environment_types=("FARGATE", "FARGATE_SPOT"),
            sizing="pairs",
            gpus=False,
            chooses_hosts=True,
            pod_role=False,
        ),
        ComputeKind(
            name="ec2",
            label="EC2",
            orchestration="ECS",
            platform_capability="EC2",
            environment_types=("EC2", "SPOT"),
            sizing="whole",
            gpus=True,
            chooses_hosts=False,
            pod_role=False,
        ),
        ComputeKind(
            name="eks",
            label="EKS",
            orchestration="EKS",
            platform_capability="EC2",
            environment_types=("EC2", "SPOT"),
            sizing="pod",
            gpus=True,
            chooses_hosts=False,
            pod_role=True,
        ),
    )
}
ALL_COMPUTE: tuple[Compute, ...] = get_args(Compute)


def kind(name: str) -> ComputeKind:
    return KINDS[name]


def pods(name: str | None) -> bool:
    """Whether ``name``'s jobs are EKS pods (None, a compute not known, is not)."""
    return name is not None and KINDS[name].pods


def provisioned(name: str | None) -> ComputeKind:
    """The kind provisioned for a route: its own, or EC2 where its compute is not known (a job
    definition's documented default)."""
    return KINDS[name or "ec2"]


def kinds_where(**wanted: Any) -> tuple[Compute, ...]:
    """The names of the kinds whose fields (or properties) have the given values, in table order."""
    return tuple(k.name for k in KINDS.values() if all(getattr(k, f) == v for f, v in wanted.items()))


def compute_of_definition(description: Mapping[str, Any]) -> Compute:
    """A job definition's compute (API_JobDefinition): ``eksProperties`` makes it EKS; otherwise
    ``platformCapabilities`` says EC2 or FARGATE ("If no value is specified, it defaults to EC2")."""
    pods = bool(description.get("eksProperties"))
    capabilities = description.get("platformCapabilities") or ["EC2"]
    for k in KINDS.values():
        if k.pods == pods and (pods or k.platform_capability in capabilities):
            return k.name
    # Neither named: the documented default, EC2.
    return next(k.name for k in KINDS.values() if k.pods == pods and k.platform_capability == "EC2")
