"""The route table: valid files load, every mistake stops start-up with the file, JSON path and a hint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from batch_router import examples
from batch_router.config.routes import (
    implicit_route_table,
    parse_route_table,
    read_route_file,
    route_table_from_settings,
)
from batch_router.config.settings import MappingConf, load_settings
from batch_router.errors import ConfigError


def _table(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "default_route": "small",
        "routes": [
            {
                "name": "small",
                "compute": "fargate",
                "job_queue": "q-f",
                "job_definition": "d-f",
                "max_vcpu": 4,
                "max_memory_mib": 30720,
                "queues": ["default", "light"],
            },
            {"name": "gpu", "compute": "ec2", "job_queue": "q-g", "job_definition": "d-g:3", "max_gpu": 8},
            {
                "name": "k8s",
                "compute": "eks",
                "job_queue": "arn:aws:batch:us-east-1:1:job-queue/k",
                "job_definition": "d-k",
            },
        ],
    }
    data.update(overrides)
    return data


def _problems(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_route_table(data, "routes.yaml")
    return info.value.lines()


def test_a_valid_table_keeps_routes_in_file_order() -> None:
    table = parse_route_table(_table(), "routes.yaml")
    assert [r.name for r in table.routes] == ["small", "gpu", "k8s"]
    assert table.default_route == "small"
    assert table.get("small").queues == ("default", "light")  # type: ignore[union-attr]


def test_default_route_defaults_to_the_first_route() -> None:
    data = _table()
    del data["default_route"]
    assert parse_route_table(data, "r").default_route == "small"


def test_yaml_and_json_files_load_the_same_table(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(_table()))
    (tmp_path / "r.json").write_text(json.dumps(_table()))
    assert read_route_file(tmp_path / "r.yaml").routes == read_route_file(tmp_path / "r.json").routes


def test_a_misspelt_compute_names_the_path_the_choices_and_the_fix() -> None:
    data = _table()
    data["routes"][2]["compute"] = "fargte"
    assert _problems(data) == [
        "routes[2].compute: 'fargte' is not one of fargate, ec2, eks, ecs-managed-instances "
        "(hint: did you mean 'fargate'?)"
    ]


def test_an_unknown_key_gets_a_did_you_mean() -> None:
    data = _table()
    data["routes"][0]["job_qeue"] = data["routes"][0].pop("job_queue")
    lines = _problems(data)
    assert "routes[0].job_qeue: unknown key 'job_qeue' (hint: did you mean 'job_queue'?)" in lines
    assert "routes[0].job_queue: is required" in lines


def test_every_problem_is_reported_not_just_the_first() -> None:
    data = _table(version=2)
    data["routes"][1]["max_gpu"] = -1
    data["routes"][0]["name"] = "Small_Route"
    paths = {line.split(":")[0] for line in _problems(data)}
    # The rules beyond the schema run too: default_route 'small' names no route once routes[0] is renamed.
    assert paths == {"version", "routes[1].max_gpu", "routes[0].name", "default_route"}


def test_the_error_message_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(_table(version=3)))
    with pytest.raises(ConfigError) as info:
        read_route_file(path)
    assert str(path) in str(info.value)
    assert "version" in str(info.value)


def test_duplicate_route_names_are_rejected() -> None:
    data = _table()
    data["routes"][1]["name"] = "small"
    assert any(line.startswith("routes[1].name: 'small' is already") for line in _problems(data))


def test_a_gpu_cap_on_fargate_is_rejected() -> None:
    data = _table()
    data["routes"][0]["max_gpu"] = 1
    assert any("routes[0].max_gpu: Fargate has no GPUs" in line for line in _problems(data))


def test_an_airflow_queue_listed_by_two_routes_is_rejected() -> None:
    data = _table()
    data["routes"][1]["queues"] = ["light"]
    assert any("queue 'light' is already listed by route 'small'" in line for line in _problems(data))


def test_a_retry_route_that_is_not_a_route_gets_a_did_you_mean() -> None:
    data = _table()
    data["routes"][1]["retry_route"] = "smal"
    problems = _problems(data)
    assert any(
        line.startswith("routes[1].retry_route: 'smal' is not the name of a route") for line in problems
    )
    assert any("did you mean 'small'" in line for line in problems)


def test_a_route_cannot_retry_on_itself() -> None:
    data = _table()
    data["routes"][1]["retry_route"] = "gpu"
    assert any("routes[1].retry_route: names the route itself" in line for line in _problems(data))


def test_retry_route_and_provision_are_read_into_the_route() -> None:
    data = _table()
    data["routes"][1]["retry_route"] = "small"
    data["routes"][1]["provision"] = {"capacity": "spot", "instance_types": ["g5"], "max_vcpus": 64}
    gpu = parse_route_table(data, "routes.yaml").routes[1]
    assert (
        gpu.retry_route,
        gpu.provision.capacity,
        gpu.provision.instance_types,
        gpu.provision.max_vcpus,
    ) == (
        "small",
        "spot",
        ("g5",),
        64,
    )


def test_instance_types_on_a_fargate_route_are_rejected() -> None:
    data = _table()
    data["routes"][0]["provision"] = {"instance_types": ["m6i"]}
    assert any(
        "routes[0].provision.instance_types: Fargate chooses its own hosts" in line
        for line in _problems(data)
    )


def test_a_provision_minimum_above_its_maximum_is_rejected() -> None:
    data = _table()
    data["routes"][1]["provision"] = {"min_vcpus": 64, "max_vcpus": 32}
    assert any("routes[1].provision.min_vcpus: is above max_vcpus (32)" in line for line in _problems(data))


def test_an_unknown_capacity_names_the_choices() -> None:
    data = _table()
    data["routes"][1]["provision"] = {"capacity": "spot-only"}
    assert any("routes[1].provision.capacity" in line and "on-demand" in line for line in _problems(data))


def test_an_unknown_default_route_is_rejected_with_a_suggestion() -> None:
    assert _problems(_table(default_route="smal")) == [
        "default_route: 'smal' is not the name of a route (hint: did you mean 'small'?)"
    ]


def test_route_submit_job_kwargs_are_checked_against_submit_job() -> None:
    data = _table()
    data["routes"][1]["submit_job_kwargs"] = {"containerOverride": {}}
    lines = _problems(data)
    assert any(
        line.startswith("routes[1].submit_job_kwargs.containerOverride: unknown key")
        and "containerOverrides" in line
        for line in lines
    )


def test_route_submit_job_kwargs_may_be_snake_case_like_the_reference_config() -> None:
    data = _table()
    data["routes"][1]["submit_job_kwargs"] = {"scheduling_priority_override": 5}
    assert parse_route_table(data, "r").routes[1].submit_job_kwargs == {"schedulingPriorityOverride": 5}


def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_route_file(tmp_path / "nope.yaml")


def test_broken_yaml_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\nroutes: [\n  - name: a\n")
    with pytest.raises(ConfigError, match=r"not valid YAML.*line"):
        read_route_file(path)


def test_without_a_route_table_the_seed_options_form_one_implicit_route() -> None:
    settings = load_settings(MappingConf({"job_queue": "q", "job_definition": "d"}))
    table = route_table_from_settings(settings)
    assert table.implicit
    [route] = table.routes
    assert (route.job_queue, route.job_definition) == ("q", "d")
    assert table.default_route == route.name


def test_routes_file_setting_loads_that_file(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_table()))
    table = route_table_from_settings(load_settings(MappingConf({"routes_file": str(path)})))
    assert table.source == str(path)
    assert not table.implicit


def test_inline_routes_setting_is_validated_like_a_file() -> None:
    bad = _table(default_route="nope")
    settings = load_settings(MappingConf({"routes": json.dumps(bad)}))
    with pytest.raises(ConfigError, match="ROUTES"):
        route_table_from_settings(settings)


def test_the_bundled_example_route_table_is_valid() -> None:
    table = read_route_file(examples.ROUTES_FILE)
    assert {r.compute for r in table.routes} == {"fargate", "ec2", "eks"}


def test_implicit_table_needs_queue_and_definition() -> None:
    settings = load_settings(MappingConf({"routes": json.dumps(_table())}))
    with pytest.raises(ConfigError):
        implicit_route_table(settings)


def test_implicit_route_is_eks_when_the_eks_override_option_is_set() -> None:
    settings = load_settings(
        MappingConf(
            {"job_queue": "q", "job_definition": "d", "eks_properties_override": '{"podProperties": {}}'}
        )
    )
    assert route_table_from_settings(settings).routes[0].compute == "eks"


def test_a_route_name_with_capitals_is_explained_in_words_with_a_fixed_name() -> None:
    data = _table()
    data["routes"][0]["name"] = "Fargate_Small"

    with pytest.raises(ConfigError) as raised:
        parse_route_table(data, "routes.yaml")

    text = str(raised.value)
    assert "'Fargate_Small' is not made of lowercase letters, digits and '-' only" in text
    assert "did you mean 'fargate-small'?" in text


def test_a_key_left_empty_in_yaml_says_the_value_is_empty() -> None:
    data = _table()
    data["routes"][0]["job_queue"] = None

    with pytest.raises(ConfigError) as raised:
        parse_route_table(data, "routes.yaml")

    assert "routes[0].job_queue: expected a string, got nothing (the value is empty)" in str(raised.value)


def test_schema_problems_and_rule_problems_are_reported_in_one_run() -> None:
    data = _table()
    data["routes"][0]["compute"] = "fargte"  # the schema says this
    data["default_route"] = "nope"  # a rule beyond the schema says this

    with pytest.raises(ConfigError) as raised:
        parse_route_table(data, "routes.yaml")

    text = str(raised.value)
    assert "routes[0].compute: 'fargte' is not one of" in text
    assert "default_route: 'nope' is not the name of a route" in text


def _limited(limits: Any, route: int = 1) -> dict[str, Any]:
    data = _table()
    data["routes"][route]["wait_limits"] = limits
    return data


def test_wait_limits_are_read_into_the_route() -> None:
    table = parse_route_table(_limited({"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 3600}), "r")

    assert table.get("gpu").wait_limits == {"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 3600}  # type: ignore[union-attr]


def test_a_wait_limit_for_a_reason_aws_cannot_act_on_names_the_reasons_it_can() -> None:
    problems = _problems(_limited({"MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS": 3600}))

    assert any(
        "routes[1].wait_limits" in p and "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" in p for p in problems
    )


@pytest.mark.parametrize("seconds", [599, 86_401, 3600.5])
def test_a_wait_limit_outside_aws_bounds_is_rejected(seconds: float) -> None:
    problems = _problems(_limited({"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": seconds}))

    assert any("routes[1].wait_limits" in p for p in problems)


def test_routes_sharing_a_job_queue_must_give_the_same_wait_limits() -> None:
    data = _limited({"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 3600})
    data["routes"].append({**data["routes"][1], "name": "gpu-twin", "wait_limits": {}})

    problems = _problems(data)

    assert any("routes[3].wait_limits" in p and "routes[1]" in p and "q-g" in p for p in problems)


def test_consumable_resources_are_read_as_a_quantity_or_a_quantity_and_a_max() -> None:
    from batch_router.config.model import ConsumableResource, ConsumableUse

    data = _table(
        consumable_resources={"licence-x": {"total": 20}, "tokens": {"total": 5, "type": "non-replenishable"}}
    )
    data["routes"][1]["consumable_resources"] = {"licence-x": 1, "db-conn": {"quantity": 1, "max": 4}}

    table = parse_route_table(data, "r")

    assert table.get("gpu").consumable_resources == {  # type: ignore[union-attr]
        "licence-x": ConsumableUse(1, 1),
        "db-conn": ConsumableUse(1, 4),
    }
    assert table.consumable_resources == {
        "licence-x": ConsumableResource(20, "REPLENISHABLE"),
        "tokens": ConsumableResource(5, "NON_REPLENISHABLE"),
    }


def test_a_default_quantity_above_its_max_is_rejected() -> None:
    data = _table()
    data["routes"][1]["consumable_resources"] = {"db-conn": {"quantity": 5, "max": 4}}

    assert any("routes[1].consumable_resources.db-conn.quantity" in p for p in _problems(data))


def test_a_route_may_use_at_most_five_consumable_resources_as_aws_allows_a_job() -> None:
    data = _table()
    data["routes"][1]["consumable_resources"] = {f"r{i}": 1 for i in range(6)}

    assert any("routes[1].consumable_resources" in p for p in _problems(data))
