from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_router.config.exec_config import EXECUTOR_OWNED_ENV, parse_exec_config
from batch_router.config.model import COMPUTE_TYPES, HINT_KEYS, ExecConfig, Hints
from batch_router.errors import ExecConfigError, Problem

REFERENCE_STYLE: dict[str, Any] = {
    "containerOverrides": {
        "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "4096"}],
        "environment": [{"name": "MY_SETTING", "value": "on"}],
    },
    "retryStrategy": {"attempts": 3},
    "tags": {"team": "data"},
}


def problems_of(raw: Any) -> list[Problem]:
    with pytest.raises(ExecConfigError) as excinfo:
        parse_exec_config(raw)
    return list(excinfo.value.problems)


def only_problem(raw: Any) -> Problem:
    problems = problems_of(raw)
    assert len(problems) == 1, problems
    return problems[0]


def test_none_is_an_empty_exec_config() -> None:
    assert parse_exec_config(None) == ExecConfig()


def test_an_empty_dict_is_an_empty_exec_config() -> None:
    assert parse_exec_config({}) == ExecConfig()


def test_hints_are_split_from_submit_job_kwargs() -> None:
    parsed = parse_exec_config({"route": "gpu", "gpu": 1, "vcpu": 4, "tags": {"team": "ml"}})
    assert parsed.hints == Hints(route="gpu", gpu=1, vcpu=4.0)
    assert parsed.submit_job_kwargs == {"tags": {"team": "ml"}}


def test_every_hint_key_lands_in_hints_and_none_in_kwargs() -> None:
    raw = {
        "route": "r1",
        "compute": "ec2",
        "vcpu": 2,
        "memory_mib": 4096,
        "gpu": 1,
        "timeout_seconds": 600,
        "consumable_resources": {"licence-x": 2},
    }
    parsed = parse_exec_config(raw)
    hints = {key: getattr(parsed.hints, key) for key in HINT_KEYS}
    assert {**hints, "consumable_resources": dict(parsed.hints.consumable_resources)} == raw
    assert parsed.submit_job_kwargs == {}


def test_a_reference_executor_config_passes_through_as_submit_job_kwargs() -> None:
    parsed = parse_exec_config(REFERENCE_STYLE)
    assert parsed.hints == Hints()
    assert parsed.submit_job_kwargs == REFERENCE_STYLE


def test_the_input_is_never_mutated() -> None:
    raw = {"vcpu": 1, **copy.deepcopy(REFERENCE_STYLE)}
    before = copy.deepcopy(raw)
    parse_exec_config(raw)
    assert raw == before


def test_changing_the_result_never_changes_the_input() -> None:
    raw = copy.deepcopy(REFERENCE_STYLE)
    kwargs = parse_exec_config(raw).submit_job_kwargs
    kwargs["containerOverrides"]["environment"].append({"name": "X", "value": "1"})
    kwargs["tags"]["team"] = "other"
    assert raw == REFERENCE_STYLE


def test_changing_the_input_later_never_changes_the_result() -> None:
    raw = copy.deepcopy(REFERENCE_STYLE)
    kwargs = parse_exec_config(raw).submit_job_kwargs
    raw["containerOverrides"]["resourceRequirements"].clear()
    assert kwargs == REFERENCE_STYLE


def test_whole_number_floats_become_int_hints() -> None:
    hints = parse_exec_config({"memory_mib": 2048.0, "gpu": 1.0, "timeout_seconds": 60.0}).hints
    assert (type(hints.memory_mib), type(hints.gpu), type(hints.timeout_seconds)) == (int, int, int)


def test_vcpu_is_always_a_float() -> None:
    assert isinstance(parse_exec_config({"vcpu": 2}).hints.vcpu, float)


def test_tuples_and_read_only_mappings_are_accepted_as_lists_and_dicts() -> None:
    raw = MappingProxyType(
        {"containerOverrides": MappingProxyType({"resourceRequirements": ({"type": "GPU", "value": "1"},)})}
    )
    kwargs = parse_exec_config(raw).submit_job_kwargs
    assert kwargs == {"containerOverrides": {"resourceRequirements": [{"type": "GPU", "value": "1"}]}}
    assert type(kwargs["containerOverrides"]) is dict


def test_an_unknown_top_level_key_suggests_the_closest_key() -> None:
    problem = only_problem({"containerOverride": {}})
    assert problem == Problem(
        "containerOverride", "unknown key 'containerOverride'", "did you mean 'containerOverrides'?"
    )


def test_did_you_mean_ignores_case() -> None:
    assert only_problem({"ContainerOverrides": {}}).hint == "did you mean 'containerOverrides'?"


def test_a_misspelt_hint_key_suggests_the_hint() -> None:
    assert only_problem({"memory": 2048}).hint == "did you mean 'memory_mib'?"


def test_an_unknown_nested_key_is_reported_at_its_own_path() -> None:
    problem = only_problem({"containerOverrides": {"resourceRequirement": []}})
    assert problem.path == "containerOverrides.resourceRequirement"
    assert problem.hint == "did you mean 'resourceRequirements'?"


def test_an_unknown_key_inside_a_list_item_names_the_index() -> None:
    raw = {"eksPropertiesOverride": {"podProperties": {"containers": [{"name": "a"}, {"resource": {}}]}}}
    problem = only_problem(raw)
    assert problem.path == "eksPropertiesOverride.podProperties.containers[1].resource"
    assert problem.hint == "did you mean 'resources'?"


def test_an_unknown_key_with_no_close_match_lists_the_allowed_keys() -> None:
    hint = only_problem({"retryStrategy": {"zzz": 1}}).hint
    assert hint == "allowed here: attempts, evaluateOnExit"


def test_a_top_level_command_says_the_executor_owns_it() -> None:
    problem = only_problem({"command": ["echo", "hi"]})
    assert problem.path == "command"
    assert "executor" in (problem.hint or "")


def test_pod_override_points_to_eks_properties_override() -> None:
    assert "eksPropertiesOverride" in (only_problem({"pod_override": {}}).hint or "")


def test_a_wrong_type_names_what_was_expected_and_what_was_given() -> None:
    problem = only_problem({"retryStrategy": {"attempts": "3"}})
    assert problem.path == "retryStrategy.attempts"
    assert problem.message == "expected an integer, got string '3'"


def test_a_number_as_timeout_points_to_timeout_seconds() -> None:
    problem = only_problem({"timeout": 3600})
    assert problem.path == "timeout"
    assert "timeout_seconds" in (problem.hint or "")


def test_a_wrong_enum_value_lists_the_allowed_values_and_the_closest() -> None:
    problem = only_problem({"containerOverrides": {"resourceRequirements": [{"type": "gpu", "value": "1"}]}})
    assert problem.path == "containerOverrides.resourceRequirements[0].type"
    assert "is not one of GPU, VCPU, MEMORY" in problem.message
    assert problem.hint == "did you mean 'GPU'?"


def test_a_missing_required_member_is_reported_at_its_own_path() -> None:
    problem = only_problem({"containerOverrides": {"resourceRequirements": [{"type": "GPU"}]}})
    assert (problem.path, problem.message) == (
        "containerOverrides.resourceRequirements[0].value",
        "is required",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("vcpu", 0),
        ("vcpu", -1),
        ("vcpu", "2"),
        ("memory_mib", 0),
        ("memory_mib", 4.5),
        ("memory_mib", "2GB"),
        ("gpu", -1),
        ("gpu", True),
        ("timeout_seconds", 59),
        ("route", "GPU_Route"),
        ("route", ""),
        ("compute", "lambda"),
        ("compute", None),
    ],
)
def test_a_bad_hint_value_is_reported_at_the_hint(key: str, value: Any) -> None:
    problem = only_problem({key: value})
    assert problem.path == key


@pytest.mark.parametrize("key", ["vcpu", "memory_mib", "gpu", "timeout_seconds", "route"])
def test_a_bad_hint_value_says_what_the_hint_takes(key: str) -> None:
    assert only_problem({key: [1]}).hint


def test_a_compute_in_the_wrong_case_suggests_the_right_one() -> None:
    assert only_problem({"compute": "Fargate"}).hint == "did you mean 'fargate'?"


@pytest.mark.parametrize(
    ("key", "value"),
    [("vcpu", 0.25), ("memory_mib", 4), ("gpu", 0), ("timeout_seconds", 60), ("route", "a-1")],
)
def test_hint_values_at_the_boundary_are_accepted(key: str, value: Any) -> None:
    assert getattr(parse_exec_config({key: value}).hints, key) == value


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of({"vcpu": 0, "gpu": -1, "containerOverride": {}, "nodeOverrides": {}})
    assert [p.path for p in problems] == ["containerOverride", "gpu", "nodeOverrides", "vcpu"]


def test_the_container_command_is_owned_by_the_executor() -> None:
    problem = only_problem({"containerOverrides": {"command": ["echo"]}})
    assert problem.path == "containerOverrides.command"
    assert problem.hint


def test_an_eks_container_command_is_owned_by_the_executor() -> None:
    raw = {"eksPropertiesOverride": {"podProperties": {"containers": [{"name": "a"}, {"command": ["sh"]}]}}}
    assert only_problem(raw).path == "eksPropertiesOverride.podProperties.containers[1].command"


def test_eks_container_args_are_owned_by_the_executor() -> None:
    raw = {"eksPropertiesOverride": {"podProperties": {"containers": [{"args": ["--x"]}]}}}
    assert only_problem(raw).path == "eksPropertiesOverride.podProperties.containers[0].args"


def test_an_ecs_task_container_command_is_owned_by_the_executor() -> None:
    raw = {"ecsPropertiesOverride": {"taskProperties": [{"containers": [{"command": ["sh"]}]}]}}
    assert only_problem(raw).path == "ecsPropertiesOverride.taskProperties[0].containers[0].command"


def test_node_overrides_are_rejected_as_multi_node_jobs() -> None:
    problem = only_problem({"nodeOverrides": {"numNodes": 2}})
    assert problem.path == "nodeOverrides"
    assert "multi-node" in problem.message


def test_an_array_job_is_rejected_with_a_pointer_to_dynamic_task_mapping() -> None:
    problem = only_problem({"arrayProperties": {"size": 10}})
    assert problem.path == "arrayProperties"
    assert "array jobs are not supported" in problem.message
    assert ".expand" in problem.hint


def test_batch_job_dependencies_are_rejected_in_favour_of_airflow_dependencies() -> None:
    problem = only_problem({"dependsOn": [{"jobId": "abc"}]})
    assert problem.path == "dependsOn"
    assert ">>" in problem.hint


@pytest.mark.parametrize("name", sorted(EXECUTOR_OWNED_ENV))
def test_an_executor_owned_environment_variable_is_rejected(name: str) -> None:
    raw = {
        "containerOverrides": {"environment": [{"name": "MINE", "value": "1"}, {"name": name, "value": "x"}]}
    }
    problem = only_problem(raw)
    assert problem.path == "containerOverrides.environment[1].name"
    assert name in problem.message


@pytest.mark.parametrize("name", sorted(EXECUTOR_OWNED_ENV))
def test_an_executor_owned_eks_env_variable_is_rejected(name: str) -> None:
    raw = {
        "eksPropertiesOverride": {"podProperties": {"containers": [{"env": [{"name": name, "value": "x"}]}]}}
    }
    assert only_problem(raw).path == "eksPropertiesOverride.podProperties.containers[0].env[0].name"


def test_other_environment_variables_are_accepted() -> None:
    raw = {"containerOverrides": {"environment": [{"name": "AIRFLOW__CORE__PARALLELISM", "value": "4"}]}}
    assert parse_exec_config(raw).submit_job_kwargs == raw


def test_the_executor_owned_env_names_are_the_ones_the_executor_sets() -> None:
    assert {
        "AIRFLOW_IS_EXECUTOR_CONTAINER",
        "BATCH_ROUTER_ROUTE",
        "BATCH_ROUTER_TRY_ID",
    } <= EXECUTOR_OWNED_ENV


@pytest.mark.parametrize("raw", [["vcpu", 2], "vcpu=2", 2, ("vcpu",)])
def test_a_non_dict_is_a_problem_at_the_root(raw: Any) -> None:
    problem = only_problem(raw)
    assert problem.path == ""
    assert type(raw).__name__ in problem.message


def test_the_error_names_its_source() -> None:
    with pytest.raises(ExecConfigError) as excinfo:
        parse_exec_config({"vcpu": 0}, source="executor_config of etl.load")
    assert excinfo.value.source == "executor_config of etl.load"
    assert "executor_config of etl.load" in str(excinfo.value)


def test_problems_render_as_path_message_and_hint() -> None:
    with pytest.raises(ExecConfigError) as excinfo:
        parse_exec_config({"containerOverride": {}})
    assert excinfo.value.lines() == [
        "containerOverride: unknown key 'containerOverride' (hint: did you mean 'containerOverrides'?)"
    ]


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "route": st.from_regex(r"\A[a-z0-9-]{1,20}\Z"),
            "compute": st.sampled_from(COMPUTE_TYPES),
            "vcpu": st.floats(min_value=0.125, max_value=192),
            "memory_mib": st.integers(min_value=4, max_value=2_000_000),
            "gpu": st.integers(min_value=0, max_value=16),
            "timeout_seconds": st.integers(min_value=60, max_value=14 * 86400),
        },
    )
)
def test_any_valid_hints_parse_to_exactly_those_hints(raw: dict[str, Any]) -> None:
    parsed = parse_exec_config(raw)
    assert {key: getattr(parsed.hints, key) for key in raw} == raw
    assert parsed.submit_job_kwargs == {}
