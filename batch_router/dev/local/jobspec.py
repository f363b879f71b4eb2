"""What process a Batch job stands for: its argv and the environment Batch would give its container.

Pure functions over the plain dicts moto keeps (job definition properties, submit overrides,
parameters), so the rules for what a job runs can be tested without a server or a process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A leading interpreter word that is swapped for the interpreter running the local Batch, so jobs
# use the same virtualenv as the scheduler and the demo (there is no container image to carry one).
PYTHON_WORDS = frozenset({"python", "python3"})


@dataclass(frozen=True)
class ProcessSpec:
    """The local process one job attempt runs: argv and the variables Batch sets for its container."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


# What signs Airflow's task tokens: the scheduler and API server hold it, a worker never does (it gets
# its own token in its workload). A job that inherited it could sign a token for any task.
SIGNING_SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API_AUTH__JWT_PRIVATE_KEY_PATH")


def inherited_env(environ: Mapping[str, str]) -> dict[str, str]:
    """What a job keeps of the server's own environment: not one AWS variable, no signing secret.

    A job stands for a container in AWS, which never sees the submitter's credentials; here it is a
    process of the user who started the server, and the server's ``AWS_PROFILE``, ``AWS_SESSION_TOKEN``
    or role settings would hand a job (anything anyone submitted) the user's real account. The local
    endpoint and its fake credentials are added back by the server, and the user's ``~/.aws`` files
    and the instance metadata service are switched off. Airflow's token signing secret (and its
    ``_CMD`` / ``_SECRET`` forms) stays with the scheduler and API server, as on AWS.
    """
    kept = {name: value for name, value in environ.items() if not name.startswith(("AWS_", *SIGNING_SECRETS))}
    kept.update(
        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true"
    )
    return kept


def env_list_to_dict(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """Batch's ``[{"name": .., "value": ..}]`` lists, later entries winning like in a container."""
    result: dict[str, str] = {}
    for item in items or ():
        name = item.get("name")
        if name:
            result[str(name)] = str(item.get("value", ""))
    return result


def substitute_parameters(argv: Sequence[str], parameters: Mapping[str, str]) -> list[str]:
    """Replace ``Ref::name`` placeholders the way Batch does for job parameters."""
    result = []
    for part in argv:
        for name, value in parameters.items():
            part = part.replace(f"Ref::{name}", str(value))
        result.append(part)
    return result


def resolve_python(argv: Sequence[str], executable: str | None = None) -> list[str]:
    """Run a leading ``python``/``python3`` with this interpreter (jobs share the local venv)."""
    if argv and argv[0] in PYTHON_WORDS:
        return [executable or sys.executable, *argv[1:]]
    return list(argv)


def _as_argv(command: object) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return [command]
    if isinstance(command, Sequence):
        return [str(part) for part in command]
    raise TypeError(f"command must be a list of strings, not {type(command).__name__}")


def container_spec(
    container_properties: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    parameters: Mapping[str, str],
) -> ProcessSpec:
    """A container job: ``containerOverrides`` replace the command and overlay the environment."""
    overrides = overrides or {}
    command = overrides["command"] if "command" in overrides else container_properties.get("command")
    env = env_list_to_dict(container_properties.get("environment"))
    env.update(env_list_to_dict(overrides.get("environment")))
    argv = substitute_parameters(_as_argv(command), parameters)
    return ProcessSpec(argv=tuple(argv), env=env)


def merge_eks_container(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """One pod container with its ``eksPropertiesOverride`` applied: command/args replace, env overlays."""
    merged = dict(base)
    if not override:
        return merged
    for key in ("command", "args", "image", "resources"):
        if key in override:
            merged[key] = override[key]
    if "env" in override:
        env = env_list_to_dict(base.get("env"))
        env.update(env_list_to_dict(override.get("env")))
        merged["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return merged


def eks_override_for(
    containers: Sequence[Mapping[str, Any]], override_containers: Sequence[Mapping[str, Any]], index: int
) -> Mapping[str, Any] | None:
    """The override for ``containers[index]``: the one naming it, else the one at the same position."""
    name = containers[index].get("name")
    for candidate in override_containers:
        if name is not None and candidate.get("name") == name:
            return candidate
    if index < len(override_containers) and "name" not in override_containers[index]:
        return override_containers[index]
    return None


def merged_eks_containers(
    eks_properties: Mapping[str, Any], eks_override: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Every pod container of the job definition with the submit's overrides applied."""
    containers = list(eks_properties.get("podProperties", {}).get("containers", []))
    override_containers = list(((eks_override or {}).get("podProperties") or {}).get("containers") or [])
    return [
        merge_eks_container(container, eks_override_for(containers, override_containers, i))
        for i, container in enumerate(containers)
    ]


def eks_spec(
    eks_properties: Mapping[str, Any], eks_override: Mapping[str, Any] | None, parameters: Mapping[str, str]
) -> ProcessSpec:
    """An EKS job runs its first pod container: ``command + args`` like Kubernetes, env from ``env``."""
    containers = merged_eks_containers(eks_properties, eks_override)
    if not containers:
        return ProcessSpec(argv=())
    first = containers[0]
    argv = _as_argv(first.get("command")) + _as_argv(first.get("args"))
    return ProcessSpec(
        argv=tuple(substitute_parameters(argv, parameters)), env=env_list_to_dict(first.get("env"))
    )


def exit_code_of(returncode: int) -> int:
    """A process killed by signal N reports ``128 + N``, as a container's exit code would."""
    return returncode if returncode >= 0 else 128 - returncode
