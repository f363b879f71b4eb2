"""What a route table says of capacity beyond sizes: the consumable resources its routes use (and the
ones it declares for ``provision``), and how long a job may block its queue per reason (wait limits).
Read into the model, checked as data, and said in one line each by ``validate``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_router.config.model import (
    ConsumableResource,
    ConsumableType,
    ConsumableUse,
    RouteTable,
    resource_name,
)
from batch_router.errors import Problem

__all__ = [
    "capacity_lines",
    "consumable_problems",
    "consumable_resources",
    "consumable_use",
    "wait_limit_problems",
]


def consumable_use(use: int | Mapping[str, int]) -> ConsumableUse:
    """``1``: one each, no more; ``{quantity: 1, max: 4}``: one unless the task asks, at most four."""
    if isinstance(use, int):
        return ConsumableUse(quantity=use, max=use)
    return ConsumableUse(quantity=use.get("quantity", 0), max=use["max"])


def consumable_resources(raw: Mapping[str, Any]) -> dict[str, ConsumableResource]:
    return {
        name: ConsumableResource(
            total=spec["total"], type=_CONSUMABLE_TYPES[spec.get("type", "replenishable")]
        )
        for name, spec in raw.items()
    }


# The route file's spelling of API_CreateConsumableResource's resourceType.
_CONSUMABLE_TYPES: dict[str, ConsumableType] = {
    "replenishable": "REPLENISHABLE",
    "non-replenishable": "NON_REPLENISHABLE",
}


def consumable_problems(route: Mapping[str, Any], i: int) -> list[Problem]:
    """A route cannot give its jobs more of a resource by default than a task may ask for."""
    return [
        Problem(
            f"routes[{i}].consumable_resources.{name}.quantity",
            f"is above max ({use['max']})",
            "lower quantity or raise max",
        )
        for name, use in (route.get("consumable_resources") or {}).items()
        if isinstance(use, Mapping) and use.get("quantity", 0) > use["max"]
    ]


def wait_limit_problems(
    route: Mapping[str, Any], i: int, by_queue: dict[str, tuple[int, Mapping[str, int]]]
) -> list[Problem]:
    """Wait limits belong to the job queue (jobStateTimeLimitActions), so the routes that share a queue
    must say the same ones; the schema checks each reason and number."""
    limits = route.get("wait_limits") or {}
    first, theirs = by_queue.setdefault(resource_name(route["job_queue"]), (i, limits))
    if first == i or dict(theirs) == dict(limits):
        return []
    return [
        Problem(
            f"routes[{i}].wait_limits",
            f"differs from routes[{first}]'s, which uses the same job queue {route['job_queue']!r}",
            "a job queue has one set of wait limits: give every route on it the same wait_limits",
        )
    ]


def capacity_lines(table: RouteTable) -> list[str]:
    """What the table says of capacity beyond sizes, one line each: the consumable resources it makes,
    and per route the ones its jobs use and how long they may block their queue."""
    lines = [
        f"consumable resource {name!r}: {resource.total} in all, {resource.type.lower().replace('_', '-')}"
        " (batch-router provision makes it)"
        for name, resource in table.consumable_resources.items()
    ]
    for route in table.routes:
        uses = [
            f"{name} {use.quantity}"
            + (f" (a task may ask up to {use.max})" if use.max != use.quantity else "")
            for name, use in route.consumable_resources.items()
        ]
        if uses:
            lines.append(f"route {route.name!r} uses consumable resources: {', '.join(uses)}")
        limits = [f"{seconds} s for {reason}" for reason, seconds in route.wait_limits.items()]
        if limits:
            lines.append(
                f"route {route.name!r}: AWS Batch cancels a job blocked in RUNNABLE after {', '.join(limits)}"
            )
    return lines
