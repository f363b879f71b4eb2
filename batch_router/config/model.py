"""What the platform team configured, as plain immutable data: routes, the route table, a task's hints.

No boto3, no Airflow: these types are what the pure layers take and return, so they can be built in
tests (and by hypothesis) without any service running.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from batch_router.config.compute_kinds import ALL_COMPUTE
from batch_router.config.compute_kinds import Compute as Compute  # re-exported

COMPUTE_TYPES: tuple[str, ...] = ALL_COMPUTE

# exec_config keys that steer routing and sizing instead of being passed to SubmitJob.
HINT_KEYS: tuple[str, ...] = (
    "route",
    "compute",
    "vcpu",
    "memory_mib",
    "gpu",
    "timeout_seconds",
    "consumable_resources",
)

MIN_TIMEOUT_SECONDS = 60  # Batch rejects an attemptDurationSeconds below 60 (API_JobTimeout)
MIN_MEMORY_MIB = 4  # "You must specify at least 4 MiB of memory for a job" (API_ResourceRequirement)
# "You can specify up to 5 resources for each job you define" (AWS Batch user guide, "Specify the
# resources needed to run a job").
MAX_CONSUMABLE_RESOURCES = 5


# What a DAG author's executor_config may change once the platform's layers set it, besides any
# SubmitJob argument or dotted path under one, when the policy lists it in ``overridable``: the
# container's environment variables (by name), an EKS container's image, EKS init containers.
OVERRIDABLE_SPECIAL: tuple[str, ...] = ("environment", "image", "initContainers")
# The SubmitJob arguments executor_config may set unless the policy says otherwise: all but the two
# that pick where the job runs, which the route decides.
DEFAULT_EXECUTOR_CONFIG_KEYS: frozenset[str] = frozenset(
    {
        "jobName",
        "shareIdentifier",
        "schedulingPriorityOverride",
        "parameters",
        "containerOverrides",
        "retryStrategy",
        "propagateTags",
        "timeout",
        "tags",
        "eksPropertiesOverride",
        "ecsPropertiesOverride",
    }
)
# Not among them: consumableResourcePropertiesOverride. Consumable resources (licences, connections) are
# the platform's to hand out; a task asks for a quantity of what its route offers with the
# consumable_resources hint, within the route's cap (a policy may still list the key).


@dataclass(frozen=True)
class Policy:
    """What a DAG author's executor_config may do on a route. The platform team opens it; nothing else.

    Set table-wide (``policy``) and per route (a route's ``policy`` replaces the fields it gives).
    """

    executor_config_keys: frozenset[str] = DEFAULT_EXECUTOR_CONFIG_KEYS
    overridable: frozenset[str] = frozenset()
    executor_config_env: tuple[str, ...] = ()  # names (or PREFIX*) allowed despite the start-up deny-list
    max_timeout_seconds: int | None = None
    max_scheduling_priority: int | None = None
    # No route table: the seed's semantics. executor_config is a recursive update over
    # SUBMIT_JOB_KWARGS and may change any SubmitJob argument (the reference AwsBatchExecutor's
    # contract), so no rule of this policy applies; AWS's own rules still do.
    open: bool = False


DEFAULT_POLICY = Policy()
# The implicit route's: a platform team that wants limits writes a route table (docs/policy.md).
SEED_POLICY = Policy(open=True)

Capacity = Literal["on-demand", "spot", "spot-then-on-demand"]


@dataclass(frozen=True)
class Provisioning:
    """What ``batch-router provision`` makes for a route's job queue; the executor never reads it."""

    capacity: Capacity = "on-demand"
    instance_types: tuple[str, ...] = ()  # EC2 / EKS; empty: "optimal" (CPU routes only)
    allocation_strategy: str | None = None  # None: the usual one for the capacity
    max_vcpus: int = 256
    min_vcpus: int = 0
    own_role: bool = False  # EKS: the route's pods get an IAM role of their own, not the shared EksPodRole


DEFAULT_PROVISIONING = Provisioning()

ConsumableType = Literal["REPLENISHABLE", "NON_REPLENISHABLE"]


@dataclass(frozen=True)
class ConsumableUse:
    """A consumable resource a route's jobs use (AWS Batch user guide, "Resource-aware scheduling"):
    ``quantity`` of it each, unless a task asks for another quantity, at most ``max``."""

    quantity: int
    max: int


@dataclass(frozen=True)
class ConsumableResource:
    """A consumable resource the route table declares, for ``provision`` to create
    (API_CreateConsumableResource: totalQuantity, resourceType)."""

    total: int
    type: ConsumableType = "REPLENISHABLE"


@dataclass(frozen=True)
class Route:
    """One place a task can run: a job queue, a job definition and the kind of compute behind them.

    ``compute`` is None only on the implicit route of the seed's options before its job definition was
    read (and COMPUTE does not say): then only the rules every compute shares apply. ``None`` caps mean
    no cap; a route table's ``max_gpu`` left out is 0 (a route runs GPU work only where it says so).
    """

    name: str
    compute: Compute | None
    job_queue: str
    job_definition: str
    max_vcpu: float | None = None
    max_memory_mib: int | None = None
    max_gpu: int | None = 0
    queues: tuple[str, ...] = ()
    submit_job_kwargs: Mapping[str, Any] = field(default_factory=dict)
    fair_share: bool | None = None  # the job queue has a fair-share policy; None: not said
    policy: Policy = DEFAULT_POLICY
    retry_route: str | None = None  # where tries after the first, and capacity failures, go
    provision: Provisioning = DEFAULT_PROVISIONING
    # Most seconds a job may block its queue in RUNNABLE per documented reason before AWS Batch
    # cancels it (the job queue's jobStateTimeLimitActions, written by ``provision``); read by the
    # executor to name the limit when it reports such a job.
    wait_limits: Mapping[str, int] = field(default_factory=dict)
    # Consumable resources (by name or ARN) the route's jobs use, pinned by the platform; sent as
    # consumableResourcePropertiesOverride. A task's consumable_resources hint may change the quantity
    # of one within its max, and the router passes over routes that do not offer what a task asks for.
    consumable_resources: Mapping[str, ConsumableUse] = field(default_factory=dict)

    @property
    def declared_compute(self) -> Compute:
        """The compute, for what only a route table's routes reach (provisioning): every route of a
        file declares one; only the seed's implicit route may not know it yet."""
        if self.compute is None:
            raise ValueError(f"route {self.name!r}: compute not known (set COMPUTE, or write a route table)")
        return self.compute


@dataclass(frozen=True)
class RouteTable:
    """Every route in file order, the route for tasks that say nothing, and where the table came from."""

    routes: tuple[Route, ...]
    default_route: str
    defaults: Mapping[str, Any] = field(default_factory=dict)  # submit_job_kwargs under every route
    source: str = "<settings>"
    implicit: bool = False  # True when built from JOB_QUEUE/JOB_DEFINITION (no route table given)
    # The consumable resources ``provision`` creates (the routes may also use existing ones).
    consumable_resources: Mapping[str, ConsumableResource] = field(default_factory=dict)

    def get(self, name: str) -> Route | None:
        return self._by_name.get(name)

    def for_queue(self, queue: str) -> tuple[Route, str] | None:
        """The route an Airflow queue selects, and how ("names" or "is listed by"); the first in file
        order, as a scan would find it."""
        return self._by_queue.get(queue)

    def owning(self, job_queue: str | None, job_definition: str | None) -> tuple[Route, ...]:
        """The routes whose job queue and job definition are the ones named (either may be left out),
        in file order; a name and its ARN count as the same resource."""
        if job_queue is None and job_definition is None:
            return ()
        if job_queue is not None:
            found = self._by_job_queue.get(resource_name(job_queue), ())
            if job_definition is None:
                return found
            wanted = resource_name(job_definition)
            return tuple(r for r in found if resource_name(r.job_definition) == wanted)
        return self._by_job_definition.get(resource_name(job_definition or ""), ())

    # Indexes, so routing a task and checking every route cost the same with 10,000 routes as with 3.
    @functools.cached_property
    def _by_job_queue(self) -> dict[str, tuple[Route, ...]]:
        return _group(self.routes, lambda route: resource_name(route.job_queue))

    @functools.cached_property
    def _by_job_definition(self) -> dict[str, tuple[Route, ...]]:
        return _group(self.routes, lambda route: resource_name(route.job_definition))

    @functools.cached_property
    def _by_name(self) -> dict[str, Route]:
        by_name: dict[str, Route] = {}
        for route in self.routes:
            by_name.setdefault(route.name, route)
        return by_name

    @functools.cached_property
    def _by_queue(self) -> dict[str, tuple[Route, str]]:
        by_queue: dict[str, tuple[Route, str]] = {}
        for route in self.routes:
            by_queue.setdefault(route.name, (route, "names"))
            for queue in route.queues:
                by_queue.setdefault(queue, (route, "is listed by"))
        return by_queue


def resource_name(reference: str) -> str:
    """A Batch job queue or job definition as its name (``name`` or ``name:revision``): the part of an
    ARN after its resource type (``arn:aws:batch:REGION:ACCOUNT:job-queue/NAME``), else as given."""
    if reference.startswith("arn:") and "/" in reference:
        return reference.split("/", 1)[1]
    return reference


def _group(routes: tuple[Route, ...], key: Callable[[Route], str]) -> dict[str, tuple[Route, ...]]:
    grouped: dict[str, list[Route]] = {}
    for route in routes:
        grouped.setdefault(key(route), []).append(route)
    return {k: tuple(v) for k, v in grouped.items()}


@dataclass(frozen=True)
class DefinitionFacts:
    """What a job definition's description says that shapes a request: its compute and its own size.

    Read from DescribeJobDefinitions at start-up (``aws.job_definitions``); ``vcpu`` / ``memory_mib``
    are what a job gets when its request leaves that side out, so a Fargate pair can be checked whole.
    """

    compute: Compute
    vcpu: float | None = None
    memory_mib: float | None = None


@dataclass(frozen=True)
class Hints:
    """The reserved keys of a task's exec_config; ``None`` means the task did not say."""

    route: str | None = None
    compute: Compute | None = None
    vcpu: float | None = None
    memory_mib: int | None = None
    gpu: int | None = None
    timeout_seconds: int | None = None
    consumable_resources: tuple[tuple[str, int], ...] = ()  # (name or ARN, quantity), as asked

    @property
    def has_resources(self) -> bool:
        resources = (self.compute, self.vcpu, self.memory_mib, self.gpu)
        return any(v is not None for v in resources) or bool(self.consumable_resources)


@dataclass(frozen=True)
class ExecConfig:
    """A task's exec_config split into routing/sizing hints and the SubmitJob kwargs to merge."""

    hints: Hints = field(default_factory=Hints)
    submit_job_kwargs: Mapping[str, Any] = field(default_factory=dict)
