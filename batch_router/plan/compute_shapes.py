"""The task's command, environment and sizing hints, written in the shape its route's compute takes.

EC2 and Fargate take ``containerOverrides`` (Fargate only in its legal vCPU/memory pairs, rounded up;
EC2 in whole vCPUs); ECS Managed Instances take ``ecsPropertiesOverride`` (the task's first container,
sized as EC2 containers are); EKS takes ``eksPropertiesOverride`` with Kubernetes units. A
``containerOverrides`` from a shared layer is moved into the task's or pod's first container.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from batch_router.config.compute_kinds import kind as compute_kind
from batch_router.config.compute_kinds import kinds_where
from batch_router.config.json_tree import dict_items, dig
from batch_router.config.model import Compute, DefinitionFacts, Hints, Route
from batch_router.errors import Problem
from batch_router.plan.merge import deep_merge, plain_copy
from batch_router.rules import fargate

__all__ = ["write_container", "write_eks", "write_task"]


# --- EC2 and Fargate: containerOverrides ------------------------------------------------------------


def write_container(
    kwargs: dict[str, Any],
    route: Route,
    compute: Compute | None,
    command: Sequence[str],
    env: list[dict[str, str]],
    hints: Hints,
    notes: list[str],
    problems: list[Problem],
    definition: DefinitionFacts | None = None,
) -> dict[str, Any]:
    """``compute`` is the job definition's (None: not known, so the hints are written as given, in
    resourceRequirements, which every ECS compute takes). ``definition``: its own size, where known."""
    overrides: dict[str, Any] = {"command": list(command), "environment": env}
    requirements: dict[str, str] = {}
    vcpu, memory = hints.vcpu, hints.memory_mib
    if compute is None:
        if vcpu is not None:
            requirements["VCPU"] = f"{vcpu:g}"
        if memory is not None:
            requirements["MEMORY"] = str(memory)
        if hints.gpu:
            requirements["GPU"] = str(hints.gpu)
        if requirements:
            notes.append("compute not known: the size hints are sent as given, not rounded for a compute")
    elif compute_kind(compute).sizing == "pairs":
        if hints.gpu and not compute_kind(compute).gpus:
            problems.append(
                Problem(
                    "gpu",
                    f"route {route.name!r} runs on {compute_kind(compute).label}, which has no GPUs",
                    f"route GPU tasks to a route on {' or '.join(kinds_where(gpus=True))}",
                )
            )
        if vcpu is not None or memory is not None:
            # A size given by only one hint pairs with the other from earlier layers, if they set it,
            # else with the job definition's own (what the job would get for the side left out).
            if vcpu is None:
                vcpu = _layer_requirement(kwargs, "VCPU")
                if vcpu is None and definition is not None:
                    vcpu = definition.vcpu
            if memory is None:
                layer_memory = _layer_requirement(kwargs, "MEMORY")
                if layer_memory is None and definition is not None:
                    layer_memory = definition.memory_mib
                memory = math.ceil(layer_memory) if layer_memory is not None else None
            try:
                fv, fm = fargate.round_up(vcpu, memory)
            except ValueError as exc:
                problems.append(Problem("vcpu" if hints.vcpu is not None else "memory_mib", str(exc)))
            else:
                if (fv, fm) != (vcpu, memory):
                    notes.append(f"fargate: {_size(vcpu, memory)} rounded up to {fv:g} vCPU / {fm} MiB")
                requirements = {"VCPU": f"{fv:g}", "MEMORY": str(fm)}
    else:
        if vcpu is not None:
            whole = max(1, math.ceil(vcpu))
            if whole != vcpu:
                label = compute_kind(compute).label
                notes.append(
                    f"{compute}: {vcpu:g} vCPU rounded up to {whole} ({label} jobs are sized in whole vCPUs)"
                )
            requirements["VCPU"] = str(whole)
        if memory is not None:
            requirements["MEMORY"] = str(memory)
        if hints.gpu:
            requirements["GPU"] = str(hints.gpu)
    if requirements:
        overrides["resourceRequirements"] = [{"type": t, "value": v} for t, v in requirements.items()]
        existing = kwargs.get("containerOverrides", {})
        for legacy, kind in (("vcpus", "VCPU"), ("memory", "MEMORY")):
            if kind in requirements and legacy in existing:
                notes.append(
                    f"containerOverrides.{legacy} dropped: the {kind} hint sets resourceRequirements"
                )
                existing = {k: v for k, v in existing.items() if k != legacy}
        kwargs = {**kwargs, "containerOverrides": existing}
    return deep_merge(kwargs, {"containerOverrides": overrides})


def _layer_requirement(kwargs: Mapping[str, Any], kind: str) -> float | None:
    overrides = dig(kwargs, "containerOverrides") or {}
    for _, requirement in dict_items(overrides.get("resourceRequirements")):
        if requirement.get("type") == kind:
            try:
                return float(requirement.get("value", ""))
            except ValueError:
                return None
    return None


def _size(vcpu: float | None, memory: int | None) -> str:
    vcpu_text = f"{vcpu:g} vCPU" if vcpu is not None else "(no vCPU)"
    memory_text = f"{memory} MiB" if memory is not None else "(no memory)"
    return f"{vcpu_text} / {memory_text}"


# --- ECS Managed Instances: ecsPropertiesOverride -------------------------------------------------


def write_task(
    kwargs: dict[str, Any],
    route: Route,
    compute: Compute | None,
    command: Sequence[str],
    env: list[dict[str, str]],
    hints: Hints,
    notes: list[str],
    problems: list[Problem],
    definition: DefinitionFacts | None = None,
) -> dict[str, Any]:
    """Jobs on ECS Managed Instances run ``ecsProperties`` job definitions ("Amazon ECS Managed
    Instances jobs do not support legacy containerProperties", user guide), which a request overrides
    with ``ecsPropertiesOverride.taskProperties[].containers[]`` (command, environment,
    resourceRequirements, the same fields as containerOverrides). So the executor writes the task's
    first container (by position: a one-container task needs no name) exactly as it writes
    containerOverrides elsewhere, and what earlier layers put in containerOverrides moves there."""
    moved = kwargs.pop("containerOverrides", None) or {}
    container: dict[str, Any] = {}
    if isinstance(moved, Mapping):
        container = _container_to_task(moved, notes, problems)
    written = write_container(
        {"containerOverrides": container}, route, compute, command, env, hints, notes, problems, definition
    )["containerOverrides"]
    task = kwargs.setdefault("ecsPropertiesOverride", {}).setdefault("taskProperties", [])
    if not task:
        task.append({})
    containers = task[0].setdefault("containers", [])
    if not containers:
        containers.append({})
    containers[0] = deep_merge(containers[0], written)
    return kwargs


def _container_to_task(
    overrides: Mapping[str, Any], notes: list[str], problems: list[Problem]
) -> dict[str, Any]:
    """containerOverrides from earlier layers, as the task container's (legacy vcpus and memory as
    resourceRequirements, which is all a task container takes)."""
    container: dict[str, Any] = {}
    requirements = list(plain_copy(overrides.get("resourceRequirements") or []))
    for key, value in overrides.items():
        if key in ("command", "resourceRequirements"):
            continue  # an empty command (a non-empty one was refused): the executor writes the command
        if key == "environment":
            container["environment"] = plain_copy(value)
        elif key in ("vcpus", "memory") and value is not None:
            kind = "VCPU" if key == "vcpus" else "MEMORY"
            if not any(r.get("type") == kind for r in requirements if isinstance(r, Mapping)):
                requirements.append({"type": kind, "value": str(value)})
        elif value:
            problems.append(
                Problem(
                    f"containerOverrides.{key}",
                    "cannot be used on an ECS Managed Instances route",
                    "its jobs take ecsPropertiesOverride.taskProperties[].containers[] instead",
                )
            )
    if requirements:
        container["resourceRequirements"] = requirements
    if container:
        notes.append(
            "ecs-managed-instances: containerOverrides from earlier layers moved into the task's container"
        )
    return container


# --- EKS: eksPropertiesOverride in Kubernetes units -----------------------------------------------


def write_eks(
    kwargs: dict[str, Any],
    command: Sequence[str],
    env: list[dict[str, str]],
    hints: Hints,
    notes: list[str],
    problems: list[Problem],
) -> dict[str, Any]:
    """Batch refuses containerOverrides for EKS job definitions, so what earlier layers put there moves."""
    moved = kwargs.pop("containerOverrides", None) or {}
    moved_container: dict[str, Any] = {}
    if isinstance(moved, Mapping):
        moved_container = _container_to_eks(moved, notes, problems)

    pod = kwargs.setdefault("eksPropertiesOverride", {}).setdefault("podProperties", {})
    containers = pod.setdefault("containers", [])
    if not containers:
        containers.append({})
    first = deep_merge(moved_container, containers[0])

    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if hints.vcpu is not None:
        quarters = math.ceil(hints.vcpu * 4) / 4
        if quarters != hints.vcpu:
            notes.append(
                f"eks: {hints.vcpu:g} vCPU rounded up to {quarters:g} (Batch on EKS takes steps of 0.25)"
            )
        limits["cpu"] = requests["cpu"] = f"{quarters:g}"
    if hints.memory_mib is not None:
        limits["memory"] = requests["memory"] = f"{hints.memory_mib}Mi"
    if hints.gpu:
        limits["nvidia.com/gpu"] = str(hints.gpu)
    written: dict[str, Any] = {"command": list(command), "env": env}
    if limits:
        written["resources"] = {"limits": limits}
    if requests:
        written["resources"]["requests"] = requests
    containers[0] = deep_merge(first, written)
    return kwargs


def _container_to_eks(
    overrides: Mapping[str, Any], notes: list[str], problems: list[Problem]
) -> dict[str, Any]:
    """containerOverrides from earlier layers, as the EKS container's env and resources."""
    container: dict[str, Any] = {}
    limits: dict[str, str] = {}
    for key, value in overrides.items():
        if key == "command":
            continue  # empty (a non-empty one was refused); the executor writes the EKS command
        if key == "environment":
            container["env"] = plain_copy(value)
        elif key == "resourceRequirements":
            for requirement in value:
                kind, amount = requirement.get("type"), requirement.get("value")
                unit = {"VCPU": ("cpu", ""), "MEMORY": ("memory", "Mi"), "GPU": ("nvidia.com/gpu", "")}.get(
                    kind
                )
                if unit is not None and amount:
                    limits[unit[0]] = f"{amount}{unit[1]}"
        elif key in ("vcpus", "memory") and value is not None:
            limits["cpu" if key == "vcpus" else "memory"] = f"{value}{'Mi' if key == 'memory' else ''}"
        elif value:
            problems.append(
                Problem(
                    f"containerOverrides.{key}",
                    "cannot be used on an EKS route",
                    "EKS jobs take eksPropertiesOverride.podProperties.containers[] instead",
                )
            )
    if limits:
        requests = {k: v for k, v in limits.items() if k != "nvidia.com/gpu"}
        container["resources"] = {"limits": limits, **({"requests": requests} if requests else {})}
    if container:
        notes.append("eks: containerOverrides from earlier layers moved into the pod's first container")
    return container


# --- small helpers ---------------------------------------------------------------------------------
