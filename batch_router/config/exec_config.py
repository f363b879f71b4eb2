"""A task's ``executor_config`` -> ``ExecConfig``: validated, split into hints and SubmitJob kwargs.

The accepted format is the reference AWS Batch executor's (a dict of SubmitJob kwargs, merged over
``SUBMIT_JOB_KWARGS``) plus a few reserved hint keys, so DAGs written for the reference executor keep
working. A wrong executor_config fails only its own task, so every problem is reported at once, each
with a path and a hint a DAG author can act on without reading the AWS docs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError

from batch_router.config.input_limits import input_problems
from batch_router.config.json_tree import dict_items, dig, json_path
from batch_router.config.model import HINT_KEYS, ExecConfig, Hints
from batch_router.config.schema_problems import problems_from_errors
from batch_router.config.schemas import validator_for
from batch_router.errors import ExecConfigError, Problem

__all__ = [
    "COMMAND_HINT",
    "EXECUTOR_OWNED_ENV",
    "SEED_UNSUPPORTED_KEYS",
    "UNSUPPORTED_KEYS",
    "parse_exec_config",
]

# Environment variables the executor sets on every job; a task overriding one would break the executor.
EXECUTOR_OWNED_ENV: frozenset[str] = frozenset(
    {"AIRFLOW_IS_EXECUTOR_CONTAINER", "BATCH_ROUTER_ROUTE", "BATCH_ROUTER_TRY_ID"}
)

_HINT_HELP: dict[str, str] = {
    "route": "a route name from the route table: lowercase letters, digits and '-'",
    "vcpu": "a number of vCPUs greater than 0, e.g. 0.5 or 4",
    "memory_mib": "a whole number of MiB, e.g. 2048",
    "gpu": "a whole number of GPUs, 0 or more",
    "timeout_seconds": "a whole number of seconds, at least 60 (Batch's minimum attemptDurationSeconds)",
    "consumable_resources": "a mapping of consumable resource names to whole quantities, e.g. "
    '{"licence-x": 2}: at most 5, of those the route offers',
}

# Unknown top-level keys people reach for, and what to do instead.
_UNKNOWN_TOP_LEVEL_HINTS: dict[str, str] = {
    "command": "the executor sets the command to run the Airflow task; executor_config cannot override it",
    "pod_override": "pod_override belongs to the KubernetesExecutor; for EKS jobs use eksPropertiesOverride",
}

COMMAND_HINT = "remove it: the executor puts the Airflow task command there itself"
# SubmitJob arguments that would not run the try once, as one job: (what is wrong, how to fix it).
UNSUPPORTED_KEYS: dict[str, tuple[str, str]] = {
    "nodeOverrides": (
        "multi-node parallel jobs are not supported",
        "remove nodeOverrides: each Airflow task runs as one single-node Batch job",
    ),
    "arrayProperties": (
        "array jobs are not supported: Batch would run the task's try as many jobs at once",
        "remove arrayProperties; fan out with Airflow's dynamic task mapping (.expand) instead",
    ),
    "dependsOn": (
        "Batch job dependencies are not supported: each try is submitted when Airflow schedules it",
        "remove dependsOn; order tasks with Airflow dependencies (upstream >> downstream)",
    ),
}
# What the seed's semantics (no route table) still refuse: a try is one single-node job, or the
# executor cannot follow it (an array job runs the task many times at once; a multi-node job needs a
# multi-node job definition). dependsOn only delays the one job, so the seed lets it through as the
# reference does.
SEED_UNSUPPORTED_KEYS: frozenset[str] = frozenset({"nodeOverrides", "arrayProperties"})


def parse_exec_config(
    raw: Mapping[str, Any] | None, source: str = "executor_config", *, seed: bool = False
) -> ExecConfig:
    """Validate ``raw`` and split it; raises ``ExecConfigError`` listing every problem found.

    ``seed``: no route table, so the reference's semantics hold: a command or a variable the executor
    sets is replaced by the executor's (as AwsBatchExecutor replaces the command), not refused.
    The kwargs are a deep copy, so neither the caller's dict nor the returned one can change the other.
    """
    if raw is None:
        return ExecConfig()
    if not isinstance(raw, Mapping):
        raise ExecConfigError(
            source,
            [
                Problem(
                    "",
                    f"executor_config must be a dict, got {type(raw).__name__}",
                    'e.g. executor_config={"vcpu": 2, "memory_mib": 4096}',
                )
            ],
        )
    too_odd = input_problems(raw)  # before anything reads it: bounded, whatever its size
    if too_odd:
        raise ExecConfigError(source, too_odd)
    data = _plain(raw)
    owned = _seed_owned_problems(data) if seed else _owned_problems(data)
    problems = _dedupe(sorted([*_schema_problems(data), *owned], key=_order))
    if problems:
        raise ExecConfigError(source, problems)
    hints = _hints(data)
    kwargs = {key: value for key, value in data.items() if key not in HINT_KEYS}
    return ExecConfig(hints=hints, submit_job_kwargs=kwargs)


def _plain(value: Any) -> Any:
    """A deep copy in JSON's own types: tuples become lists and any Mapping a dict, as botocore accepts."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return copy.deepcopy(value)


def _hints(data: Mapping[str, Any]) -> Hints:
    vcpu = data.get("vcpu")
    return Hints(
        route=data.get("route"),
        compute=data.get("compute"),
        vcpu=float(vcpu) if vcpu is not None else None,
        memory_mib=_int_or_none(data.get("memory_mib")),
        gpu=_int_or_none(data.get("gpu")),
        timeout_seconds=_int_or_none(data.get("timeout_seconds")),
        consumable_resources=tuple(
            sorted(
                (str(name), int(quantity))
                for name, quantity in (data.get("consumable_resources") or {}).items()
            )
        ),
    )


def _int_or_none(value: Any) -> int | None:
    # JSON Schema counts 2048.0 as an integer; the dataclass promises an int.
    return int(value) if value is not None else None


def _schema_problems(data: Mapping[str, Any]) -> list[Problem]:
    return problems_from_errors(
        validator_for("exec_config").iter_errors(data), hint_for=_hint_for, unknown_key_hint=_unknown_key_hint
    )


def _hint_for(error: ValidationError, parts: Sequence[Any]) -> str | None:
    top = parts[0] if parts else None
    if json_path(parts) == "timeout" and error.validator == "type":
        return "use timeout_seconds: 3600, or timeout: {'attemptDurationSeconds': 3600}"
    if error.validator != "enum" and len(parts) == 1 and isinstance(top, str):
        return _HINT_HELP.get(top)
    return None


def _unknown_key_hint(key: str, allowed: Sequence[str], parts: Sequence[Any]) -> str | None:
    return _UNKNOWN_TOP_LEVEL_HINTS.get(key) if not parts else None


def _seed_owned_problems(data: Mapping[str, Any]) -> Iterator[Problem]:
    for key in SEED_UNSUPPORTED_KEYS & data.keys():
        message, hint = UNSUPPORTED_KEYS[key]
        yield Problem(key, message, hint)


def _owned_problems(data: Mapping[str, Any]) -> Iterator[Problem]:
    """Keys only the executor may set; the schema allows them because SubmitJob does."""
    for key, (message, hint) in UNSUPPORTED_KEYS.items():
        if key in data:
            yield Problem(key, message, hint)
    container = data.get("containerOverrides")
    if isinstance(container, Mapping):
        yield from _container_owned(["containerOverrides"], container, env_key="environment")
    pod = dig(data, "eksPropertiesOverride", "podProperties")
    for i, eks_container in dict_items(pod.get("containers") if pod else None):
        path: list[str | int] = ["eksPropertiesOverride", "podProperties", "containers", i]
        yield from _container_owned(path, eks_container, env_key="env")
        if "args" in eks_container:
            yield Problem(
                json_path([*path, "args"]), "the executor owns the container's arguments", COMMAND_HINT
            )
    ecs = data.get("ecsPropertiesOverride")
    for i, task in dict_items(ecs.get("taskProperties") if isinstance(ecs, Mapping) else None):
        for j, ecs_container in dict_items(task.get("containers")):
            path = ["ecsPropertiesOverride", "taskProperties", i, "containers", j]
            yield from _container_owned(path, ecs_container, env_key="environment")


def _container_owned(path: list[str | int], container: Mapping[str, Any], env_key: str) -> Iterator[Problem]:
    if "command" in container:
        yield Problem(
            json_path([*path, "command"]), "the executor owns the container's command", COMMAND_HINT
        )
    for k, variable in dict_items(container.get(env_key)):
        name = variable.get("name")
        if isinstance(name, str) and name in EXECUTOR_OWNED_ENV:
            yield Problem(
                json_path([*path, env_key, k, "name"]),
                f"environment variable {name!r} is set by the executor",
                f"remove it; the executor owns {', '.join(sorted(EXECUTOR_OWNED_ENV))}",
            )


def _order(problem: Problem) -> tuple[str, str]:
    return (problem.path, problem.message)


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
