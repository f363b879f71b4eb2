from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_router.config.model import Route, RouteTable
from batch_router.errors import ConfigError, ExecConfigError, RoutingError
from batch_router.plan.model import BuiltJob, TaskIdentity
from batch_router.plan.planner import Plan

TABLE = RouteTable(
    routes=(
        Route("fargate-small", "fargate", "q-fargate", "jd-fargate", max_vcpu=4, queues=("default",)),
        Route("ec2-gpu", "ec2", "q-gpu", "jd-gpu", max_gpu=8),
        Route("eks-general", "eks", "q-eks", "jd-eks"),
    ),
    default_route="fargate-small",
    source="routes.yaml",
)
IDENTITY = TaskIdentity("etl", "load", "scheduled__2024-05-01T00:00:00+00:00", try_number=2, try_id="try-9")
COMMAND = ["airflow", "tasks", "run"]


def plan(
    executor_config: Mapping[str, Any] | None = None, queue: str | None = "default", **kwargs: Any
) -> BuiltJob:
    the_plan = Plan(TABLE, base_kwargs={"containerOverrides": {"command": []}}, **kwargs)
    return the_plan.build(identity=IDENTITY, executor_config=executor_config, queue=queue, command=COMMAND)


def container_env(built: BuiltJob) -> dict[str, str]:
    return {e["name"]: e["value"] for e in built.kwargs["containerOverrides"]["environment"]}


def test_a_task_without_executor_config_runs_on_the_default_queue_route() -> None:
    built = plan(None)
    assert built.route.name == "fargate-small"
    assert built.kwargs["containerOverrides"]["command"] == COMMAND


def test_executor_config_hints_choose_the_route_and_size_the_job() -> None:
    built = plan({"gpu": 2, "vcpu": 4})
    assert built.route.name == "ec2-gpu"
    assert built.reason.startswith("first route in file order that fits vcpu=4, gpu=2")
    requirements = {r["type"]: r["value"] for r in built.kwargs["containerOverrides"]["resourceRequirements"]}
    assert requirements == {"VCPU": "4", "GPU": "2"}


def test_executor_config_submit_job_kwargs_reach_the_request() -> None:
    built = plan({"route": "eks-general", "retryStrategy": {"attempts": 3}, "timeout_seconds": 900})
    assert built.kwargs["retryStrategy"] == {"attempts": 3}
    assert built.kwargs["timeout"] == {"attemptDurationSeconds": 900}
    assert "containerOverrides" not in built.kwargs


def test_the_executor_marks_the_container_as_an_executor_container_by_default() -> None:
    env = container_env(plan(None))
    assert env["AIRFLOW_IS_EXECUTOR_CONTAINER"] == "true"
    assert env["BATCH_ROUTER_TRY_ID"] == "try-9"


def test_explicit_executor_env_replaces_the_default() -> None:
    env = container_env(plan(None, executor_env={"AIRFLOW__CORE__EXECUTOR": "x"}))
    assert "AIRFLOW_IS_EXECUTOR_CONTAINER" not in env
    assert env["AIRFLOW__CORE__EXECUTOR"] == "x"


def test_the_default_queue_name_is_passed_to_the_router() -> None:
    assert plan(None, queue="celery", default_queue="celery").route.name == "fargate-small"
    assert plan({"gpu": 1}, queue="fargate-small", default_queue="fargate-small").route.name == "ec2-gpu"


def test_an_invalid_executor_config_is_an_exec_config_error() -> None:
    with pytest.raises(ExecConfigError):
        plan({"vcpu": "two"})


def test_a_task_no_route_can_hold_is_a_routing_error() -> None:
    with pytest.raises(RoutingError) as info:
        plan({"compute": "fargate", "gpu": 1})
    assert len(info.value.passed_over) == len(TABLE.routes)


def test_an_adopted_try_is_looked_for_on_its_route_and_on_the_retry_route_its_job_may_have_moved_to() -> None:
    spot = Route("spot", "ec2", "q-spot", "d", retry_route="od")
    table = RouteTable(routes=(spot, Route("od", "ec2", "q-od", "d")), default_route="spot")
    identity = TaskIdentity("etl", "extract", "r1", try_number=1)

    queues = [queue for queue, _ in Plan(table).places(identity, None, None)]

    assert queues == ["q-spot", "q-od"]


_names = st.text(alphabet="abc-01", min_size=1, max_size=4).filter(lambda s: s[0] != "-")
_route_specs = st.lists(
    st.tuples(
        _names,
        st.sampled_from(["fargate", "ec2", "eks"]),
        st.sampled_from([None, True, False]),  # fair_share: True without a shareIdentifier fails
        st.sampled_from([{}, {"shareIdentifier": "etl"}, {"timeout": {"attemptDurationSeconds": 30}}]),
        st.text(alphabet='qQ-_é"', min_size=1, max_size=6),  # job queue names, some not plain ASCII
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda spec: spec[0],
)


@settings(max_examples=200, deadline=None)
@given(_route_specs)
def test_checking_one_route_of_each_shape_finds_what_checking_every_route_finds(specs: list[Any]) -> None:
    routes = tuple(
        Route(name, compute, queue, "d", fair_share=fair, submit_job_kwargs=kwargs)  # type: ignore[arg-type]
        for name, compute, fair, kwargs, queue in specs
    )
    plan = Plan(RouteTable(routes=routes, default_route=routes[0].name, source="t"))
    every = [p for i in range(len(routes)) for p in plan._route_problems(i)]

    try:
        plan.check_routes()
        found: list[Any] = []
    except ConfigError as err:
        found = list(err.problems)

    assert found == every
