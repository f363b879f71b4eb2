"""What batch-router builds by itself never breaks AWS's rules: templates, example routes, any hints."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_router import examples, templates
from batch_router.config.model import Route
from batch_router.config.routes import read_route_file
from batch_router.errors import RoutingError
from batch_router.plan.model import TaskIdentity
from batch_router.plan.planner import Plan
from batch_router.rules import Context, check_request

# The example table, and a route of the one kind it has none of (the demo's local Batch cannot run
# ECS Managed Instances), so every kind's requests are built and checked.
_EXAMPLE = read_route_file(examples.ROUTES_FILE)
TABLE = dataclasses.replace(
    _EXAMPLE,
    routes=(
        *_EXAMPLE.routes,
        Route("managed", "ecs-managed-instances", "airflow-mi", "airflow-worker-mi", max_vcpu=64, max_gpu=8),
    ),
)
PLAN = Plan(TABLE)
IDENTITY = TaskIdentity("etl", "load", "scheduled__2026-01-01", try_number=1, try_id="t-1")
COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"]


def rules_broken(route: Route, request: Any) -> list[str]:
    context = Context(compute=route.compute, route=route.name, fair_share=route.fair_share)
    return [f"{v.rule}: {v.message}" for v in check_request(request, context)]


@pytest.mark.parametrize("name", templates.template_names())
def test_every_template_builds_a_request_aws_accepts(name: str) -> None:
    built = PLAN.build(
        identity=IDENTITY, executor_config=templates.template(name), queue=None, command=COMMAND
    )

    assert rules_broken(built.route, built.kwargs) == []


@pytest.mark.parametrize("route", [r.name for r in TABLE.routes])
def test_every_example_route_builds_a_request_aws_accepts(route: str) -> None:
    built = PLAN.build(identity=IDENTITY, executor_config={"route": route}, queue=None, command=COMMAND)

    assert rules_broken(built.route, built.kwargs) == []


@settings(max_examples=200, deadline=None)
@given(
    vcpu=st.none() | st.sampled_from([0.25, 0.5, 1, 1.5, 2, 3, 4, 7.5, 16, 32, 64]),
    memory_mib=st.none() | st.integers(min_value=4, max_value=786_432),
    gpu=st.none() | st.integers(min_value=0, max_value=8),
    compute=st.none() | st.sampled_from(["fargate", "ec2", "eks", "ecs-managed-instances"]),
    timeout_seconds=st.none() | st.integers(min_value=60, max_value=10**7),
)
def test_any_hints_a_route_takes_build_a_request_aws_accepts(
    vcpu: float | None,
    memory_mib: int | None,
    gpu: int | None,
    compute: str | None,
    timeout_seconds: int | None,
) -> None:
    hints = {
        "vcpu": vcpu,
        "memory_mib": memory_mib,
        "gpu": gpu,
        "compute": compute,
        "timeout_seconds": timeout_seconds,
    }
    try:
        built = PLAN.build(
            identity=IDENTITY,
            executor_config={k: v for k, v in hints.items() if v is not None},
            queue=None,
            command=COMMAND,
        )
    except RoutingError:
        return  # no route takes it: nothing is built
    assert rules_broken(built.route, built.kwargs) == []
