"""The kinds of compute a route can run on, one entry each: everything that differs between them.

Config, rules, plan, aws and provision ask this table instead of comparing names, so a fourth kind is
one more entry (every field is required: a new kind cannot leave one out) and the place where each
difference is used can be found from its field. ``tests/config/test_compute_kinds.py`` keeps the code
from branching on a kind's name elsewhere.

Sources: API_JobDefinition (``platformCapabilities``, ``eksProperties``), API_ComputeResource (``type``:
EC2, SPOT, FARGATE, FARGATE_SPOT, ECS_MANAGED_INSTANCES), API_ContainerOverrides /
API_EcsPropertiesOverride / API_EksPropertiesOverride (how a job's request overrides its definition),
API_ResourceRequirement (Fargate's vCPU/memory pairs; GPUs are not available on Fargate), API_SubmitJob
(``propagateTags`` is for ECS tasks); AWS Batch user guide, "Amazon ECS Managed Instances" ("Job
definitions on Amazon ECS Managed Instances": ``ecsProperties`` with platform capability
MANAGED_INSTANCES, no ``containerProperties``, GPUs supported, any vCPU/memory the instance types
hold; "Compute environments on Amazon ECS Managed Instances": one type, ECS_MANAGED_INSTANCES, Spot
through ``capacityOptionType``, instance types through ``instanceRequirements``, ECS picks the
instances).
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

Compute = Literal["fargate", "ec2", "eks", "ecs-managed-instances"]


@dataclass(frozen=True)
class ComputeKind:
    name: Compute
    label: str  # in messages: "Fargate", "EC2", "EKS", "ECS Managed Instances"
    # ECS (containers) or EKS (pods): the compute environment's containerOrchestrationType.
    orchestration: Literal["ECS", "EKS"]
    # What its job definitions hold and its requests override: "container" (containerProperties /
    # containerOverrides), "task" (ecsProperties / ecsPropertiesOverride.taskProperties[0]), "pod"
    # (eksProperties / eksPropertiesOverride.podProperties).
    shape: Literal["container", "task", "pod"]
    platform_capability: Literal["FARGATE", "EC2", "MANAGED_INSTANCES"]  # the job definition's
    environment_types: tuple[str, str]  # the compute environments' resource type: (on demand, Spot)
    # How Spot is asked for: by the environment's resource type (FARGATE_SPOT, SPOT) or, one type for
    # both, by the managed instances provider's capacityOptionType (SPOT / ON_DEMAND).
    spot_by: Literal["type", "capacity_option"]
    # How a size hint is written: "pairs" (the vCPU/memory pairs Fargate sells, rounded up), "whole"
    # (whole vCPUs for EC2 containers), "pod" (Kubernetes requests and limits, as given).
    sizing: Literal["pairs", "whole", "pod"]
    gpus: bool  # may run GPU jobs
    # Picks its own hosts: no allocation strategy, minimum vCPUs or launch template of batch-router's.
    chooses_hosts: bool
    instance_types: bool  # a route may name the instance types its compute environments use
    pod_role: bool  # its jobs take a role of their own per pod (service account), not the definition's

    @property
    def pods(self) -> bool:
        return self.orchestration == "EKS"

    @property
    def overrides_key(self) -> str:
        return {
            "container": "containerOverrides",
            "task": "ecsPropertiesOverride",
            "pod": "eksPropertiesOverride",
        }[self.shape]

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
            shape="container",
            platform_capability="FARGATE",
            environment_types=("FARGATE", "FARGATE_SPOT"),
            spot_by="type",
            sizing="pairs",
            gpus=False,
            chooses_hosts=True,
            instance_types=False,
            pod_role=False,
        ),
        ComputeKind(
            name="ec2",
            label="EC2",
            orchestration="ECS",
            shape="container",
            platform_capability="EC2",
            environment_types=("EC2", "SPOT"),
            spot_by="type",
            sizing="whole",
            gpus=True,
            chooses_hosts=False,
            instance_types=True,
            pod_role=False,
        ),
        ComputeKind(
            name="eks",
            label="EKS",
            orchestration="EKS",
            shape="pod",
            platform_capability="EC2",
            environment_types=("EC2", "SPOT"),
            spot_by="type",
            sizing="pod",
            gpus=True,
            chooses_hosts=False,
            instance_types=True,
            pod_role=True,
        ),
        # ECS tasks on EC2 instances that ECS launches, scales and patches itself. Sized as EC2
        # containers are: the user guide allows "any values that fit within the instance types", and
        # the builder writes whole vCPUs from hints as on EC2 (a raw fraction is let through).
        ComputeKind(
            name="ecs-managed-instances",
            label="ECS Managed Instances",
            orchestration="ECS",
            shape="task",
            platform_capability="MANAGED_INSTANCES",
            environment_types=("ECS_MANAGED_INSTANCES", "ECS_MANAGED_INSTANCES"),
            spot_by="capacity_option",
            sizing="whole",
            gpus=True,
            chooses_hosts=True,
            instance_types=True,
            pod_role=False,
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
    ``platformCapabilities`` says EC2, FARGATE or MANAGED_INSTANCES ("If no value is specified, it
    defaults to EC2")."""
    pods = bool(description.get("eksProperties"))
    capabilities = description.get("platformCapabilities") or ["EC2"]
    for k in KINDS.values():
        if k.pods == pods and (pods or k.platform_capability in capabilities):
            return k.name
    # Neither named: the documented default, EC2.
    return next(k.name for k in KINDS.values() if k.pods == pods and k.platform_capability == "EC2")
