"""Routes on ECS Managed Instances: requests in the task shape their ecsProperties job definitions take."""

from __future__ import annotations

from typing import Any

import pytest
from test_job_builder import COMMAND, REFERENCE_BASE, build, problem_paths

from batch_router.config.model import DefinitionFacts, ExecConfig, Hints, Route, RouteTable
from batch_router.errors import ExecConfigError
from batch_router.plan.job_builder import build_submit_job
from batch_router.plan.model import RouteChoice, TaskIdentity
from batch_router.plan.router import choose_route

MI = Route("managed", "ecs-managed-instances", "q-mi", "jd-mi", max_vcpu=32, max_memory_mib=131072, max_gpu=4)
FARGATE = Route("small", "fargate", "q-f", "jd-f", max_vcpu=4, max_memory_mib=30720)


def _container(kwargs: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = kwargs["ecsPropertiesOverride"]["taskProperties"][0]["containers"][0]
    return container


def test_the_command_environment_and_sizes_go_to_the_tasks_first_container_not_container_overrides() -> None:
    kwargs = build(MI, hints=Hints(vcpu=4, memory_mib=8192, gpu=1)).kwargs

    container = _container(kwargs)
    assert "containerOverrides" not in kwargs
    assert container["command"] == COMMAND
    assert {e["name"] for e in container["environment"]} >= {
        "BATCH_ROUTER_ROUTE",
        "AIRFLOW_IS_EXECUTOR_CONTAINER",
    }
    assert {r["type"]: r["value"] for r in container["resourceRequirements"]} == {
        "VCPU": "4",
        "MEMORY": "8192",
        "GPU": "1",
    }


def test_a_fractional_vcpu_hint_is_sized_in_whole_vcpus_and_says_so() -> None:
    built = build(MI, hints=Hints(vcpu=1.5))

    assert {r["type"]: r["value"] for r in _container(built.kwargs)["resourceRequirements"]}["VCPU"] == "2"
    assert any("rounded up to 2" in note for note in built.notes)


def test_shared_container_overrides_move_into_the_task_container() -> None:
    base = {
        **REFERENCE_BASE,
        "containerOverrides": {"command": [], "environment": [{"name": "A", "value": "1"}]},
    }

    built = build(MI, base=base)

    assert {e["name"]: e["value"] for e in _container(built.kwargs)["environment"]}["A"] == "1"
    assert any("moved into the task's container" in note for note in built.notes)


def test_a_command_in_the_tasks_container_from_executor_config_is_refused() -> None:
    container = {"command": ["rm", "-rf", "/"]}

    with pytest.raises(ExecConfigError) as error:
        build(MI, exec_kwargs={"ecsPropertiesOverride": {"taskProperties": [{"containers": [container]}]}})

    assert "ecsPropertiesOverride.taskProperties[0].containers[0].command" in problem_paths(error.value)


def test_the_routes_caps_hold_the_task_containers_sizes() -> None:
    container = {"resourceRequirements": [{"type": "VCPU", "value": "64"}]}
    route = Route("managed", "ecs-managed-instances", "q-mi", "jd-mi", max_vcpu=32, policy=MI.policy)

    with pytest.raises(ExecConfigError) as error:
        build(route, exec_kwargs={"ecsPropertiesOverride": {"taskProperties": [{"containers": [container]}]}})

    assert any("allows at most 32" in p.message for p in error.value.problems)


def test_the_compute_hint_picks_the_managed_instances_route() -> None:
    table = RouteTable(routes=(FARGATE, MI), default_route="small")

    assert choose_route(table, Hints(compute="ecs-managed-instances"), None).route.name == "managed"


def test_gpu_work_fits_a_managed_instances_route() -> None:
    table = RouteTable(routes=(FARGATE, MI), default_route="small")

    assert choose_route(table, Hints(gpu=2), None).route.name == "managed"


def test_a_container_properties_job_definition_on_a_managed_instances_route_is_refused() -> None:
    table = RouteTable(routes=(MI,), default_route="managed")
    with pytest.raises(ExecConfigError) as error:
        build_submit_job(
            base_kwargs=REFERENCE_BASE,
            table=table,
            choice=RouteChoice(MI, "test"),
            exec_config=ExecConfig(),
            identity=TaskIdentity("d", "t", "r", try_number=1),
            command=COMMAND,
            job_name_prefix="p",
            executor_env={},
            definitions={"jd-mi": DefinitionFacts(compute="ec2")},
        )

    assert "jobDefinition" in problem_paths(error.value)
