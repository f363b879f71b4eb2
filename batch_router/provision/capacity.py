"""Caps a route allows that the compute `provision` makes for it can never hold: such a job would wait
in RUNNABLE for ever (AWS Batch accepts it and leaves it waiting), so ``validate`` says so before
deploying, as a warning.

Pure: the route table in, problems out.
"""

from __future__ import annotations

from batch_router.config.model import Route, RouteTable
from batch_router.errors import Problem

__all__ = ["LARGEST_GPU_COUNT", "capacity_warnings"]

# The most NVIDIA GPUs one instance of each family has (Amazon EC2 instance types, "Accelerated
# computing instance specifications": https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html).
# An upper bound for any size of the family; families not listed are not judged.
LARGEST_GPU_COUNT: dict[str, int] = {
    "p2": 16,
    "p3": 8,
    "p3dn": 8,
    "p4d": 8,
    "p4de": 8,
    "p5": 8,
    "p5e": 8,
    "p5en": 8,
    "g3": 4,
    "g4dn": 8,
    "g5": 8,
    "g5g": 2,
    "g6": 8,
    "g6e": 8,
}


def capacity_warnings(table: RouteTable) -> list[Problem]:
    index = {route.name: i for i, route in enumerate(table.routes)}
    return [p for route in table.routes for p in _route_warnings(route, f"routes[{index[route.name]}]")]


def _route_warnings(route: Route, path: str) -> list[Problem]:
    warnings: list[Problem] = []
    provision = route.provision
    if route.max_vcpu is not None and route.max_vcpu > provision.max_vcpus:
        warnings.append(
            Problem(
                f"{path}.max_vcpu",
                f"route {route.name!r} allows jobs of {route.max_vcpu:g} vCPU, but the compute environment "
                f"`provision` makes for it has at most {provision.max_vcpus} (provision.max_vcpus): such a "
                "job would wait in RUNNABLE",
                f"lower max_vcpu to {provision.max_vcpus}, or raise provision.max_vcpus",
            )
        )
    families = {t.split(".", 1)[0] for t in provision.instance_types}
    known = {f: LARGEST_GPU_COUNT[f] for f in families if f in LARGEST_GPU_COUNT}
    gpus = route.max_gpu or 0
    if gpus and known and len(known) == len(families) and gpus > max(known.values()):
        largest = max(known.values())
        warnings.append(
            Problem(
                f"{path}.max_gpu",
                f"route {route.name!r} allows jobs of {gpus} GPUs, but no instance of "
                f"{', '.join(sorted(families))} has more than {largest}: such a job would wait in RUNNABLE",
                f"lower max_gpu to {largest}, or add an instance family with more GPUs",
            )
        )
    return warnings
