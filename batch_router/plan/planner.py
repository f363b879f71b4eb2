"""``Plan``: settings and a route table in, the exact SubmitJob request of any task try out.

One object for the executor, ``batch-router plan`` and the tests, so what ``plan`` prints is exactly
what the executor would submit and a task's configuration can fail in one place only. Pure and
immutable: any thread may build with it, and the request sent is the one that was checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batch_router.config.exec_config import parse_exec_config
from batch_router.config.json_tree import json_path
from batch_router.config.model import DefinitionFacts, ExecConfig, Route, RouteTable, resource_name
from batch_router.config.routes import kwargs_problems, route_table_from_settings
from batch_router.config.settings import DEFAULT_DEPLOYMENT, ExecutorSettings
from batch_router.errors import BatchRouterError, ConfigError, ExecConfigError, Problem
from batch_router.plan.job_builder import build_submit_job
from batch_router.plan.model import BuiltJob, RouteChoice, TaskIdentity
from batch_router.plan.naming import job_name
from batch_router.plan.request_shape import validate_submit_job
from batch_router.plan.router import choose_route, retry_choice
from batch_router.rules import Context, check_request

__all__ = [
    "DEFAULT_EXECUTOR_ENV",
    "NO_COMMAND",
    "SUBMIT_JOB_KWARGS_SOURCE",
    "Plan",
    "check_submit_job_kwargs",
]

SUBMIT_JOB_KWARGS_SOURCE = "executor settings [aws_batch_executor]"

# What the reference executor sets in every job, so Airflow's task runner knows it runs in a worker.
DEFAULT_EXECUTOR_ENV: Mapping[str, str] = {"AIRFLOW_IS_EXECUTOR_CONTAINER": "true"}
# Stands in for the command when only the job's name and queue are wanted (looking a job up).
NO_COMMAND = ("true",)
_CHECK_IDENTITY = TaskIdentity(
    "route_check", "route_check", "route_check", try_number=1, try_id="route-check"
)


@dataclass(frozen=True)
class Plan:
    """How every try is turned into a request: the route table and the settings that shape requests."""

    table: RouteTable
    base_kwargs: Mapping[str, Any] = field(default_factory=dict)  # SUBMIT_JOB_KWARGS, camel-cased
    job_name_prefix: str = "airflow-task"
    default_queue: str = "default"
    executor_env: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_EXECUTOR_ENV))
    # What start-up read of job definitions (by the reference requests use): compute and size.
    definitions: Mapping[str, DefinitionFacts] = field(default_factory=dict)
    deployment: str = DEFAULT_DEPLOYMENT  # every job's batch-router:deployment tag (DEPLOYMENT)

    @classmethod
    def from_settings(
        cls,
        settings: ExecutorSettings,
        table: RouteTable | None = None,
        *,
        default_queue: str | None = None,
    ) -> Plan:
        """The plan the settings describe; the route table is read from them unless given.

        Raises ``ConfigError`` when the route table is wrong.
        """
        base_kwargs = settings.base_submit_job_kwargs()
        check_submit_job_kwargs(base_kwargs)
        plan = cls(
            table=route_table_from_settings(settings) if table is None else table,
            base_kwargs=base_kwargs,
            job_name_prefix=settings.job_name,
            default_queue=settings.default_queue if default_queue is None else default_queue,
            deployment=settings.deployment,
        )
        plan.check_routes()
        return plan

    @functools.cached_property
    def allowed_definitions(self) -> frozenset[str] | None:
        """The job definitions (names, or name:revision) a job of this table may use; None where any may
        be used: the seed's implicit route (executor_config may name any), or a policy that opens
        jobDefinition. The executor takes a found job as a try's only with one of these (belief.py)."""
        routes = self.table.routes
        if self.table.implicit or any("jobDefinition" in r.policy.executor_config_keys for r in routes):
            return None
        return frozenset(resource_name(route.job_definition) for route in routes)

    def with_definitions(self, definitions: Mapping[str, DefinitionFacts]) -> Plan:
        """This plan, knowing what start-up read of job definitions; the seed's implicit route takes
        its compute from its job definition when COMPUTE did not say it."""
        table = self.table
        if table.implicit:
            route = table.routes[0]
            facts = definitions.get(route.job_definition)
            if route.compute is None and facts is not None:
                known = dataclasses.replace(route, compute=facts.compute)
                table = dataclasses.replace(table, routes=(known,))
        return dataclasses.replace(self, table=table, definitions={**self.definitions, **definitions})

    def build(
        self,
        *,
        identity: TaskIdentity,
        executor_config: Mapping[str, Any] | None,
        queue: str | None,
        command: Sequence[str] = NO_COMMAND,
        lost_capacity: bool = False,
    ) -> BuiltJob:
        """Parse the try's executor_config, choose its route and build its request.

        A retry (try 2 and later), or a try whose last job lost its capacity (``lost_capacity``), goes to
        its route's ``retry_route`` when it has one. Raises ``ExecConfigError`` (bad executor_config or
        request) or ``RoutingError`` (no route fits); either fails this task only.
        """
        exec_config, choice = self._routed(identity, executor_config, queue, lost_capacity)
        return build_submit_job(
            base_kwargs=self.base_kwargs,
            table=self.table,
            choice=choice,
            exec_config=exec_config,
            identity=identity,
            command=command,
            job_name_prefix=self.job_name_prefix,
            executor_env=self.executor_env,
            definitions=self.definitions,
            deployment=self.deployment,
        )

    def check_routes(self) -> None:
        """Raise ``ConfigError`` naming every route whose own request breaks a rule.

        What a route (with the table's defaults and SUBMIT_JOB_KWARGS) sends for a task that says
        nothing must be a request AWS accepts; otherwise every such task on it would fail at submit, so
        start-up stops instead, with the route's name and the layer to fix.

        Routes alike but for their names (see ``_route_shape``) send requests alike, so one of each shape
        is built; only when it fails is every route of that shape built, for its own messages. A table of
        10,000 routes from a handful of templates checks in milliseconds, not seconds.
        """
        shapes: dict[str, list[int]] = {}
        for index, route in enumerate(self.table.routes):
            shapes.setdefault(_route_shape(route), []).append(index)
        problems: list[tuple[int, Problem]] = []
        for indices in shapes.values():
            first = self._route_problems(indices[0])
            problems += [(indices[0], p) for p in first]
            if first:
                problems += [(i, p) for i in indices[1:] for p in self._route_problems(i)]
        if problems:
            raise ConfigError(self.table.source, [p for _, p in sorted(problems, key=lambda item: item[0])])

    def _route_problems(self, index: int) -> list[Problem]:
        route = self.table.routes[index]
        try:
            self.build(identity=_CHECK_IDENTITY, executor_config={"route": route.name}, queue=None)
        except ExecConfigError as exc:
            return [
                Problem(
                    f"routes[{index}]", f"route {route.name!r}: {p.path or '(request)'}: {p.message}", p.hint
                )
                for p in exc.problems
            ]
        return []

    def warm_up(self) -> None:
        """Plan one made-up try on one route of each compute type, so lazily loaded models and
        validators exist now (what loads lazily differs by compute type, not by route)."""
        for route in {route.compute: route for route in reversed(self.table.routes)}.values():
            identity = TaskIdentity(dag_id="warm_up", task_id="warm_up", run_id="warm_up", try_number=1)
            with contextlib.suppress(BatchRouterError):
                self.build(identity=identity, executor_config={"route": route.name}, queue=None)

    def route_of(
        self, identity: TaskIdentity, executor_config: Mapping[str, Any] | None, queue: str | None
    ) -> RouteChoice:
        """The route this table gives the try, and why (the UI's answer for a try it did not see planned);
        raises ``ExecConfigError`` or ``RoutingError`` as ``build`` would."""
        return self._routed(identity, executor_config, queue, lost_capacity=False)[1]

    def _routed(
        self,
        identity: TaskIdentity,
        executor_config: Mapping[str, Any] | None,
        queue: str | None,
        lost_capacity: bool,
    ) -> tuple[ExecConfig, RouteChoice]:
        """The try's parsed executor_config and its route (raises ``ExecConfigError``, ``RoutingError``)."""
        exec_config = parse_exec_config(
            executor_config,
            source=f"executor_config of {identity.dag_id}.{identity.task_id}",
            seed=self.table.implicit,
        )
        choice = choose_route(
            self.table,
            exec_config.hints,
            queue,
            default_queue=self.default_queue,
            task_kwargs=exec_config.submit_job_kwargs,
        )
        choice = retry_choice(
            self.table, choice, exec_config.hints, try_number=identity.try_number, lost_capacity=lost_capacity
        )
        if not self.table.implicit:
            exec_config = _without_route_names(exec_config, choice.route)
        return exec_config, choice

    def places(
        self, identity: TaskIdentity, executor_config: Mapping[str, Any] | None, queue: str | None
    ) -> list[tuple[str, str]]:
        """Where the try's job would be: (job queue, job name), from the route table alone (routing and
        the layers' jobQueue / jobName), without building a request: adoption asks this of every try
        a dead scheduler left, on the scheduler thread. Every route's queue if it cannot be routed, or
        if its executor_config names a queue or name its route's policy no longer lets it set."""
        try:
            first, route = self._place(identity, executor_config, queue, lost_capacity=False)
        except BatchRouterError:
            return self._anywhere(identity, executor_config)
        places = [first]
        if route.retry_route:  # a job that lost its capacity went there instead
            try:
                places.append(self._place(identity, executor_config, queue, lost_capacity=True)[0])
            except BatchRouterError:
                places += self._anywhere(identity, executor_config)
        return list(dict.fromkeys(places))

    def _anywhere(
        self, identity: TaskIdentity, executor_config: Mapping[str, Any] | None
    ) -> list[tuple[str, str]]:
        """A try that can no longer be planned (the policy was tightened since): every name and queue
        it may have used, its own jobName and jobQueue included, so a running job is found, not
        submitted again."""
        raw = executor_config if isinstance(executor_config, Mapping) else {}
        prefixes = [p for p in (raw.get("jobName"), self.job_name_prefix) if isinstance(p, str) and p]
        queues = [route.job_queue for route in self.table.routes]
        if isinstance(raw.get("jobQueue"), str):
            queues.insert(0, raw["jobQueue"])
        names = [job_name(prefix, identity) for prefix in prefixes]
        return list(dict.fromkeys((queue, name) for queue in queues for name in names))

    def _place(
        self,
        identity: TaskIdentity,
        executor_config: Mapping[str, Any] | None,
        queue: str | None,
        *,
        lost_capacity: bool,
    ) -> tuple[tuple[str, str], Route]:
        """(jobQueue, jobName) as ``build_submit_job`` merges them (the last layer that sets each wins),
        and the route. Raises where the route's policy would refuse the task's own jobQueue / jobName."""
        exec_config, choice = self._routed(identity, executor_config, queue, lost_capacity)
        route, task = choice.route, exec_config.submit_job_kwargs
        policy = route.policy
        refused = [k for k in ("jobQueue", "jobName") if k in task and k not in policy.executor_config_keys]
        if refused and not policy.open:
            raise ExecConfigError("executor_config", [Problem(refused[0], "the route's policy refuses it")])
        layers = (
            self.base_kwargs,
            self.table.defaults,
            {"jobQueue": route.job_queue},
            route.submit_job_kwargs,
            task,
        )
        job_queue, name = route.job_queue, None
        for layer in layers:
            job_queue = layer.get("jobQueue", job_queue)
            name = layer.get("jobName", name)
        return (str(job_queue), job_name(str(name or self.job_name_prefix), identity)), route


def check_submit_job_kwargs(base_kwargs: Mapping[str, Any]) -> None:
    """SUBMIT_JOB_KWARGS on its own: its shape and the rules its own values break, reported once as
    the setting's problem (not once per route under the route file's name). Raises ``ConfigError``."""
    if not base_kwargs:
        return
    problems = kwargs_problems(base_kwargs, ["SUBMIT_JOB_KWARGS"])
    if not problems:
        names = {"jobName": "check", "jobQueue": "check", "jobDefinition": "check"}
        problems = [_prefixed(p) for p in validate_submit_job({**names, **base_kwargs})]
    if not problems:
        context = Context(compute=None, route="SUBMIT_JOB_KWARGS")
        problems = [
            _prefixed(Problem(json_path(v.path), f"{v.message} (AWS Batch rule {v.rule})", v.fix))
            for v in check_request(base_kwargs, context)
        ]
    if problems:
        raise ConfigError(SUBMIT_JOB_KWARGS_SOURCE, problems)


def _prefixed(problem: Problem) -> Problem:
    path = f"SUBMIT_JOB_KWARGS.{problem.path}" if problem.path else "SUBMIT_JOB_KWARGS"
    return dataclasses.replace(problem, path=path)


def _without_route_names(exec_config: ExecConfig, route: Route) -> ExecConfig:
    """The task's ``jobQueue`` / ``jobDefinition`` dropped where they name the chosen route's own
    (they changed nothing, and a reference DAG that names its GPU queue is not refused for it)."""
    kwargs = exec_config.submit_job_kwargs
    own = {"jobQueue": route.job_queue, "jobDefinition": route.job_definition}
    same = [
        key
        for key, value in own.items()
        if isinstance(kwargs.get(key), str) and resource_name(kwargs[key]) == resource_name(value)
    ]
    if not same:
        return exec_config
    kept = {key: value for key, value in kwargs.items() if key not in same}
    return dataclasses.replace(exec_config, submit_job_kwargs=kept)


def _route_shape(route: Route) -> str:
    """Everything a route's own request (a first try that says nothing) depends on, but the names in it.

    A route's name, job queue and job definition reach the request only as strings whose content no
    rule reads (botocore checks their type; tags and the environment carry them), so they count by their
    encoded lengths alone (the 30 KiB payload rule sees those). The Airflow queues, ``retry_route`` and
    ``provision`` do not reach a first try's request at all.
    """
    lengths = [_length_or_text(text) for text in (route.name, route.job_queue, route.job_definition)]
    rest = {
        "compute": route.compute,
        "caps": (route.max_vcpu, route.max_memory_mib, route.max_gpu),
        "fair_share": route.fair_share,
        "policy": [getattr(route.policy, f.name) for f in dataclasses.fields(route.policy)],
        "submit_job_kwargs": route.submit_job_kwargs,
        "lengths": lengths,
    }
    return json.dumps(rest, sort_keys=True, default=_sorted_set)


def _length_or_text(text: str) -> int | str:
    """The string's length where that fixes its encoded size in JSON and as a tag value (printable ASCII
    without quotes or backslashes: one byte a character either way), else the string itself."""
    plain = text.isascii() and text.isprintable() and '"' not in text and "\\" not in text
    return len(text) if plain else text


def _sorted_set(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return repr(value)
