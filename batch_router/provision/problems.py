"""Why a route table cannot be provisioned as asked, each problem with its route and what to add.

Checked before anything is written, so ``provision`` either writes a whole template or nothing.
"""

from __future__ import annotations

from batch_router.config.compute_kinds import provisioned
from batch_router.config.model import Route, RouteTable
from batch_router.errors import Problem
from batch_router.provision.options import ProvisionOptions, created_job_definitions, created_queues

__all__ = ["GPU_FAMILY_PREFIXES", "SPOT_ONLY_STRATEGIES", "is_gpu_type", "provision_problems"]

# EC2's accelerated computing families with NVIDIA GPUs are the G and P families (Amazon EC2 User
# Guide, "Accelerated computing instances"); Batch's GPU scheduling needs NVIDIA GPUs (AWS Batch User
# Guide, "GPU jobs").
GPU_FAMILY_PREFIXES = ("g", "p")
# API_ComputeResource, allocationStrategy: SPOT_CAPACITY_OPTIMIZED and SPOT_PRICE_CAPACITY_OPTIMIZED
# are for Spot Instance compute resources only.
SPOT_ONLY_STRATEGIES = frozenset({"SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"})
_GPU_EXAMPLE = "[g5, g6, p4d]"


def is_gpu_type(instance_type: str) -> bool:
    family = instance_type.split(".", 1)[0]
    return family.startswith(GPU_FAMILY_PREFIXES)


def provision_problems(table: RouteTable, options: ProvisionOptions | None) -> list[Problem]:
    """``options`` None: only what the route table itself asks that cannot be provisioned (``validate``
    answers before the options ``provision`` takes, such as the EKS cluster, are known)."""
    index = {route.name: i for i, route in enumerate(table.routes)}  # names are unique (route file rule)
    problems: list[Problem] = []
    for queue, routes in created_queues(table).items():
        first = routes[0]
        path = f"routes[{index[first.name]}]"
        for other in routes[1:]:
            if (other.compute, other.provision, other.fair_share) != (
                first.compute,
                first.provision,
                first.fair_share,
            ):
                problems.append(
                    Problem(
                        f"routes[{index[other.name]}].job_queue",
                        f"route {other.name!r} shares job queue {queue!r} with route {first.name!r} but asks"
                        " for other compute, capacity or fair share",
                        "give it a job queue of its own, or the same compute, provision and fair_share",
                    )
                )
        problems += _compute_environment_problems(first, path, options)
    for definition, routes in created_job_definitions(table).items():
        kinds = sorted({route.declared_compute for route in routes})
        if len(kinds) > 1:
            problems.append(
                Problem(
                    f"routes[{index[routes[-1].name]}].job_definition",
                    f"job definition {definition!r} is used by {', '.join(kinds)} routes; one job definition"
                    " runs on one kind of compute",
                    "give each kind of compute its own job definition name",
                )
            )
    return problems


def _compute_environment_problems(route: Route, path: str, options: ProvisionOptions | None) -> list[Problem]:
    problems: list[Problem] = []
    provision = route.provision
    compute = provisioned(route.compute)
    if compute.pods and options is not None and not options.eks_cluster_arn:
        problems.append(
            Problem(
                f"{path}.compute",
                f"route {route.name!r} runs on EKS, and its compute environment must join a cluster",
                "give the cluster: --eks-cluster-arn arn:aws:eks:REGION:ACCOUNT:cluster/NAME",
            )
        )
    gpu_types = [t for t in provision.instance_types if is_gpu_type(t)]
    if compute.gpus and (route.max_gpu or 0) > 0 and not gpu_types:
        problems.append(
            Problem(
                f"{path}.provision.instance_types",
                f"route {route.name!r} holds up to {route.max_gpu} GPU(s) but names no GPU instance family",
                f"add provision.instance_types with GPU families, e.g. {_GPU_EXAMPLE}",
            )
        )
    strategy = provision.allocation_strategy
    if strategy in SPOT_ONLY_STRATEGIES and provision.capacity == "on-demand":
        problems.append(
            Problem(
                f"{path}.provision.allocation_strategy",
                f"{strategy} is for Spot capacity and route {route.name!r} is on-demand",
                "use BEST_FIT_PROGRESSIVE, or capacity: spot / spot-then-on-demand",
            )
        )
    return problems
