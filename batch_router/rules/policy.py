"""The platform's policy: a DAG author's executor_config stays inside what the route table allows.

The threat model (docs/policy.md): whoever writes settings and the route table is trusted; whoever
writes a DAG is not. So by default an executor_config may pick among the routes and size its task
within a route's caps, and add what the platform left open, but it may not send the job to another
queue or job definition, change what the platform set (tags, priority, share, environment, image),
run code at the container's start through the environment, or ask for more than the route's caps.
A route table's ``policy`` opens exactly what a platform team wants opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from batch_router.config.model import Hints, Policy, Route
from batch_router.rules.request_parts import (
    ecs_containers,
    eks_containers,
    env_entries,
    kubernetes_cpu,
    number,
    resource_requirements,
)
from batch_router.rules.rule import Violation

__all__ = ["STARTUP_ENV", "STARTUP_ENV_PREFIXES", "cap_violations", "policy_violations"]

# Variables that make an interpreter, the dynamic linker or a shell run code of the setter's choice
# when the container starts, before (or instead of) the Airflow task.
STARTUP_ENV: frozenset[str] = frozenset(
    {
        "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME", "PYTHONWARNINGS", "PYTHONINSPECT", "PYTHONBREAKPOINT",
        "PYTHONUSERBASE", "PYTHONPLATLIBDIR", "PYTHONEXECUTABLE", "PYTHONSAFEPATH", "PYTHONNOUSERSITE",
        "BROWSER", "BASH_ENV", "ENV", "PROMPT_COMMAND", "SHELLOPTS", "BASHOPTS", "PS4", "IFS",
        "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "NODE_PATH",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "PATH",
    }
)  # fmt: skip
# Prefixes of variables that load code (LD_*), steer the Airflow task runner (AIRFLOW__*: e.g. where it
# sends its token) or the AWS SDK (AWS_*: endpoints and credential sources).
STARTUP_ENV_PREFIXES: tuple[str, ...] = ("LD_", "DYLD_", "AIRFLOW__", "AWS_", "BASH_FUNC_")

_ROUTE_HINT = "pick another route with executor_config={'route': NAME} or the task's queue"


def policy_violations(
    route: Route, trusted: Mapping[str, Any], task: Mapping[str, Any], hints: Hints
) -> list[Violation]:
    """What the task's executor_config (``task``, without hints) does that ``route.policy`` does not allow.

    ``trusted`` is SUBMIT_JOB_KWARGS, the table's defaults and the route, merged. An open policy (the
    seed's implicit route) allows everything: there, executor_config is a recursive update over
    SUBMIT_JOB_KWARGS, as the reference AwsBatchExecutor documents.
    """
    policy = route.policy
    if policy.open:
        return []
    return [
        *_keys(route, task),
        *_overrides(policy, trusted, task),
        *_startup_env(policy, task),
        *_maxima(policy, task, hints),
    ]


def _keys(route: Route, task: Mapping[str, Any]) -> Iterator[Violation]:
    for key in task:
        if key in route.policy.executor_config_keys:
            continue
        fix = _ROUTE_HINT if key in ("jobQueue", "jobDefinition") else "remove it"
        yield Violation(
            (key,),
            f"executor_config may not set {key} on route {route.name!r}",
            f"{fix}; the platform team can allow it in the route table's policy (executor_config_keys)",
            rule="policy-keys",
        )


def _overrides(policy: Policy, trusted: Mapping[str, Any], task: Mapping[str, Any]) -> Iterator[Violation]:
    def refused(what: str) -> bool:
        return what not in policy.overridable

    fix = "remove it, or ask the platform team to list it in the policy's overridable"
    for key in ("propagateTags", "shareIdentifier", "schedulingPriorityOverride"):
        if key in task and key in trusted and task[key] != trusted[key] and refused(key):
            yield Violation(
                (key,), f"overrides {key} set by the platform ({trusted[key]!r})", fix, "policy-override"
            )
    task_tags, trusted_tags = task.get("tags"), trusted.get("tags")
    if isinstance(task_tags, Mapping) and isinstance(trusted_tags, Mapping) and refused("tags"):
        for key in task_tags:
            if key in trusted_tags and task_tags[key] != trusted_tags[key]:
                yield Violation(
                    ("tags", key), f"overrides tag {key!r} set by the platform", fix, "policy-override"
                )
    if refused("environment"):
        platform_env = {name for _, name in env_entries(trusted)}
        for path, name in env_entries(task):
            if name in platform_env:
                message = f"overrides environment variable {name!r} set by the platform"
                yield Violation(path, message, fix, "policy-override")
    for path, container in eks_containers(task):
        if container.get("image") is not None and refused("image"):
            yield Violation((*path, "image"), "sets the container image", fix, "policy-override")
        if path[2] == "initContainers" and refused("initContainers"):
            yield Violation(path, "adds or changes an init container", fix, "policy-override")


def _startup_env(policy: Policy, task: Mapping[str, Any]) -> Iterator[Violation]:
    for path, name in env_entries(task):
        if not (name in STARTUP_ENV or name.startswith(STARTUP_ENV_PREFIXES)):
            continue
        if any(_matches(name, allowed) for allowed in policy.executor_config_env):
            continue
        yield Violation(
            path,
            f"sets {name!r}, which can run code at the container's start or steer Airflow or AWS",
            "remove it; the platform team can allow it in the policy's executor_config_env",
            "policy-env",
        )


def _matches(name: str, allowed: str) -> bool:
    return name.startswith(allowed[:-1]) if allowed.endswith("*") else name == allowed


def _maxima(policy: Policy, task: Mapping[str, Any], hints: Hints) -> Iterator[Violation]:
    timeout = hints.timeout_seconds
    if timeout is None:
        timeout = (
            (task.get("timeout") or {}).get("attemptDurationSeconds")
            if isinstance(task.get("timeout"), Mapping)
            else None
        )
    if (
        policy.max_timeout_seconds is not None
        and isinstance(timeout, int)
        and timeout > policy.max_timeout_seconds
    ):
        yield Violation(
            ("timeout", "attemptDurationSeconds"),
            f"asks for a {timeout}s timeout; this route allows at most {policy.max_timeout_seconds}s",
            f"use at most {policy.max_timeout_seconds} seconds",
            "policy-maximum",
        )
    priority = task.get("schedulingPriorityOverride")
    limit = policy.max_scheduling_priority
    if limit is not None and isinstance(priority, int) and priority > limit:
        yield Violation(
            ("schedulingPriorityOverride",),
            f"asks for priority {priority}; this route allows at most {limit}",
            f"use at most {limit}",
            "policy-maximum",
        )


def cap_violations(route: Route, request: Mapping[str, Any]) -> list[Violation]:
    """Sizes in the final request above the route's max_vcpu / max_memory_mib / max_gpu.

    The caps bound what the route may cost whichever layer asked: hints are routed within them, and a
    raw resourceRequirements or EKS resources entry is held to them here.
    """
    caps = {"vcpu": route.max_vcpu, "memory": route.max_memory_mib, "gpu": route.max_gpu}
    found: list[tuple[tuple[str | int, ...], str, float]] = []
    for path, container in ecs_containers(request):
        for kind, (i, value) in resource_requirements(container).items():
            amount = number(value)
            if amount is not None and kind in ("VCPU", "MEMORY", "GPU"):
                found.append(((*path, "resourceRequirements", i, "value"), kind.lower(), amount))
        for legacy, kind in (("vcpus", "vcpu"), ("memory", "memory")):
            amount = number(container.get(legacy))
            if amount is not None:
                found.append(((*path, legacy), kind, amount))
    for path, container in eks_containers(request):
        for side in ("limits", "requests"):
            quantities = (container.get("resources") or {}).get(side)
            if not isinstance(quantities, Mapping):
                continue
            for name, raw in quantities.items():
                eks_kind, eks_amount = _eks_amount(name, raw)
                if eks_kind is not None and eks_amount is not None:
                    found.append(((*path, "resources", side, name), eks_kind, eks_amount))
    return [
        Violation(
            at,
            f"asks for {amount:g} {_UNITS[kind]}; route {route.name!r} allows at most {cap:g}",
            f"ask for at most {cap:g}, or route the task to a larger route",
            "policy-cap",
        )
        for at, kind, amount in found
        if (cap := caps[kind]) is not None and amount > cap
    ]


_UNITS = {"vcpu": "vCPU", "memory": "MiB", "gpu": "GPU"}


def _eks_amount(name: str, raw: Any) -> tuple[str | None, float | None]:
    text = str(raw)
    if name == "cpu":
        return "vcpu", kubernetes_cpu(text)
    if name == "memory":
        return "memory", number(text[:-2]) if text.endswith("Mi") else None
    if name == "nvidia.com/gpu":
        return "gpu", number(text)
    return None, None
