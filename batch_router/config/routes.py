"""The route table: read, validate and turn into a RouteTable, or stop start-up with every reason.

A route file that is wrong must never half-load: a typo in one route would silently send tasks to the
default route and to the wrong bill. So every check runs, every problem is reported with the file, the
JSON path and a hint, and nothing is returned unless all of it is right.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from batch_router.config.compute_kinds import KINDS, kinds_where
from batch_router.config.input_limits import input_problems
from batch_router.config.model import (
    DEFAULT_PROVISIONING,
    HINT_KEYS,
    OVERRIDABLE_SPECIAL,
    SEED_POLICY,
    Policy,
    Provisioning,
    Route,
    RouteTable,
)
from batch_router.config.route_capacity import (
    consumable_problems,
    consumable_resources,
    consumable_use,
    wait_limit_problems,
)
from batch_router.config.route_file import MAX_ROUTE_FILE_BYTES, read_route_data
from batch_router.config.schema_problems import did_you_mean, validate
from batch_router.config.schemas import property_names, validator_for
from batch_router.config.settings import ExecutorSettings, camelize_keys
from batch_router.errors import ConfigError, Problem

IMPLICIT_ROUTE = "default"
# Route data as JSON may be larger than its YAML (anchors, flow style): room for twice the file's cap.
MAX_ROUTE_DATA_BYTES = 2 * MAX_ROUTE_FILE_BYTES
IMPLICIT_SOURCE = "the implicit route from JOB_QUEUE / JOB_DEFINITION"
INLINE_SOURCE = "ROUTES (inline JSON setting)"


def read_route_file(path: Path | str) -> RouteTable:
    """Load a route table from a YAML or JSON file (read within bounds: see ``route_file``)."""
    path = Path(path)
    return parse_route_table(read_route_data(path), str(path))


def parse_route_table(data: Any, source: str) -> RouteTable:
    """Validate parsed route-table data: the schema and the rules a schema cannot say, reported together
    (so one run shows everything wrong) wherever the file is still readable enough for the second."""
    too_odd = input_problems(data, max_bytes=MAX_ROUTE_DATA_BYTES)  # NaN, Infinity, depth: before all else
    if too_odd:
        raise ConfigError(source, too_odd)
    problems = validate(validator_for("routes"), data)
    try:
        semantic = _semantic_problems(data)
    except (KeyError, TypeError, AttributeError, IndexError):  # too broken to say more than the schema
        semantic = []
    if problems or semantic:
        raise ConfigError(source, _merged(problems, semantic))
    defaults = camelize_keys(dict((data.get("defaults") or {}).get("submit_job_kwargs") or {}))
    table_policy = data.get("policy") or {}
    routes = tuple(_route(raw, table_policy) for raw in data["routes"])
    return RouteTable(
        routes=routes,
        default_route=data.get("default_route") or routes[0].name,
        defaults=defaults,
        source=source,
        consumable_resources=consumable_resources(data.get("consumable_resources") or {}),
    )


def _merged(schema: list[Problem], semantic: list[Problem]) -> list[Problem]:
    """Both lists, without a rule's problem where the schema already said what is wrong at that path."""
    said = {problem.path for problem in schema}
    return schema + [p for p in semantic if p.path not in said]


# The route table's parse into typed values: each field's default is the model's (config/model.py), the
# one place it is written; what the file leaves out is not passed. The route file is checked once, as
# data (the schema, then the rules a schema cannot say), before anything is built.


def _given(raw: Mapping[str, Any], convert: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``raw`` gives, each made the model's type by its converter."""
    return {name: make(raw[name]) for name, make in convert.items() if name in raw}


_POLICY_FIELDS = {
    "executor_config_keys": frozenset,
    "overridable": frozenset,
    "executor_config_env": tuple,
    "max_timeout_seconds": lambda v: v,
    "max_scheduling_priority": lambda v: v,
}
_PROVISION_FIELDS = {
    "capacity": lambda v: v,
    "instance_types": tuple,
    "allocation_strategy": lambda v: v,
    "max_vcpus": lambda v: v,
    "min_vcpus": lambda v: v,
    "own_role": bool,
}
_ROUTE_FIELDS = {
    "name": str,
    "compute": lambda v: v,
    "job_queue": str,
    "job_definition": str,
    "max_vcpu": lambda v: v,
    "max_memory_mib": lambda v: v,
    "max_gpu": lambda v: v,
    "queues": tuple,
    "fair_share": lambda v: v,
    "submit_job_kwargs": lambda v: camelize_keys(dict(v or {})),
    "retry_route": lambda v: v,
    "wait_limits": dict,
    "consumable_resources": lambda v: {name: consumable_use(use) for name, use in v.items()},
}


def _policy(table_wide: Mapping[str, Any], own: Mapping[str, Any]) -> Policy:
    """The route's policy: the table-wide one, with the fields the route gives replaced."""
    return Policy(**_given({**table_wide, **own}, _POLICY_FIELDS))


def _route(raw: Mapping[str, Any], table_policy: Mapping[str, Any]) -> Route:
    return Route(
        **_given(raw, _ROUTE_FIELDS),
        policy=_policy(table_policy, raw.get("policy") or {}),
        provision=Provisioning(**_given(raw.get("provision") or {}, _PROVISION_FIELDS)),
    )


def _semantic_problems(data: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    routes = data["routes"]
    names = [r["name"] for r in routes]
    name_set = set(names)  # every check below is a look-up: 10,000 routes check in well under a second
    seen: dict[str, int] = {}
    queue_owner: dict[str, str] = {}
    wait_limits_by_queue: dict[str, tuple[int, Mapping[str, int]]] = {}
    for i, route in enumerate(routes):
        name = route["name"]
        if name in seen:
            problems.append(
                Problem(
                    f"routes[{i}].name",
                    f"{name!r} is already the name of routes[{seen[name]}]",
                    "route names must be unique",
                )
            )
        seen.setdefault(name, i)
        compute = KINDS.get(route["compute"])  # None: the schema says what is wrong with it
        if compute is not None and not compute.gpus and route.get("max_gpu", 0) > 0:
            problems.append(
                Problem(
                    f"routes[{i}].max_gpu",
                    f"{compute.label} has no GPUs",
                    f"set max_gpu: 0, or use compute: {' or '.join(kinds_where(gpus=True))} for GPU work",
                )
            )
        for j, queue in enumerate(route.get("queues", ())):
            owner = queue_owner.setdefault(queue, name)
            if owner != name:
                problems.append(
                    Problem(
                        f"routes[{i}].queues[{j}]",
                        f"queue {queue!r} is already listed by route {owner!r}",
                        "an Airflow queue can select only one route",
                    )
                )
            elif queue in name_set and queue != name:
                problems.append(
                    Problem(
                        f"routes[{i}].queues[{j}]",
                        f"queue {queue!r} is also the name of another route",
                        "a queue named like a route selects that route; rename one of them",
                    )
                )
        for key in ("submit_job_kwargs",):
            kwargs = route.get(key) or {}
            problems += kwargs_problems(kwargs, ["routes", i, key])
        problems += _retry_route_problems(route, i, name_set, names)
        problems += wait_limit_problems(route, i, wait_limits_by_queue)
        problems += consumable_problems(route, i)
        problems += _provision_problems(route, i)
    default = data.get("default_route")
    if default is not None and default not in name_set:
        problems.append(
            Problem(
                "default_route",
                f"{default!r} is not the name of a route",
                did_you_mean(default, names) or f"routes are: {', '.join(names)}",
            )
        )
    problems += kwargs_problems(
        (data.get("defaults") or {}).get("submit_job_kwargs") or {}, ["defaults", "submit_job_kwargs"]
    )
    problems += _policy_problems(data.get("policy") or {}, ["policy"])
    for i, route in enumerate(routes):
        problems += _policy_problems(route.get("policy") or {}, ["routes", i, "policy"])
    return problems


def _retry_route_problems(
    route: Mapping[str, Any], i: int, name_set: set[str], names: list[str]
) -> list[Problem]:
    retry = route.get("retry_route")
    if retry is None:
        return []
    path = f"routes[{i}].retry_route"
    if retry == route["name"]:
        return [
            Problem(
                path, "names the route itself", "name another route (e.g. an on-demand twin), or remove it"
            )
        ]
    if retry not in name_set:
        return [
            Problem(
                path,
                f"{retry!r} is not the name of a route",
                did_you_mean(retry, names) or f"routes are: {', '.join(names)}",
            )
        ]
    return []


def _provision_problems(route: Mapping[str, Any], i: int) -> list[Problem]:
    """What a route's provision block cannot mean: Fargate picks its own hosts, and a minimum above the
    maximum cannot be kept."""
    provision = route.get("provision") or {}
    problems: list[Problem] = []
    compute = KINDS.get(route["compute"])  # None: the schema says what is wrong with it
    if compute is not None:
        refused = [key for key in ("allocation_strategy", "min_vcpus") if compute.chooses_hosts]
        refused += [] if compute.instance_types else ["instance_types"]
        for key in refused:
            if key in provision:
                problems.append(
                    Problem(
                        f"routes[{i}].provision.{key}",
                        f"{compute.label} chooses its own hosts",
                        f"remove it; use capacity: spot for {compute.label} Spot",
                    )
                )
    if provision.get("own_role") and compute is not None and not compute.pod_role:
        problems.append(
            Problem(
                f"routes[{i}].provision.own_role",
                "is for EKS routes (their pods' role); ECS jobs take the job definition's job role",
                "remove it",
            )
        )
    defaults = DEFAULT_PROVISIONING
    if provision.get("min_vcpus", defaults.min_vcpus) > provision.get("max_vcpus", defaults.max_vcpus):
        problems.append(
            Problem(
                f"routes[{i}].provision.min_vcpus",
                f"is above max_vcpus ({provision.get('max_vcpus', defaults.max_vcpus)})",
                "lower min_vcpus or raise max_vcpus",
            )
        )
    return problems


def _policy_problems(policy: Mapping[str, Any], prefix: list[Any]) -> list[Problem]:
    """Every key a policy allows or opens must be a SubmitJob argument (or a path under one, or one of
    the special names): a typo would silently allow nothing."""
    known = property_names("submit_job")
    problems = [
        Problem(
            ".".join(map(str, [*prefix, "executor_config_keys"])) + f"[{j}]",
            f"{key!r} is not a SubmitJob argument",
            did_you_mean(key, known) or f"SubmitJob arguments are: {', '.join(sorted(known))}",
        )
        for j, key in enumerate(policy.get("executor_config_keys", ()))
        if key not in known
    ]
    choices = [*OVERRIDABLE_SPECIAL, *known]
    for j, entry in enumerate(policy.get("overridable", ())):
        head = entry.split(".", 1)[0] if isinstance(entry, str) else entry
        if head in known or entry in OVERRIDABLE_SPECIAL:
            continue
        problems.append(
            Problem(
                ".".join(map(str, [*prefix, "overridable"])) + f"[{j}]",
                f"{entry!r} is neither a SubmitJob argument (or a path under one) nor "
                f"{', '.join(OVERRIDABLE_SPECIAL)}",
                did_you_mean(str(head), choices) or f"e.g. tags, timeout, {', '.join(OVERRIDABLE_SPECIAL)}",
            )
        )
    return problems


def kwargs_problems(kwargs: Mapping[str, Any], prefix: list[Any]) -> list[Problem]:
    """Route and default SubmitJob kwargs are checked against SubmitJob's own shape, as exec_config is."""
    if not kwargs:
        return []
    hint_keys = [k for k in kwargs if k in HINT_KEYS]
    camel = camelize_keys({k: v for k, v in kwargs.items() if k not in HINT_KEYS})
    problems = validate(validator_for("exec_config"), camel, prefix)
    for key in hint_keys:
        problems.append(
            Problem(
                ".".join(map(str, prefix)) + f".{key}",
                "is a task hint, not a SubmitJob argument",
                "use max_vcpu / max_memory_mib / max_gpu on the route",
            )
        )
    return problems


def implicit_route_table(settings: ExecutorSettings) -> RouteTable:
    """No route table: JOB_QUEUE/JOB_DEFINITION form one route, so reference-executor users change nothing.

    The seed's semantics hold on it: its policy is open (executor_config may change any SubmitJob
    argument, as AwsBatchExecutor allows), it has no caps, and a ``jobQueue`` / ``jobDefinition`` in
    SUBMIT_JOB_KWARGS wins over JOB_QUEUE / JOB_DEFINITION, as in the reference's ``build_submit_kwargs``
    (the config keys first, SUBMIT_JOB_KWARGS updated over them). Its compute is COMPUTE's, ``eks`` when
    EKS_PROPERTIES_OVERRIDE is set, else not known until start-up reads the job definition.
    """
    if settings.job_queue is None or settings.job_definition is None:
        raise ConfigError(
            "executor settings [aws_batch_executor]",
            [Problem("JOB_QUEUE", "JOB_QUEUE and JOB_DEFINITION are required without a route table")],
        )
    base = settings.base_submit_job_kwargs()
    queue, definition = base.get("jobQueue"), base.get("jobDefinition")
    route = Route(
        name=IMPLICIT_ROUTE,
        compute=settings.compute or (kinds_where(pods=True)[0] if settings.eks_properties_override else None),
        job_queue=queue if isinstance(queue, str) and queue else settings.job_queue,
        job_definition=definition if isinstance(definition, str) and definition else settings.job_definition,
        max_gpu=None,
        policy=SEED_POLICY,
    )
    return RouteTable(routes=(route,), default_route=IMPLICIT_ROUTE, source=IMPLICIT_SOURCE, implicit=True)


def mode_line(table: RouteTable) -> str:
    """One line for start-up (and ``plan``) saying which contract is in force, and the compute."""
    if not table.implicit:
        return f"route table from {table.source}: executor_config is held to its policy (docs/policy.md)"
    route = table.routes[0]
    compute = (
        f"compute {route.compute}"
        if route.compute is not None
        else "compute not known (only the rules every compute shares apply; set COMPUTE)"
    )
    return (
        "no route table: executor_config may change any SubmitJob argument, as AwsBatchExecutor allows; "
        f"write a route table to restrict it (docs/policy.md); job queue {route.job_queue}, job "
        f"definition {route.job_definition}, {compute}"
    )


def route_table_from_settings(settings: ExecutorSettings) -> RouteTable:
    """The route table the executor runs with: ROUTES_FILE, inline ROUTES, or the implicit one."""
    if settings.routes_file is not None:
        return read_route_file(settings.routes_file)
    if settings.routes is not None:
        return parse_route_table(settings.routes, INLINE_SOURCE)
    return implicit_route_table(settings)
