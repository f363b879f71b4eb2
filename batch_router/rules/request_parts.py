"""Where the parts rules look at sit in a SubmitJob request: containers, their env, their resources.

Rules run on requests that passed botocore's shape check, but shared layers may still hold odd values
(a string where a number is meant): these walkers skip what they cannot read instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "ecs_containers",
    "eks_containers",
    "env_entries",
    "kubernetes_cpu",
    "kubernetes_mib",
    "number",
    "resource_requirements",
]

Path = tuple[str | int, ...]


def ecs_containers(request: Mapping[str, Any]) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """containerOverrides and every ecsPropertiesOverride task container."""
    overrides = request.get("containerOverrides")
    if isinstance(overrides, Mapping):
        yield ("containerOverrides",), overrides
    tasks = (request.get("ecsPropertiesOverride") or {}).get("taskProperties")
    for t, task in _items(tasks):
        for c, container in _items(task.get("containers")):
            yield ("ecsPropertiesOverride", "taskProperties", t, "containers", c), container


def eks_containers(request: Mapping[str, Any]) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every container and init container of eksPropertiesOverride.podProperties."""
    pod = (request.get("eksPropertiesOverride") or {}).get("podProperties")
    if not isinstance(pod, Mapping):
        return
    for kind in ("containers", "initContainers"):
        for c, container in _items(pod.get(kind)):
            yield ("eksPropertiesOverride", "podProperties", kind, c), container


def env_entries(request: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """(path of the name, name) of every environment variable the request sets, ECS and EKS."""
    for path, container in ecs_containers(request):
        for i, entry in _items(container.get("environment")):
            if isinstance(entry.get("name"), str):
                yield (*path, "environment", i, "name"), entry["name"]
    for path, container in eks_containers(request):
        for i, entry in _items(container.get("env")):
            if isinstance(entry.get("name"), str):
                yield (*path, "env", i, "name"), entry["name"]


def resource_requirements(container: Mapping[str, Any]) -> dict[str, tuple[int, Any]]:
    """An ECS container's resourceRequirements by type: (index, value)."""
    return {
        str(entry.get("type")): (i, entry.get("value"))
        for i, entry in _items(container.get("resourceRequirements"))
    }


def number(value: Any) -> float | None:
    """A finite number from a request value (Batch sends sizes as strings), else None."""
    if isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def kubernetes_cpu(raw: Any) -> float | None:
    """A Kubernetes cpu quantity in vCPUs: ``"2"``, ``"0.5"`` or millicores (``"500m"``), else None."""
    text = str(raw)
    milli = number(text[:-1]) if text.endswith("m") else None
    return milli / 1000 if milli is not None else number(text)


# Kubernetes quantity suffixes in MiB: binary (Ki, Mi, Gi, Ti) and decimal (k, M, G, T).
_MIB_PER_UNIT = {
    "Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "Ti": 1024.0**2,
    "k": 1000 / 1024**2, "M": 1000**2 / 1024**2, "G": 1000**3 / 1024**2, "T": 1000**4 / 1024**2,
}  # fmt: skip


def kubernetes_mib(raw: Any) -> float | None:
    """A Kubernetes memory quantity in MiB (``"4096Mi"``, ``"4Gi"``, ``"500M"``, bytes), else None."""
    text = str(raw)
    for suffix in sorted(_MIB_PER_UNIT, key=len, reverse=True):
        if text.endswith(suffix):
            amount = number(text[: -len(suffix)])
            return amount * _MIB_PER_UNIT[suffix] if amount is not None else None
    amount = number(text)
    return amount / 1024**2 if amount is not None else None


def _items(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                yield i, item
