"""A route's consumable resources in its request, with the quantities a task asked for.

AWS Batch's resource-aware scheduling (user guide, "Resource-aware scheduling"): a job names the
consumable resources it uses and how many of each (``consumableResourcePropertiesOverride``
``.consumableResourceList[]``: ``consumableResource``, name or ARN, and ``quantity``), and waits in
RUNNABLE until they are free. The route's list is the platform's (its layer of the request); a task's
``consumable_resources`` hint changes the quantity of one the route offers, within its ``max`` (the
router has passed over routes that cannot give it). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_router.config.model import Hints, Route, resource_name

__all__ = ["OVERRIDE_KEY", "route_consumables", "with_asked_quantities"]

OVERRIDE_KEY = "consumableResourcePropertiesOverride"
_LIST = "consumableResourceList"


def route_consumables(route: Route) -> dict[str, Any]:
    """The route's layer of the request: each resource its jobs use by default (a quantity of 0 is
    left out: the resource is used only when a task asks for it)."""
    used = [
        {"consumableResource": name, "quantity": use.quantity}
        for name, use in route.consumable_resources.items()
        if use.quantity > 0
    ]
    return {OVERRIDE_KEY: {_LIST: used}} if used else {}


def with_asked_quantities(kwargs: Mapping[str, Any], route: Route, hints: Hints) -> dict[str, Any]:
    """``kwargs`` with the quantities the task asked for, of resources the route offers; an entry asked
    at 0 is dropped. Unchanged when the task asked for none."""
    if not hints.consumable_resources:
        return dict(kwargs)
    offered = {resource_name(name): name for name in route.consumable_resources}
    asked = {
        resource_name(name): quantity
        for name, quantity in hints.consumable_resources
        if resource_name(name) in offered
    }
    entries = [dict(e) for e in (kwargs.get(OVERRIDE_KEY) or {}).get(_LIST) or () if isinstance(e, Mapping)]
    result: list[dict[str, Any]] = []
    for entry in entries:
        key = resource_name(str(entry.get("consumableResource", "")))
        if key in asked:
            entry["quantity"] = asked.pop(key)
        result.append(entry)
    result += [{"consumableResource": offered[key], "quantity": quantity} for key, quantity in asked.items()]
    result = [entry for entry in result if entry.get("quantity") != 0]
    rest = {key: value for key, value in kwargs.items() if key != OVERRIDE_KEY}
    return {**rest, OVERRIDE_KEY: {**(kwargs.get(OVERRIDE_KEY) or {}), _LIST: result}} if result else rest
