"""The platform's policy: a DAG author's executor_config stays inside what the route table allows.

The threat model (docs/policy.md): whoever writes settings and the route table is trusted; whoever
writes a DAG is not. So by default an executor_config may pick among the routes and size its task
within a route's caps, and add what the platform left open, but it may not send the job to another
queue or job definition, change what the platform set (tags, priority, share, environment, image),
run code at the container's start through the environment, or ask for more than the route's caps.
A route table's ``policy`` opens exactly what a platform team wants opened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from batch_router.config.json_tree import dig
from batch_router.config.model import Hints, Policy, Route
from batch_router.rules.caps import EKS_ACCELERATORS
from batch_router.rules.request_parts import (
    ecs_containers,
    eks_containers,
    env_entries,
)
from batch_router.rules.rule import Violation

__all__ = [
    "IDENTITY_METADATA_PREFIXES",
    "STARTUP_ENV",
    "STARTUP_ENV_PREFIXES",
    "overridable_path",
    "policy_violations",
]

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
        *_eks_identity(policy, task),
        *_env_shapes(task),
        *_duplicate_resources(task),
        *_unbounded_resources(policy, task),
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


# Subtrees the pinned-value walk leaves to their own rules: environment variables (by name, below),
# sizes (the caps, ``cap_violations``) and EKS containers (image, init containers, env; sizes by caps).
_OWN_RULES: frozenset[tuple[str, ...]] = frozenset(
    {
        ("containerOverrides", "environment"),
        ("containerOverrides", "resourceRequirements"),
        ("containerOverrides", "vcpus"),
        ("containerOverrides", "memory"),
        ("containerOverrides", "command"),  # the executor's (job_builder refuses it)
        ("eksPropertiesOverride", "podProperties", "containers"),
        ("eksPropertiesOverride", "podProperties", "initContainers"),
        # Where the job goes is the route's, opened by executor_config_keys (``_keys``); the job name
        # is a prefix the executor completes, not something the platform pins.
        ("jobQueue",),
        ("jobDefinition",),
        ("jobName",),
    }
)
_NAMESPACE = ("eksPropertiesOverride", "podProperties", "metadata", "namespace")
_METADATA = ("eksPropertiesOverride", "podProperties", "metadata")
# Pod label and annotation keys that steer the pod's identity or network (an IAM role through kube2iam
# or kiam, security groups for pods, a service mesh's sidecar, a CNI's networks): a DAG author setting
# one could reach a role or network the platform did not give the route, so they are refused even where
# the platform set none (``overridable`` opens them with the metadata path).
IDENTITY_METADATA_PREFIXES: tuple[str, ...] = (
    "eks.amazonaws.com/", "iam.amazonaws.com/", "vpc.amazonaws.com/", "sidecar.istio.io/", "istio.io/",
    "linkerd.io/", "k8s.v1.cni.cncf.io/", "cni.projectcalico.org/", "kubernetes.io/", "k8s.io/",
)  # fmt: skip
_OVERRIDE_FIX = "remove it, or ask the platform team to list it in the policy's overridable"


def overridable_path(policy: Policy, path: tuple[str | int, ...]) -> bool:
    """Whether the policy's ``overridable`` opens ``path``: a top-level SubmitJob argument opens
    everything under it, a dotted path (``eksPropertiesOverride.podProperties.metadata.labels``)
    everything under that path."""
    dotted = ".".join(str(part) for part in path)
    return any(dotted == entry or dotted.startswith(f"{entry}.") for entry in policy.overridable)


def _overrides(policy: Policy, trusted: Mapping[str, Any], task: Mapping[str, Any]) -> Iterator[Violation]:
    """Every value the platform's layers set that the task changes: each leaf under a SubmitJob argument
    (a list is one leaf), but environment variables, sizes and EKS containers, which have rules of
    their own. Adding what the platform left unset is allowed."""
    yield from _pinned(policy, trusted, task, ())
    if "environment" not in policy.overridable:
        platform_env = {name for _, name in env_entries(trusted)}
        for path, name in env_entries(task):
            if name in platform_env:
                message = f"overrides environment variable {name!r} set by the platform"
                yield Violation(path, message, _OVERRIDE_FIX, "policy-override")
    for path, container in eks_containers(task):
        if container.get("image") is not None and "image" not in policy.overridable:
            yield Violation((*path, "image"), "sets the container image", _OVERRIDE_FIX, "policy-override")
        if path[2] == "initContainers" and "initContainers" not in policy.overridable:
            yield Violation(path, "adds or changes an init container", _OVERRIDE_FIX, "policy-override")


def _pinned(
    policy: Policy, trusted: Mapping[str, Any], task: Mapping[str, Any], at: tuple[str, ...]
) -> Iterator[Violation]:
    for key, value in task.items():
        path = (*at, key)
        if path in _OWN_RULES or key not in trusted or overridable_path(policy, path):
            continue
        platform = trusted[key]
        if isinstance(value, Mapping) and isinstance(platform, Mapping):
            yield from _pinned(policy, platform, value, path)
        elif value != platform:
            yield Violation(path, _override_message(path, platform), _OVERRIDE_FIX, "policy-override")


def _override_message(path: tuple[str, ...], platform: Any) -> str:
    if len(path) == 2 and path[0] == "tags":
        return f"overrides tag {path[1]!r} set by the platform"
    shown = repr(platform)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"overrides {'.'.join(path)} set by the platform ({shown})"


def _eks_identity(policy: Policy, task: Mapping[str, Any]) -> Iterator[Violation]:
    """The namespace picks the service account and so the pod's IAM role: the route's, never the
    task's, unless opened. The same for metadata keys known to steer identity or network."""
    metadata = dig(task, *_METADATA)
    if metadata is None:
        return
    if "namespace" in metadata and not overridable_path(policy, _NAMESPACE):
        yield Violation(
            _NAMESPACE,
            "sets the pod's namespace, which picks its service account and IAM role",
            "remove it: the route's job definition says the namespace; the platform team can list "
            "eksPropertiesOverride.podProperties.metadata.namespace in the policy's overridable",
            "policy-identity",
        )
    for kind in ("labels", "annotations"):
        entries = metadata.get(kind)
        if not isinstance(entries, Mapping) or overridable_path(policy, (*_METADATA, kind)):
            continue
        for name in entries:
            if isinstance(name, str) and name.startswith(IDENTITY_METADATA_PREFIXES):
                yield Violation(
                    (*_METADATA, kind, name),
                    f"sets pod {kind[:-1]} {name!r}, which steers the pod's identity or network",
                    f"remove it; the platform team can list {'.'.join((*_METADATA, kind))} in the "
                    "policy's overridable",
                    "policy-identity",
                )


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_shapes(task: Mapping[str, Any]) -> Iterator[Violation]:
    """Every variable a task sets has a name of a variable: the container agent writes ``name=value``,
    so a name holding ``=`` would set another variable than the one checked, and an entry without a
    name would make the layers' list be replaced instead of merged by name."""
    containers = [(path, c, "environment") for path, c in ecs_containers(task)]
    containers += [(path, c, "env") for path, c in eks_containers(task)]
    for path, container, key in containers:
        entries = container.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else ()):
            name = entry.get("name") if isinstance(entry, Mapping) else None
            if not isinstance(name, str):
                yield Violation(
                    (*path, key, i),
                    "an environment entry without a name",
                    "give every entry a name and a value",
                    "policy-env",
                )
            elif not _ENV_NAME.match(name):
                yield Violation(
                    (*path, key, i, "name"),
                    f"{name!r} is not an environment variable name",
                    "use letters, digits and '_', not starting with a digit",
                    "policy-env",
                )


_BOUNDED_EKS = frozenset({"cpu", "memory"})
_EKS_RESOURCES = ("eksPropertiesOverride", "podProperties", "containers", "resources")


def _unbounded_resources(policy: Policy, task: Mapping[str, Any]) -> Iterator[Violation]:
    """An EKS resource no cap bounds (ephemeral storage, a device plugin's resource the caps do not
    know) would let a task ask for any amount: refused unless the policy opens containers' resources."""
    if overridable_path(policy, _EKS_RESOURCES):
        return
    for path, container in eks_containers(task):
        resources = container.get("resources")
        for side in ("limits", "requests"):
            quantities = resources.get(side) if isinstance(resources, Mapping) else None
            for name in quantities if isinstance(quantities, Mapping) else ():
                bounded = (
                    name in _BOUNDED_EKS or str(name).startswith("hugepages-") or name in EKS_ACCELERATORS
                )
                if not bounded:
                    yield Violation(
                        (*path, "resources", side, name),
                        f"asks for {name!r}, which no cap of the route bounds",
                        f"remove it; the platform team can list {'.'.join(_EKS_RESOURCES)} in the policy's "
                        "overridable",
                        "policy-cap",
                    )


def _duplicate_resources(task: Mapping[str, Any]) -> Iterator[Violation]:
    """A resource type given twice: only one value could be held to the caps, and both are sent."""
    for path, container in ecs_containers(task):
        seen: set[str] = set()
        entries = container.get("resourceRequirements")
        for i, entry in enumerate(entries if isinstance(entries, list) else ()):
            kind = entry.get("type") if isinstance(entry, Mapping) else None
            if isinstance(kind, str) and kind in seen:
                yield Violation(
                    (*path, "resourceRequirements", i),
                    f"gives {kind} a second time",
                    f"give {kind} once",
                    "policy-cap",
                )
            if isinstance(kind, str):
                seen.add(kind)


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
