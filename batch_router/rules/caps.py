"""The route's caps, held to the final request: what a job may cost, whichever layer asked for it.

Hints are routed within a route's max_vcpu / max_memory_mib / max_gpu (plan.router); a raw
resourceRequirements, a legacy vcpus / memory or an EKS resources entry, from any layer, is held to
them here, for the job as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_router.config.model import Route, resource_name
from batch_router.rules.request_parts import (
    ecs_containers,
    eks_containers,
    kubernetes_cpu,
    kubernetes_mib,
    number,
)
from batch_router.rules.rule import Violation

__all__ = ["EKS_ACCELERATORS", "cap_violations"]


def cap_violations(route: Route, request: Mapping[str, Any]) -> list[Violation]:
    """Sizes in the final request above the route's max_vcpu / max_memory_mib / max_gpu.

    The caps bound what the route may cost whichever layer asked: hints are routed within them, and a
    raw resourceRequirements or EKS resources entry is held to them here, for the job as a whole (every
    container of an ECS task or an EKS pod added up; an EKS init container runs alone, so the pod needs
    the larger of its containers' sum and its largest init container). Every accelerator counts as a
    GPU; EKS hugepages count as memory.
    """
    caps = {"vcpu": route.max_vcpu, "memory": route.max_memory_mib, "gpu": route.max_gpu}
    totals: dict[str, _Total] = {}
    for path, container in ecs_containers(request):
        for kind, (at, amount) in _ecs_amounts(path, container).items():
            totals.setdefault(kind, _Total()).add(at, amount)
    pod: dict[str, _Total] = {}
    init: dict[str, _Total] = {}
    for path, container in eks_containers(request):
        into = init if path[2] == "initContainers" else pod
        for kind, (at, amount) in _eks_amounts(path, container).items():
            if into is init:
                largest = init.setdefault(kind, _Total())
                if amount > largest.amount:
                    init[kind] = _Total(amount, [at])
            else:
                pod.setdefault(kind, _Total()).add(at, amount)
    for kind in {*pod, *init}:
        whole = pod.get(kind, _Total())
        alone = init.get(kind, _Total())
        totals[kind] = whole if whole.amount >= alone.amount else alone
    return _consumable_violations(route, request) + [
        Violation(
            total.where[0],
            f"asks for {total.amount:g} {_UNITS[kind]}"
            + (f" in all ({len(total.where)} containers)" if len(total.where) > 1 else "")
            + f"; route {route.name!r} allows at most {cap:g}",
            f"ask for at most {cap:g}, or route the task to a larger route",
            "policy-cap",
        )
        for kind, total in sorted(totals.items())
        if (cap := caps[kind]) is not None and total.amount > cap
    ]


def _consumable_violations(route: Route, request: Mapping[str, Any]) -> list[Violation]:
    """A quantity of one of the route's consumable resources above its max, whichever layer asked."""
    caps = {resource_name(name): (name, use.max) for name, use in route.consumable_resources.items()}
    if not caps:
        return []
    override = request.get("consumableResourcePropertiesOverride")
    entries = override.get("consumableResourceList") if isinstance(override, Mapping) else None
    violations: list[Violation] = []
    for i, entry in enumerate(entries if isinstance(entries, list) else ()):
        if not isinstance(entry, Mapping):
            continue
        cap = caps.get(resource_name(str(entry.get("consumableResource", ""))))
        quantity = number(entry.get("quantity"))
        if cap is not None and quantity is not None and quantity > cap[1]:
            violations.append(
                Violation(
                    ("consumableResourcePropertiesOverride", "consumableResourceList", i, "quantity"),
                    f"asks for {quantity:g} of {cap[0]!r}; route {route.name!r} allows at most {cap[1]}",
                    f"ask for at most {cap[1]}, or route the task to a route that offers more",
                    "policy-cap",
                )
            )
    return violations


class _Total:
    """An amount added up over containers, and where each part was asked for."""

    def __init__(self, amount: float = 0.0, where: list[tuple[str | int, ...]] | None = None):
        self.amount = amount
        self.where: list[tuple[str | int, ...]] = where or []

    def add(self, at: tuple[str | int, ...], amount: float) -> None:
        self.amount += amount
        self.where.append(at)


def _ecs_amounts(
    path: tuple[str | int, ...], container: Mapping[str, Any]
) -> dict[str, tuple[tuple[str | int, ...], float]]:
    """One ECS container's vCPU, memory and GPUs; a type given twice counts at its larger value."""
    found: dict[str, tuple[tuple[str | int, ...], float]] = {}
    entries = container.get("resourceRequirements")
    for i, entry in enumerate(entries if isinstance(entries, list) else ()):
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        amount = number(entry.get("value")) if isinstance(entry, Mapping) else None
        if kind in ("VCPU", "MEMORY", "GPU") and amount is not None:
            key = str(kind).lower()
            if key not in found or amount > found[key][1]:
                found[key] = ((*path, "resourceRequirements", i, "value"), amount)
    for legacy, key in (("vcpus", "vcpu"), ("memory", "memory")):
        amount = number(container.get(legacy))
        if amount is not None and (key not in found or amount > found[key][1]):
            found[key] = ((*path, legacy), amount)
    return found


def _eks_amounts(
    path: tuple[str | int, ...], container: Mapping[str, Any]
) -> dict[str, tuple[tuple[str | int, ...], float]]:
    """One EKS container's vCPU, memory (hugepages included) and accelerators: the larger of its limit
    and its request for each resource, as Kubernetes schedules by the request and bounds by the limit."""
    resources = container.get("resources")
    per_name: dict[str, tuple[tuple[str | int, ...], str, float]] = {}
    for side in ("limits", "requests"):
        quantities = resources.get(side) if isinstance(resources, Mapping) else None
        if not isinstance(quantities, Mapping):
            continue
        for name, raw in quantities.items():
            kind, amount = _eks_amount(str(name), raw)
            if kind is None or amount is None:
                continue
            if name not in per_name or amount > per_name[name][2]:
                per_name[name] = ((*path, "resources", side, name), kind, amount)
    found: dict[str, tuple[tuple[str | int, ...], float]] = {}
    for at, kind, amount in per_name.values():
        before = found.get(kind)
        found[kind] = (before[0] if before else at, (before[1] if before else 0.0) + amount)
    return found


_UNITS = {"vcpu": "vCPU", "memory": "MiB", "gpu": "GPU"}
# Extended resources that are accelerators (Kubernetes device plugins: NVIDIA's and AMD's GPU plugins,
# the AWS Neuron device plugin); each counts against a route's max_gpu.
EKS_ACCELERATORS: frozenset[str] = frozenset(
    {"nvidia.com/gpu", "amd.com/gpu", "aws.amazon.com/neuron", "aws.amazon.com/neuroncore",
     "aws.amazon.com/neurondevice"}
)  # fmt: skip


def _eks_amount(name: str, raw: Any) -> tuple[str | None, float | None]:
    text = str(raw)
    if name == "cpu":
        return "vcpu", kubernetes_cpu(text)
    if name == "memory" or name.startswith("hugepages-"):
        return "memory", kubernetes_mib(text)
    if name in EKS_ACCELERATORS:
        return "gpu", number(text)
    return None, None
