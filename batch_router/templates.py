"""Ready-made executor_config dicts for DAG code: ``executor_config=templates.gpu(4)``.

Templates are JSON files next to the schemas (``schemas/templates/<name>.json``) so that platform teams
can read and review the sizes without reading Python. Every result is checked with
``parse_exec_config`` here, so a bad override fails when the DAG file is parsed, not when the task runs.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Mapping
from typing import Any

from batch_router.config.exec_config import parse_exec_config
from batch_router.config.schemas import templates_dir

__all__ = ["ecs_managed_instances", "eks", "fargate", "gpu", "template", "template_names"]


def template_names() -> list[str]:
    """Every template's name, sorted."""
    return sorted(path.stem for path in templates_dir().glob("*.json"))


def template(name: str, **overrides: Any) -> dict[str, Any]:
    """A fresh copy of template ``name`` with ``overrides`` merged in.

    Hints (``vcpu=2``) replace the template's; dict values (``containerOverrides={...}``) merge into the
    template's dicts key by key; lists are replaced whole; ``None`` removes a key, e.g. ``memory_mib=None``
    to take the route's memory instead.
    """
    result = copy.deepcopy(_load(name))
    _merge_into(result, overrides)
    parse_exec_config(result, source=f"template {name!r}")
    return result


def gpu(count: int = 1, **overrides: Any) -> dict[str, Any]:
    """An EC2 GPU task with ``count`` GPUs, sized like the ``gpu-<n>`` templates.

    A count with a template of its own gets it; any other count up to the largest template gets the
    per-GPU share of vCPU and memory of the smallest template that holds it (``gpu(2)`` is half of
    ``gpu-4``). Whether a route can hold it is the router's answer, as for every task.
    """
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"gpu count must be an int, got {type(count).__name__}")
    counts = sorted(int(n.removeprefix("gpu-")) for n in template_names() if n.startswith("gpu-"))
    if count < 1 or count > counts[-1]:
        raise ValueError(
            f"gpu count must be 1 to {counts[-1]}, got {count} (templates for {', '.join(map(str, counts))}; "
            f"or use template('gpu-{counts[-1]}', gpu=..., vcpu=..., memory_mib=...))"
        )
    base = next(n for n in counts if n >= count)
    if base == count:
        return template(f"gpu-{count}", **overrides)
    sized = _load(f"gpu-{base}")
    share = {
        "gpu": count,
        "vcpu": math.ceil(sized["vcpu"] * count / base),
        "memory_mib": math.ceil(sized["memory_mib"] * count / base / 1024) * 1024,
    }
    return template(f"gpu-{base}", **{**share, **overrides})


def fargate(size: str = "small", **overrides: Any) -> dict[str, Any]:
    """A Fargate task of a named size: ``small``, ``medium`` or ``large``."""
    return template(f"fargate-{size}", **overrides)


def eks(**overrides: Any) -> dict[str, Any]:
    """A task on an EKS route, 1 vCPU and 2048 MiB unless overridden."""
    return template("eks-default", **overrides)


def ecs_managed_instances(**overrides: Any) -> dict[str, Any]:
    """A task on an ECS Managed Instances route, 2 vCPU and 4096 MiB unless overridden."""
    return template("ecs-managed-instances-default", **overrides)


@functools.cache
def _load(name: str) -> dict[str, Any]:
    names = template_names()
    if name not in names:
        raise ValueError(f"unknown exec_config template {name!r}; templates: {', '.join(names)}")
    data = json.loads((templates_dir() / f"{name}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"template {name!r} does not hold a JSON object")
    return data


def _merge_into(target: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
