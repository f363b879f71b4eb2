"""Pick the route a task runs on, and say why in words a person can check.

The rules, in order: an explicit ``route`` in exec_config; a ``jobQueue`` / ``jobDefinition`` in
exec_config that a route of the table owns (a DAG written for AwsBatchExecutor sends GPU work to its GPU
queue that way); an Airflow queue named by a route; the first route (in file order) that can hold the
task's resource hints; the table's default route. The
Airflow default queue is on every task, so it only picks a route for tasks that give no resource hints.
A route named explicitly (by exec_config or queue) that cannot hold the hints is an error, never a
silent fallback: the task would otherwise run somewhere its author did not ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_router.config.compute_kinds import kind
from batch_router.config.model import ConsumableUse, Hints, Route, RouteTable, resource_name
from batch_router.errors import PassedOver, RoutingError
from batch_router.plan.model import RouteChoice
from batch_router.rules.fargate import round_up


def choose_route(
    table: RouteTable,
    hints: Hints,
    queue: str | None,
    *,
    default_queue: str = "default",
    task_kwargs: Mapping[str, Any] | None = None,
) -> RouteChoice:
    """The route for a task with these hints on this Airflow queue; raises ``RoutingError``.

    ``task_kwargs``: the SubmitJob arguments of the task's executor_config, whose ``jobQueue`` /
    ``jobDefinition`` pick the route that owns them (only on a route table: the seed's one route
    takes whatever the task names).
    """
    if hints.route is not None:
        route = table.get(hints.route)
        if route is None:
            raise RoutingError(
                f"exec_config route={hints.route!r} is not a route in {table.source}; "
                f"routes are: {_names(table)}"
            )
        return _explicit(route, hints, f"exec_config route={hints.route!r}")

    if task_kwargs and not table.implicit:
        owned = _owner(table, hints, task_kwargs)
        if owned is not None:
            return owned

    weak_queue = queue == default_queue and hints.has_resources
    if queue is not None and not weak_queue:
        queue_choice = table.for_queue(queue)
        if queue_choice is not None:
            route, how = queue_choice
            return _explicit(route, hints, f"Airflow queue {queue!r} {how} route {route.name!r}")

    if hints.has_resources:
        return _first_fit(table, hints)

    default = table.get(table.default_route)
    if default is None:
        raise RoutingError(
            f"default_route {table.default_route!r} is not a route in {table.source}; "
            f"routes are: {_names(table)}"
        )
    reason = f"no hints: default_route {default.name!r}"
    if queue is not None and queue != default_queue:
        reason += f" (Airflow queue {queue!r} names no route)"
    return RouteChoice(default, reason)


def retry_choice(
    table: RouteTable, choice: RouteChoice, hints: Hints, *, try_number: int, lost_capacity: bool = False
) -> RouteChoice:
    """Where a try goes when its route names a ``retry_route``: Airflow's retries (try 2 and later) and a
    try whose job lost its capacity before the task started go there (Spot first, on-demand after), if
    that route can hold the task's hints; otherwise the try stays, and the reason says why."""
    name = choice.route.retry_route
    if name is None or (try_number <= 1 and not lost_capacity):
        return choice
    target = table.get(name)
    if target is None:  # the route file's checks make this impossible; stay rather than fail the try
        return choice
    why = f"try {try_number}" if try_number > 1 else "its last job lost its capacity"
    problems = misfits(target, hints)
    if problems:
        return RouteChoice(
            choice.route, f"{choice.reason}; {why}, but retry_route {name!r} {'; '.join(problems)}: stays"
        )
    return RouteChoice(target, f"{choice.reason}; {why}: retry_route {name!r} of route {choice.route.name!r}")


def misfits(route: Route, hints: Hints) -> list[str]:
    """Every reason ``route`` cannot hold ``hints`` (empty when it can), in words."""
    reasons: list[str] = []
    if hints.compute is not None and hints.compute != route.compute:
        reasons.append(f"runs on {route.compute}, task asks for compute={hints.compute}")
    gpu = hints.gpu or 0
    compute = kind(route.compute) if route.compute is not None else None
    if gpu > 0 and compute is not None and not compute.gpus:
        reasons.append(f"GPU never runs on {compute.label}")
    elif route.max_gpu is not None and gpu > route.max_gpu:
        reasons.append(f"allows at most {route.max_gpu} GPU, task asks for {gpu}")

    vcpu, memory = hints.vcpu, hints.memory_mib
    if compute is not None and compute.sizing == "pairs" and (vcpu is not None or memory is not None):
        try:
            vcpu, memory = round_up(vcpu, memory)
        except ValueError as exc:
            return [*reasons, str(exc)]
    rounded = False
    if route.max_vcpu is not None and vcpu is not None and vcpu > route.max_vcpu:
        rounded |= vcpu != hints.vcpu
        asks = "asks for" if vcpu == hints.vcpu else "needs"
        reasons.append(f"allows at most {route.max_vcpu:g} vCPU, task {asks} {vcpu:g}")
    if route.max_memory_mib is not None and memory is not None and memory > route.max_memory_mib:
        rounded |= memory != hints.memory_mib
        asks = "asks for" if memory == hints.memory_mib else "needs"
        reasons.append(f"allows at most {route.max_memory_mib} MiB memory, task {asks} {memory} MiB")
    if rounded:  # "needs" above: say where the size came from, once
        reasons[-1] += (
            f" (Fargate's smallest size holding {describe_hints(hints, sizes_only=True)}"
            f" is {vcpu:g} vCPU / {memory} MiB)"
        )
    return reasons + consumable_misfits(route, hints)


def consumable_misfits(route: Route, hints: Hints) -> list[str]:
    """Why ``route`` cannot give the task the consumable resources it asks for (a name and its ARN are
    the same resource)."""
    offered = offered_consumables(route)
    reasons: list[str] = []
    for name, quantity in hints.consumable_resources:
        found = offered.get(resource_name(name))
        if found is None:
            if quantity > 0:
                reasons.append(f"offers no consumable resource {name!r}")
        elif quantity > found[1].max:
            reasons.append(f"allows at most {found[1].max} of {name!r}, task asks for {quantity}")
    return reasons


def offered_consumables(route: Route) -> dict[str, tuple[str, ConsumableUse]]:
    """The route's consumable resources by bare name: (as the route names it, its use)."""
    return {resource_name(name): (name, use) for name, use in route.consumable_resources.items()}


def describe_hints(hints: Hints, *, sizes_only: bool = False) -> str:
    """``compute=ec2, vcpu=2, gpu=1``: the hints a task gave, as written in exec_config."""
    parts: list[str] = []
    if hints.compute is not None and not sizes_only:
        parts.append(f"compute={hints.compute}")
    if hints.vcpu is not None:
        parts.append(f"vcpu={hints.vcpu:g}")
    if hints.memory_mib is not None:
        parts.append(f"memory_mib={hints.memory_mib}")
    if hints.gpu is not None and not sizes_only:
        parts.append(f"gpu={hints.gpu}")
    if hints.consumable_resources and not sizes_only:
        asked = ", ".join(f"{name}: {quantity}" for name, quantity in hints.consumable_resources)
        parts.append(f"consumable_resources={{{asked}}}")
    return ", ".join(parts) or "no resource hints"


def _owner(table: RouteTable, hints: Hints, task_kwargs: Mapping[str, Any]) -> RouteChoice | None:
    """The route whose job queue (and job definition) the task names, as if it had said ``route``; the
    first in file order that holds its hints when several share them. None when no route owns them:
    the policy then decides whether the task may name them at all."""
    named = {key: task_kwargs.get(key) for key in ("jobQueue", "jobDefinition")}
    queue, definition = (value if isinstance(value, str) else None for value in named.values())
    candidates = table.owning(queue, definition)
    if not candidates:
        return None
    route = next((r for r in candidates if not misfits(r, hints)), candidates[0])
    said = " and ".join(f"{key} {value!r}" for key, value in named.items() if isinstance(value, str))
    return _explicit(route, hints, f"exec_config {said} is route {route.name!r}'s")


def _explicit(route: Route, hints: Hints, reason: str) -> RouteChoice:
    problems = misfits(route, hints)
    if problems:
        raise RoutingError(f"route {route.name!r} {' and '.join(problems)} ({reason})")
    return RouteChoice(route, reason)


def _first_fit(table: RouteTable, hints: Hints) -> RouteChoice:
    passed_over: list[PassedOver] = []
    for route in table.routes:
        problems = misfits(route, hints)
        if not problems:
            reason = f"first route in file order that fits {describe_hints(hints)}"
            if passed_over:
                reason += " (passed over: " + "; ".join(f"{p.route}: {p.reason}" for p in passed_over) + ")"
            return RouteChoice(route, reason)
        passed_over.append(PassedOver(route.name, " and ".join(problems)))
    raise RoutingError(f"no route in {table.source} can hold {describe_hints(hints)}", passed_over)


def _names(table: RouteTable) -> str:
    return ", ".join(route.name for route in table.routes) or "(none)"
