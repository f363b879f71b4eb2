"""Build the exact SubmitJob request for one task try on its chosen route.

Layers merge lowest first: SUBMIT_JOB_KWARGS, the route table's defaults, the route (its queue, job
definition and own kwargs), then the task's exec_config. The executor then writes what only it may
set (the command, its environment variables, the job name and identity tags) and the task's sizing
hints in the shape the route's compute needs: ``containerOverrides`` for EC2 and Fargate,
``eksPropertiesOverride`` in Kubernetes units for EKS. The result is checked with botocore's own
validator, so a request that boto3 would refuse fails here, for one task, with a path and a hint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from batch_router.config.compute_kinds import kind, pods
from batch_router.config.exec_config import (
    COMMAND_HINT,
    EXECUTOR_OWNED_ENV,
    SEED_UNSUPPORTED_KEYS,
    UNSUPPORTED_KEYS,
)
from batch_router.config.json_tree import dict_items, dig, json_path
from batch_router.config.model import Compute, DefinitionFacts, ExecConfig, Route, RouteTable
from batch_router.errors import ExecConfigError, Problem
from batch_router.plan.compute_shapes import write_container, write_eks, write_task
from batch_router.plan.consumables import route_consumables, with_asked_quantities
from batch_router.plan.merge import deep_merge, seed_merge
from batch_router.plan.model import BuiltJob, RouteChoice, TaskIdentity
from batch_router.plan.naming import MAX_TAGS, job_name, job_tags, with_job_tags
from batch_router.plan.provenance import layer_of
from batch_router.plan.request_shape import validate_submit_job
from batch_router.rules import Context, check_request
from batch_router.rules.caps import cap_violations
from batch_router.rules.policy import policy_violations

ROUTE_ENV = "BATCH_ROUTER_ROUTE"
TRY_ID_ENV = "BATCH_ROUTER_TRY_ID"
# Layers shared by every route may carry settings for another kind of compute; those are dropped.
_SHARED_LAYERS = ("SUBMIT_JOB_KWARGS", "route table defaults")


def build_submit_job(
    *,
    base_kwargs: Mapping[str, Any],
    table: RouteTable,
    choice: RouteChoice,
    exec_config: ExecConfig,
    identity: TaskIdentity,
    command: Sequence[str],
    job_name_prefix: str,
    executor_env: Mapping[str, str],
    definitions: Mapping[str, DefinitionFacts] | None = None,
    deployment: str | None = None,
) -> BuiltJob:
    """The SubmitJob kwargs for this task try; raises ``ExecConfigError`` listing every problem.

    ``definitions``: what is known of job definitions by the reference a request uses (their compute
    and size), so a request naming another job definition gets that one's rules, or the shared rules
    only when nothing is known of it.
    """
    route = choice.route
    seed = route.policy.open  # no route table: the reference's semantics (config.routes)
    source = _source(identity, route)
    route_layer = deep_merge(
        {"jobQueue": route.job_queue, "jobDefinition": route.job_definition},
        route_consumables(route),
        route.submit_job_kwargs,
    )
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("SUBMIT_JOB_KWARGS", base_kwargs),
        ("route table defaults", table.defaults),
        (f"route {route.name!r}", route_layer),
        ("executor_config", exec_config.submit_job_kwargs),
    ]
    env = dict(executor_env)
    env[ROUTE_ENV] = route.name
    if identity.try_id is not None:
        env[TRY_ID_ENV] = identity.try_id
    owned_env = EXECUTOR_OWNED_ENV | set(env)

    notes: list[str] = []
    if seed:
        # The reference overwrites the command (and appends its variable); so does the executor here,
        # saying so. What it cannot overwrite (EKS args, array and multi-node jobs) is still refused.
        problems = [p for label, layer in layers for p in _seed_owned_problems(label, layer)]
        for label, layer in layers:
            for p in _owned_problems(label, layer, owned_env):
                if p.path in UNSUPPORTED_KEYS:
                    continue
                if p.path.endswith(".args"):
                    problems.append(p)
                else:
                    notes.append(f"{p.path}: {p.message}; the executor's is sent, as AwsBatchExecutor does")
    else:
        problems = [p for label, layer in layers for p in _owned_problems(label, layer, owned_env)]
    problems += _foreign_compute_problems(route, layers)
    trusted = deep_merge(*(layer for label, layer in layers if label != "executor_config"))
    problems += [
        Problem(json_path(v.path), f"{v.message} (policy {v.rule}; set by executor_config)", v.fix)
        for v in policy_violations(route, trusted, exec_config.submit_job_kwargs, exec_config.hints)
    ]
    if problems:
        raise ExecConfigError(source, problems)
    merge = seed_merge if seed else deep_merge
    kwargs = merge(trusted, exec_config.submit_job_kwargs)  # the platform's layers, merged once
    problems = validate_submit_job({**kwargs, "jobName": kwargs.get("jobName", job_name_prefix)})
    if problems:
        raise ExecConfigError(source, problems)

    if kwargs["jobQueue"] != route.job_queue:
        notes.append(f"jobQueue {kwargs['jobQueue']!r} overrides route {route.name!r}'s {route.job_queue!r}")
    facts = _facts_of(str(kwargs["jobDefinition"]), route, definitions or {})
    compute = facts.compute if facts is not None else None
    if compute is None:
        notes.append(
            f"compute of job definition {kwargs['jobDefinition']!r} not known: only the rules every "
            "compute shares apply (set COMPUTE, or let start-up read the job definition)"
        )
    problems += _orchestration_problems(route, str(kwargs["jobDefinition"]), compute)
    kwargs["jobName"] = job_name(kwargs.get("jobName") or job_name_prefix, identity)
    env_list = [{"name": name, "value": value} for name, value in env.items()]
    shape = kind(route.compute).shape if route.compute is not None else "container"
    if shape == "pod":
        kwargs = write_eks(kwargs, command, env_list, exec_config.hints, notes, problems)
    else:
        # Only a shared layer can get here with one (see _foreign_compute_problems): it is for EKS routes.
        if kwargs.pop("eksPropertiesOverride", None):
            notes.append(
                f"eksPropertiesOverride from shared settings dropped: route runs on {route.compute or 'ECS'}"
            )
        write = write_task if shape == "task" else write_container
        hints = exec_config.hints
        kwargs = write(kwargs, route, compute, command, env_list, hints, notes, problems, facts)
    kwargs = with_asked_quantities(kwargs, route, exec_config.hints)
    if exec_config.hints.timeout_seconds is not None:
        kwargs = deep_merge(
            kwargs, {"timeout": {"attemptDurationSeconds": exec_config.hints.timeout_seconds}}
        )
    sent_to = {"job_queue": str(kwargs["jobQueue"]), "job_definition": str(kwargs["jobDefinition"])}
    ours = job_tags(identity, route.name, **sent_to, deployment=deployment)
    kwargs["tags"], dropped = with_job_tags(kwargs.get("tags", {}), ours)
    if dropped:
        notes.append(f"executor tags {', '.join(dropped)} left out: SubmitJob takes at most {MAX_TAGS} tags")
    if not pods(route.compute):  # tags propagate to ECS tasks; EKS jobs must not set propagateTags
        kwargs.setdefault("propagateTags", True)
    problems += validate_submit_job(kwargs)
    if not problems:  # AWS's documented rules, on a request of the right shape
        problems += rule_problems(kwargs, route, layers, facts)
    if problems:
        raise ExecConfigError(source, problems)
    return BuiltJob(kwargs=kwargs, route=route, reason=choice.reason, notes=tuple(notes))


def rule_problems(
    request: Mapping[str, Any],
    route: Route,
    layers: Sequence[tuple[str, Mapping[str, Any]]],
    facts: DefinitionFacts | None = None,
) -> list[Problem]:
    """The AWS Batch rules ``request`` breaks, each with the layer that set the value.

    ``facts``: the job definition the request names, where known; without them only the rules every
    compute shares apply.
    """
    context = Context(
        compute=facts.compute if facts is not None else None,
        route=route.name,
        fair_share=route.fair_share,
        definition_vcpu=facts.vcpu if facts is not None else None,
        definition_memory_mib=facts.memory_mib if facts is not None else None,
    )
    rules = [(v, "AWS Batch rule") for v in check_request(request, context)]
    caps = [(v, "policy") for v in cap_violations(route, request)]
    return [
        Problem(
            json_path(v.path),
            f"{v.message} ({kind} {v.rule}; set by {layer_of(v.path, request, layers)})",
            v.fix,
        )
        for v, kind in [*rules, *caps]
    ]


def _facts_of(
    definition: str, route: Route, definitions: Mapping[str, DefinitionFacts]
) -> DefinitionFacts | None:
    """What is known of the job definition a request names: described facts first, then the route's
    compute when it is the route's own job definition."""
    known = definitions.get(definition)
    if known is not None:
        return known
    if definition == route.job_definition and route.compute is not None:
        return DefinitionFacts(compute=route.compute)
    return None


def _orchestration_problems(route: Route, definition: str, compute: Compute | None) -> list[Problem]:
    """A job definition of another shape than the request is written for: AWS refuses containerOverrides
    for an EKS job definition, eksPropertiesOverride for an ECS one, and an ECS Managed Instances job
    definition holds ecsProperties, not the containerProperties containerOverrides override."""
    if compute is None or route.compute is None or kind(compute).shape == kind(route.compute).shape:
        return []
    sends = {"pod": "EKS pods", "task": "ECS tasks (ecsProperties)", "container": "ECS containers"}
    return [
        Problem(
            "jobDefinition",
            f"job definition {definition!r} runs on {compute}, but route {route.name!r} sends "
            f"{sends[kind(route.compute).shape]}",
            "name a job definition of the route's kind of compute, or route the task elsewhere",
        )
    ]


def _source(identity: TaskIdentity, route: Route) -> str:
    task = f"{identity.dag_id}.{identity.task_id}"
    if identity.map_index >= 0:
        task += f"[{identity.map_index}]"
    return (
        f"the SubmitJob request for {task} run {identity.run_id!r} try {identity.try_number} "
        f"on route {route.name!r}"
    )


# --- what only the executor sets -------------------------------------------------------------------


def _seed_owned_problems(label: str, layer: Mapping[str, Any]) -> Iterator[Problem]:
    for key in sorted(SEED_UNSUPPORTED_KEYS & layer.keys()):
        message, hint = UNSUPPORTED_KEYS[key]
        yield Problem(key, f"{label} sets {key}: {message}", hint)


def _owned_problems(label: str, layer: Mapping[str, Any], owned_env: frozenset[str]) -> Iterator[Problem]:
    for key, (message, hint) in UNSUPPORTED_KEYS.items():
        if key in layer:
            yield Problem(key, f"{label} sets {key}: {message}", hint)
    containers: list[tuple[list[str | int], Any, str]] = [
        (["containerOverrides"], layer.get("containerOverrides"), "environment")
    ]
    pod = dig(layer, "eksPropertiesOverride", "podProperties")
    for i, container in dict_items(pod.get("containers") if pod else None):
        containers.append((["eksPropertiesOverride", "podProperties", "containers", i], container, "env"))
    tasks = dig(layer, "ecsPropertiesOverride")
    for t, task in dict_items(tasks.get("taskProperties") if tasks else None):
        for c, container in dict_items(task.get("containers")):
            path: list[str | int] = ["ecsPropertiesOverride", "taskProperties", t, "containers", c]
            containers.append((path, container, "environment"))
    for path, container, env_key in containers:
        if not isinstance(container, Mapping):
            continue
        for key in ("command", "args"):
            if container.get(key):
                yield Problem(
                    json_path([*path, key]),
                    f"{label} sets the container's {key}; the executor owns it",
                    COMMAND_HINT,
                )
        for k, variable in dict_items(container.get(env_key)):
            name = variable.get("name")
            if name in owned_env:
                yield Problem(
                    json_path([*path, env_key, k, "name"]),
                    f"{label} sets environment variable {name!r}, which the executor sets",
                    f"remove it; the executor owns {', '.join(sorted(owned_env))}",
                )


def _foreign_compute_problems(route: Route, layers: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Problem]:
    """Overrides for another kind of compute, given by the route itself or by the task, are mistakes."""
    if pods(route.compute):
        return []
    return [
        Problem(
            "eksPropertiesOverride",
            f"{label} gives eksPropertiesOverride, but route {route.name!r} "
            + (f"runs on {route.compute}" if route.compute else "sends ECS containers (no EKS compute)"),
            "use containerOverrides for EC2 and Fargate routes, or route the task to an EKS route",
        )
        for label, layer in layers
        if label not in _SHARED_LAYERS and layer.get("eksPropertiesOverride")
    ]
