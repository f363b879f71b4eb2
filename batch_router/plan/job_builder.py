"""Build the exact SubmitJob request for one task try on its chosen route.

Layers merge lowest first: SUBMIT_JOB_KWARGS, the route table's defaults, the route (its queue, job
definition and own kwargs), then the task's exec_config. The executor then writes what only it may
set (the command, its environment variables, the job name and identity tags) and the task's sizing
hints in the shape the route's compute needs: ``containerOverrides`` for EC2 and Fargate,
``eksPropertiesOverride`` in Kubernetes units for EKS. The result is checked with botocore's own
validator, so a request that boto3 would refuse fails here, for one task, with a path and a hint.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator, ValidationErrors

from batch_router.config.exec_config import COMMAND_HINT, EXECUTOR_OWNED_ENV, UNSUPPORTED_KEYS
from batch_router.config.json_tree import dict_items, dig, json_path
from batch_router.config.model import MIN_TIMEOUT_SECONDS, ExecConfig, Hints, Route, RouteTable
from batch_router.errors import ExecConfigError, Problem
from batch_router.plan import fargate
from batch_router.plan.merge import deep_merge, plain_copy
from batch_router.plan.model import BuiltJob, RouteChoice, TaskIdentity
from batch_router.plan.naming import job_name, job_tags

ROUTE_ENV = "BATCH_ROUTER_ROUTE"
TRY_ID_ENV = "BATCH_ROUTER_TRY_ID"
_API_HINT = "see SubmitJob in the AWS Batch API reference for its fields and their types"
_JSON_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "dict": "dict",
    "list": "list",
    "tuple": "list",
    "bool": "boolean",
    "Decimal": "number",
}
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
) -> BuiltJob:
    """The SubmitJob kwargs for this task try; raises ``ExecConfigError`` listing every problem."""
    route = choice.route
    source = _source(identity, route)
    route_layer = deep_merge(
        {"jobQueue": route.job_queue, "jobDefinition": route.job_definition}, route.submit_job_kwargs
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

    problems = [p for label, layer in layers for p in _owned_problems(label, layer, owned_env)]
    problems += _foreign_compute_problems(route, layers)
    if problems:
        raise ExecConfigError(source, problems)
    kwargs = deep_merge(*(layer for _, layer in layers))
    problems = validate_submit_job({**kwargs, "jobName": kwargs.get("jobName", job_name_prefix)})
    if problems:
        raise ExecConfigError(source, problems)

    notes: list[str] = []
    if kwargs["jobQueue"] != route.job_queue:
        notes.append(f"jobQueue {kwargs['jobQueue']!r} overrides route {route.name!r}'s {route.job_queue!r}")
    kwargs["jobName"] = job_name(kwargs.get("jobName") or job_name_prefix, identity)
    env_list = [{"name": name, "value": value} for name, value in env.items()]
    if route.compute == "eks":
        kwargs = _write_eks(kwargs, command, env_list, exec_config.hints, notes, problems)
    else:
        # Only a shared layer can get here with one (see _foreign_compute_problems): it is for EKS routes.
        if kwargs.pop("eksPropertiesOverride", None):
            notes.append(f"eksPropertiesOverride from shared settings dropped: route runs on {route.compute}")
        kwargs = _write_container(kwargs, route, command, env_list, exec_config.hints, notes, problems)
    if exec_config.hints.timeout_seconds is not None:
        kwargs = deep_merge(
            kwargs, {"timeout": {"attemptDurationSeconds": exec_config.hints.timeout_seconds}}
        )
    timeout = kwargs.get("timeout", {}).get("attemptDurationSeconds")
    if timeout is not None and timeout < MIN_TIMEOUT_SECONDS:
        problems.append(
            Problem(
                "timeout.attemptDurationSeconds",
                f"must be at least {MIN_TIMEOUT_SECONDS} seconds, got {timeout}",
                "Batch refuses shorter timeouts; use timeout_seconds: 60 or more",
            )
        )
    kwargs["tags"] = {**kwargs.get("tags", {}), **job_tags(identity, route.name)}
    kwargs.setdefault("propagateTags", True)
    problems += validate_submit_job(kwargs)
    if problems:
        raise ExecConfigError(source, problems)
    return BuiltJob(kwargs=kwargs, route=route, reason=choice.reason, notes=tuple(notes))


def validate_submit_job(kwargs: Mapping[str, Any]) -> list[Problem]:
    """Every way ``kwargs`` fails botocore's own check of SubmitJob's input, as Problems."""
    report = ParamValidator().validate(kwargs, _submit_job_shape())
    problems = [
        _problem(reason, str(name), details) for reason, name, details in getattr(report, "_errors", [])
    ]
    if report.has_errors() and not problems:  # botocore changed its internals: keep its whole report
        problems.append(Problem("", report.generate_report(), _API_HINT))
    problems += _over_maximum(kwargs, _submit_job_shape(), "")
    return problems


def _over_maximum(value: Any, shape: Shape, path: str) -> list[Problem]:
    """Values over the maxima in botocore's model, which its validator leaves to the server to refuse.

    Checked here so that, say, a 51st tag fails the task before the call, with its path, rather than as
    AWS's ClientException after it.
    """
    problems: list[Problem] = []
    limit = shape.metadata.get("max")
    if limit is not None:
        if isinstance(value, str | list | Mapping) and len(value) > limit:
            unit = "characters" if isinstance(value, str) else "entries"
            problems.append(
                Problem(path, f"has {len(value)} {unit}; SubmitJob allows at most {limit}", _API_HINT)
            )
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
            problems.append(Problem(path, f"is {value}; SubmitJob allows at most {limit}", _API_HINT))
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                problems += _over_maximum(value[name], member, _join(path, name))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            problems += _over_maximum(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for key, item in value.items():
            problems += _over_maximum(key, shape.key, _join(path, key))
            problems += _over_maximum(item, shape.value, _join(path, key))
    return problems


def _problem(reason: str, name: str, details: Mapping[str, Any]) -> Problem:
    path = name.lstrip(".")
    if reason == "invalid type":
        expected = " or ".join(_type_name(t) for t in details.get("valid_types", ()))
        value = details.get("param")
        return Problem(path, f"expected {expected}, got {type(value).__name__} {value!r}", _API_HINT)
    if reason == "missing required field":
        return Problem(_join(path, details.get("required_name")), "is required by SubmitJob", _API_HINT)
    if reason == "unknown field":
        allowed = ", ".join(details.get("valid_names", ()))
        return Problem(
            _join(path, details.get("unknown_param")), "is not a SubmitJob field here", f"allowed: {allowed}"
        )
    # Anything else in botocore's own words, through its public API.
    single = ValidationErrors()
    single.report(name, reason, **details)
    return Problem(path, single.generate_report(), _API_HINT)


def _type_name(botocore_type: str) -> str:
    # botocore reports types as "<class 'int'>"; DAG authors write JSON, so say it in those words.
    match = re.fullmatch(r"<class '(?:\w+\.)*(\w+)'>", botocore_type)
    name = match.group(1) if match else botocore_type
    return _JSON_NAMES.get(name, name)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


@functools.cache
def _submit_job_shape() -> Shape:
    model = botocore.session.get_session().get_service_model("batch")
    return model.operation_model("SubmitJob").input_shape


def _source(identity: TaskIdentity, route: Route) -> str:
    task = f"{identity.dag_id}.{identity.task_id}"
    if identity.map_index >= 0:
        task += f"[{identity.map_index}]"
    return (
        f"the SubmitJob request for {task} run {identity.run_id!r} try {identity.try_number} "
        f"on route {route.name!r}"
    )


# --- what only the executor sets -------------------------------------------------------------------


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
    if route.compute == "eks":
        return []
    return [
        Problem(
            "eksPropertiesOverride",
            f"{label} gives eksPropertiesOverride, but route {route.name!r} runs on {route.compute}",
            "use containerOverrides for EC2 and Fargate routes, or route the task to an EKS route",
        )
        for label, layer in layers
        if label not in _SHARED_LAYERS and layer.get("eksPropertiesOverride")
    ]


# --- EC2 and Fargate: containerOverrides ------------------------------------------------------------


def _write_container(
    kwargs: dict[str, Any],
    route: Route,
    command: Sequence[str],
    env: list[dict[str, str]],
    hints: Hints,
    notes: list[str],
    problems: list[Problem],
) -> dict[str, Any]:
    overrides: dict[str, Any] = {"command": list(command), "environment": env}
    requirements: dict[str, str] = {}
    vcpu, memory = hints.vcpu, hints.memory_mib
    if route.compute == "fargate":
        if hints.gpu:
            problems.append(
                Problem(
                    "gpu",
                    f"route {route.name!r} runs on Fargate, which has no GPUs",
                    "route GPU tasks to an EC2 or EKS route",
                )
            )
        if vcpu is not None or memory is not None:
            # A size given by only one hint pairs with the other from earlier layers, if they set it.
            if vcpu is None:
                vcpu = _layer_requirement(kwargs, "VCPU")
            if memory is None:
                layer_memory = _layer_requirement(kwargs, "MEMORY")
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
                notes.append(f"ec2: {vcpu:g} vCPU rounded up to {whole} (EC2 jobs take whole vCPUs)")
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


# --- EKS: eksPropertiesOverride in Kubernetes units -----------------------------------------------


def _write_eks(
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
