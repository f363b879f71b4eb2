"""Start-up check that every route can run a job, so a typo stops the scheduler instead of every task.

For each route: the credentials work, its job queue exists and is ENABLED and VALID, the queue's compute
environments are the route's kind of compute, and its job definition exists and is ACTIVE. All
problems are reported at once, each naming its route.

Only a finding stops start-up (``ConfigError``). When AWS cannot be asked (throttling, a 5xx, the
network, credentials not there yet) nothing was found: ``HealthUnknown`` says so, and the executor
retries instead of refusing to start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError, ErrorKind
from batch_router.aws.job_definitions import definition_facts, in_force
from batch_router.config.compute_kinds import kind
from batch_router.config.model import DefinitionFacts, Route, RouteTable
from batch_router.errors import BatchRouterError, ConfigError, Problem
from batch_router.plan.model import TaskIdentity
from batch_router.plan.planner import Plan


class HealthUnknown(BatchRouterError):
    """AWS could not be asked (for a reason that may pass); the routes are neither good nor bad yet."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def _is_finding(error: BatchApiError) -> bool:
    """A permanent answer (access denied, a malformed request) is a finding; anything else may pass."""
    return error.kind is ErrorKind.PERMANENT


SOURCE = "AWS Batch health check ([aws_batch_executor] CHECK_HEALTH_ON_STARTUP)"
_SKIP_HINT = "or set AIRFLOW__AWS_BATCH_EXECUTOR__CHECK_HEALTH_ON_STARTUP=False to start without this check"


def orchestration(env: Mapping[str, Any]) -> str:
    """ECS or EKS; older answers lack ``containerOrchestrationType`` but carry ``eksConfiguration``."""
    declared = env.get("containerOrchestrationType")
    if declared:
        return str(declared)
    return "EKS" if env.get("eksConfiguration") else "ECS"


def env_kind(env: Mapping[str, Any]) -> str:
    """The env's compute in the words a route uses: its resource type, and EKS when it runs pods."""
    resources = (env.get("computeResources") or {}).get("type") or ("UNMANAGED" if env.get("type") else "?")
    return f"{resources} on {orchestration(env)}"


def compute_problem(route: Route, env: Mapping[str, Any], implicit: bool = False) -> str | None:
    """Why ``env`` cannot run ``route``'s jobs, or None when it can (or the route's compute is not
    known: the seed's implicit route whose job definition could not be read). ``implicit``: the route
    is the seed's, whose compute is its job definition's."""
    if route.compute is None:
        return None
    orch = orchestration(env)
    resource_type = (env.get("computeResources") or {}).get("type")
    name = env.get("computeEnvironmentName", env.get("computeEnvironmentArn", "?"))
    says = (
        f"the route says compute: {route.compute}"
        if not implicit
        else (f"its job definition {route.job_definition!r} runs on {route.compute}")
    )
    if kind(route.compute).orchestration != orch:
        return f"compute environment {name!r} is {env_kind(env)}, but {says}"
    if resource_type is not None and resource_type not in kind(route.compute).environment_types:
        return f"compute environment {name!r} is {env_kind(env)}, but {says}"
    return None


def definition_problem(route: Route, definitions: list[dict[str, Any]], implicit: bool) -> str | None:
    """Why the job definition cannot run the route's jobs. On the seed's implicit route a compute
    stated by COMPUTE (or EKS_PROPERTIES_OVERRIDE) must be the job definition's own."""
    newest = in_force(definitions, route.job_definition)
    if newest is None:
        state = "is INACTIVE" if definitions else "does not exist"
        return f"job definition {route.job_definition!r} {state}"
    if route.compute is None:
        return None
    actual = definition_facts(newest).compute
    if implicit and actual != route.compute:
        return (
            f"COMPUTE (or EKS_PROPERTIES_OVERRIDE) says {route.compute}, but job definition "
            f"{route.job_definition!r} runs on {actual}; set COMPUTE={actual} or unset it"
        )
    capabilities = set(newest.get("platformCapabilities") or ["EC2"])
    compute = kind(route.compute)
    if compute.pods and not newest.get("eksProperties"):
        return (
            f"job definition {route.job_definition!r} has no eksProperties, but the route says compute: "
            f"{compute.name}"
        )
    if compute.shape == "task" and not newest.get("ecsProperties"):
        # "Amazon ECS Managed Instances jobs do not support legacy containerProperties" (user guide).
        return (
            f"job definition {route.job_definition!r} has no ecsProperties, which {compute.label} jobs "
            f"run (route compute: {compute.name})"
        )
    if not compute.pods and compute.platform_capability not in capabilities:
        return (
            f"job definition {route.job_definition!r} has platformCapabilities {sorted(capabilities)}, "
            f"but the route says compute: {compute.name}"
        )
    return None


def check_routes(
    client: BatchClient, table: RouteTable, plan: Plan | None = None
) -> dict[str, DefinitionFacts]:
    """Raise ``ConfigError`` naming every route that cannot run jobs, and what is wrong with it.

    Returns what the job definitions it read say (compute and size, by the reference each route
    uses), so the plan can apply each compute's rules (``Plan.with_definitions``). With ``plan``, each
    route's own request is held against its job definition too (tag count).
    """
    try:
        queues = {
            key: queue
            for queue in client.describe_job_queues(sorted({r.job_queue for r in table.routes}))
            for key in (queue.get("jobQueueName"), queue.get("jobQueueArn"))
        }
    except BatchApiError as exc:
        if not _is_finding(exc):
            raise HealthUnknown([f"cannot reach AWS Batch: {exc.reason}"]) from None
        raise ConfigError(
            SOURCE,
            [
                Problem(
                    "",
                    f"cannot reach AWS Batch: {exc.reason}",
                    f"check the AWS connection and region, {_SKIP_HINT}",
                )
            ],
        ) from None
    problems: list[Problem] = []
    unknown: list[str] = []
    facts: dict[str, DefinitionFacts] = {}
    env_arns = {
        order["computeEnvironment"]
        for queue in queues.values()
        for order in queue.get("computeEnvironmentOrder", [])
    }
    envs: dict[str, dict[str, Any]] = {}
    if env_arns:
        try:
            for env in client.describe_compute_environments(sorted(env_arns)):
                envs[str(env.get("computeEnvironmentArn"))] = env
                envs[str(env.get("computeEnvironmentName"))] = env
        except BatchApiError as exc:
            if not _is_finding(exc):
                raise HealthUnknown([f"cannot read compute environments: {exc.reason}"]) from None
            problems.append(Problem("", f"cannot read compute environments: {exc.reason}", _SKIP_HINT))
    for route in table.routes:
        try:
            texts = _route_problems(client, table, route, queues, envs, plan, facts)
        except HealthUnknown as exc:
            unknown += [f"route {route.name!r}: {reason}" for reason in exc.reasons]
            continue
        problems += [Problem(f"route {route.name!r}", text, _SKIP_HINT) for text in texts]
    if problems:
        raise ConfigError(SOURCE, problems)
    if unknown:
        raise HealthUnknown(unknown)
    return facts


def _route_problems(
    client: BatchClient,
    table: RouteTable,
    route: Route,
    queues: Mapping[Any, dict[str, Any]],
    envs: Mapping[str, dict[str, Any]],
    plan: Plan | None,
    facts: dict[str, DefinitionFacts],
) -> list[str]:
    found: list[str] = []
    try:
        definitions = client.describe_job_definitions(route.job_definition)
    except BatchApiError as exc:
        if not _is_finding(exc):
            raise HealthUnknown(
                [f"cannot read job definition {route.job_definition!r}: {exc.reason}"]
            ) from None
        found.append(f"cannot read job definition {route.job_definition!r}: {exc.reason}")
        definitions = None
    if definitions is not None:
        problem = definition_problem(route, definitions, table.implicit)
        in_use = in_force(definitions, route.job_definition)
        if problem:
            found.append(problem)
        elif in_use is not None:
            facts[route.job_definition] = definition_facts(in_use)
            if route.compute is None:  # the seed's implicit route: judge its compute by its definition
                route = replace(route, compute=facts[route.job_definition].compute)
            if plan is not None:
                problem = propagated_tags_problem(route, definitions, plan)
                if problem:
                    found.append(problem)
    queue = queues.get(route.job_queue)
    if queue is None:
        found.append(f"job queue {route.job_queue!r} does not exist in this account and region")
        return found
    problem = fair_share_problem(route, queue)
    if problem:
        found.append(problem)
    if queue.get("state") != "ENABLED":
        found.append(f"job queue {route.job_queue!r} is {queue.get('state')}, not ENABLED")
    if queue.get("status") != "VALID":
        found.append(
            f"job queue {route.job_queue!r} is {queue.get('status')}, not VALID: "
            f"{queue.get('statusReason', '')}"
        )
    for order in queue.get("computeEnvironmentOrder", []):
        env = envs.get(order["computeEnvironment"])
        if env is None:
            missing = order["computeEnvironment"]
            found.append(f"compute environment {missing!r} of the job queue was not found")
            continue
        problem = compute_problem(route, env, table.implicit)
        if problem:
            found.append(problem)
    return found


def fair_share_problem(route: Route, queue: Mapping[str, Any]) -> str | None:
    """What the route says of fair share against the queue (SubmitJob: a shareIdentifier is needed
    exactly when the queue has a fair-share policy). A route that says nothing is not judged: its jobs
    may get their shareIdentifier from any layer."""
    has_policy = bool(queue.get("schedulingPolicyArn"))
    if has_policy and route.fair_share is False:
        return (
            f"job queue {route.job_queue!r} has a fair-share scheduling policy, but the route says "
            "fair_share: false; every job on it needs a shareIdentifier"
        )
    if not has_policy and route.fair_share is True:
        return f"job queue {route.job_queue!r} has no fair-share scheduling policy, but the route says it has"
    return None


_CHECK_IDENTITY = TaskIdentity("health_check", "health_check", "health_check", try_number=1, try_id="check")
MAX_TAGS = 50  # "If the total number of combined tags from the job and job definition is over 50, the job
# is moved to the FAILED state" (API_SubmitJob, propagateTags)


def propagated_tags_problem(route: Route, definitions: list[dict[str, Any]], plan: Plan) -> str | None:
    """The route's own request, its tags propagated, with the job definition's: at most 50 tags."""
    try:
        built = plan.build(identity=_CHECK_IDENTITY, executor_config={"route": route.name}, queue=None)
    except BatchRouterError:
        return None  # Plan.check_routes reports it
    if not built.kwargs.get("propagateTags"):
        return None
    newest = in_force(definitions, route.job_definition) or {}
    job_tags = set(built.kwargs.get("tags") or {})
    combined = job_tags | set(newest.get("tags") or {})
    if len(combined) > MAX_TAGS:
        return (
            f"jobs on this route carry {len(job_tags)} tags and job definition {route.job_definition!r} "
            f"{len(newest.get('tags') or {})}: {len(combined)} once propagated, and Batch fails a job with "
            f"more than {MAX_TAGS}; remove tags or set propagateTags: false"
        )
    return None
