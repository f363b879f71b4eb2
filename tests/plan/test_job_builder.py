from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from batch_router.config.model import (
    DEFAULT_EXECUTOR_CONFIG_KEYS,
    ExecConfig,
    Hints,
    Policy,
    Route,
    RouteTable,
)
from batch_router.errors import ExecConfigError
from batch_router.plan.job_builder import build_submit_job
from batch_router.plan.model import BuiltJob, RouteChoice, TaskIdentity
from batch_router.plan.naming import identity_hash, job_tags
from batch_router.plan.router import misfits
from batch_router.rules.fargate import FARGATE_COMBINATIONS

FARGATE = Route("fargate-small", "fargate", "q-fargate", "jd-fargate", max_vcpu=4, max_memory_mib=30720)
EC2 = Route("ec2-large", "ec2", "q-ec2", "jd-ec2", max_vcpu=64, max_memory_mib=262144, max_gpu=8)
EKS = Route("eks-general", "eks", "q-eks", "jd-eks", max_vcpu=16, max_memory_mib=65536, max_gpu=4)
IDENTITY = TaskIdentity("my_dag", "extract", "manual__2024-01-01T00:00:00+00:00", try_number=1)
COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"]
EXECUTOR_ENV = {"AIRFLOW_IS_EXECUTOR_CONTAINER": "true"}
# The reference executor's SUBMIT_JOB_KWARGS always carries an empty command.
REFERENCE_BASE: dict[str, Any] = {"containerOverrides": {"command": []}}

_SUBMIT_JOB = (
    botocore.session.get_session().get_service_model("batch").operation_model("SubmitJob").input_shape
)


def build(
    route: Route = EC2,
    *,
    hints: Hints | None = None,
    exec_kwargs: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] = REFERENCE_BASE,
    defaults: Mapping[str, Any] | None = None,
    identity: TaskIdentity = IDENTITY,
    prefix: str = "airflow-task",
    executor_env: Mapping[str, str] = EXECUTOR_ENV,
) -> BuiltJob:
    table = RouteTable(
        routes=(route,), default_route=route.name, defaults=defaults or {}, source="routes.yaml"
    )
    return build_submit_job(
        base_kwargs=base,
        table=table,
        choice=RouteChoice(route, "test"),
        exec_config=ExecConfig(hints=hints or Hints(), submit_job_kwargs=exec_kwargs or {}),
        identity=identity,
        command=COMMAND,
        job_name_prefix=prefix,
        executor_env=executor_env,
    )


def env_of(kwargs: Mapping[str, Any]) -> dict[str, str]:
    if "eksPropertiesOverride" in kwargs:
        entries = kwargs["eksPropertiesOverride"]["podProperties"]["containers"][0]["env"]
    else:
        entries = kwargs["containerOverrides"]["environment"]
    return {e["name"]: e["value"] for e in entries}


def requirements_of(kwargs: Mapping[str, Any]) -> dict[str, str]:
    return {r["type"]: r["value"] for r in kwargs["containerOverrides"].get("resourceRequirements", [])}


def problem_paths(error: ExecConfigError) -> list[str]:
    return [p.path for p in error.problems]


# --- layers -----------------------------------------------------------------------------------------


def test_route_gives_the_job_queue_and_job_definition() -> None:
    kwargs = build(EC2).kwargs
    assert (kwargs["jobQueue"], kwargs["jobDefinition"]) == ("q-ec2", "jd-ec2")


def test_each_layer_overrides_the_ones_below_it() -> None:
    route = Route(
        "r",
        "ec2",
        "q",
        "jd",
        submit_job_kwargs={"schedulingPriorityOverride": 3, "shareIdentifier": "route"},
        policy=Policy(overridable=frozenset({"schedulingPriorityOverride"})),  # the task may override it
    )
    kwargs = build(
        route,
        base={"schedulingPriorityOverride": 1, "retryStrategy": {"attempts": 1}, "shareIdentifier": "base"},
        defaults={"schedulingPriorityOverride": 2, "retryStrategy": {"attempts": 2}},
        exec_kwargs={"schedulingPriorityOverride": 4},
    ).kwargs
    assert kwargs["schedulingPriorityOverride"] == 4
    assert kwargs["shareIdentifier"] == "route"
    assert kwargs["retryStrategy"] == {"attempts": 2}


def test_environment_from_every_layer_is_kept_by_name() -> None:
    kwargs = build(
        dataclasses.replace(EC2, policy=Policy(overridable=frozenset({"environment"}))),
        base={"containerOverrides": {"command": [], "environment": [{"name": "A", "value": "base"}]}},
        defaults={"containerOverrides": {"environment": [{"name": "B", "value": "defaults"}]}},
        exec_kwargs={"containerOverrides": {"environment": [{"name": "A", "value": "task"}]}},
    ).kwargs
    assert env_of(kwargs) == {
        "A": "task",
        "B": "defaults",
        "AIRFLOW_IS_EXECUTOR_CONTAINER": "true",
        "BATCH_ROUTER_ROUTE": "ec2-large",
    }


def test_exec_config_may_override_the_job_queue_where_the_policy_allows_and_the_builder_notes_it() -> None:
    keys = DEFAULT_EXECUTOR_CONFIG_KEYS | {"jobQueue"}
    built = build(
        dataclasses.replace(EC2, policy=Policy(executor_config_keys=keys)),
        exec_kwargs={"jobQueue": "other-queue"},
    )
    assert built.kwargs["jobQueue"] == "other-queue"
    assert any("other-queue" in note for note in built.notes)


def test_building_never_mutates_its_inputs() -> None:
    base = {
        "containerOverrides": {"command": [], "environment": [{"name": "A", "value": "1"}]},
        "tags": {"t": "1"},
    }
    defaults = {"containerOverrides": {"resourceRequirements": [{"type": "VCPU", "value": "1"}]}}
    exec_kwargs = {"containerOverrides": {"environment": [{"name": "B", "value": "2"}]}, "tags": {"u": "2"}}
    snapshot = copy.deepcopy((base, defaults, exec_kwargs))
    built = build(EC2, base=base, defaults=defaults, exec_kwargs=exec_kwargs, hints=Hints(vcpu=2))
    assert (base, defaults, exec_kwargs) == snapshot
    built.kwargs["containerOverrides"]["environment"].clear()
    assert (base, defaults, exec_kwargs) == snapshot


# --- what the executor owns -------------------------------------------------------------------------


def test_the_empty_command_of_the_reference_settings_is_replaced() -> None:
    assert build(EC2, base=REFERENCE_BASE).kwargs["containerOverrides"]["command"] == COMMAND


def test_a_command_in_exec_config_is_refused() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs={"containerOverrides": {"command": ["echo", "hi"]}})
    assert problem_paths(info.value) == ["containerOverrides.command"]
    assert "executor_config" in info.value.problems[0].message


def test_a_command_in_a_route_is_refused() -> None:
    route = Route("r", "ec2", "q", "jd", submit_job_kwargs={"containerOverrides": {"command": ["x"]}})
    with pytest.raises(ExecConfigError, match="route 'r' sets the container's command"):
        build(route)


def test_an_eks_container_command_in_exec_config_is_refused() -> None:
    pod = {"podProperties": {"containers": [{"command": ["sh"]}]}}
    with pytest.raises(ExecConfigError) as info:
        build(EKS, exec_kwargs={"eksPropertiesOverride": pod})
    assert problem_paths(info.value) == ["eksPropertiesOverride.podProperties.containers[0].command"]


@pytest.mark.parametrize(
    "name", ["AIRFLOW_IS_EXECUTOR_CONTAINER", "BATCH_ROUTER_ROUTE", "BATCH_ROUTER_TRY_ID"]
)
def test_an_executor_owned_environment_variable_in_exec_config_is_refused(name: str) -> None:
    exec_kwargs = {"containerOverrides": {"environment": [{"name": name, "value": "x"}]}}
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs=exec_kwargs)
    assert problem_paths(info.value) == ["containerOverrides.environment[0].name"]


def test_an_environment_variable_the_executor_passes_may_not_be_set_by_any_layer() -> None:
    base = {"containerOverrides": {"environment": [{"name": "MY_EXECUTOR_VAR", "value": "x"}]}}
    with pytest.raises(
        ExecConfigError, match="SUBMIT_JOB_KWARGS sets environment variable 'MY_EXECUTOR_VAR'"
    ):
        build(EC2, base=base, executor_env={"MY_EXECUTOR_VAR": "1"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("arrayProperties", {"size": 10}),
        ("dependsOn", [{"jobId": "abc"}]),
        ("nodeOverrides", {"numNodes": 2}),
    ],
)
def test_array_dependent_and_multi_node_jobs_are_refused_from_any_layer(key: str, value: Any) -> None:
    with pytest.raises(ExecConfigError, match=f"SUBMIT_JOB_KWARGS sets {key}") as info:
        build(EC2, base={key: value})
    assert problem_paths(info.value) == [key]


def test_more_tags_than_submit_job_allows_are_refused_before_the_call() -> None:
    tags = {f"team:{i}": "x" for i in range(51)}
    with pytest.raises(ExecConfigError, match="tags: has 51 entries; SubmitJob allows at most 50"):
        build(EC2, exec_kwargs={"tags": tags})


def test_the_executors_own_tags_give_way_to_the_requests_near_fifty() -> None:
    tags = {f"team:{i}": "x" for i in range(43)}  # the executor adds 8 of its own here: 51 in all

    built = build(EC2, exec_kwargs={"tags": tags})

    assert len(built.kwargs["tags"]) == 50
    assert built.kwargs["tags"]["batch-router:route"] == "ec2-large"


def test_a_tag_value_longer_than_submit_job_allows_is_refused_with_its_path() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs={"tags": {"team": "x" * 300}})
    assert problem_paths(info.value) == ["tags.team"]


def test_executor_env_route_and_try_id_are_set_on_the_container() -> None:
    env = env_of(build(FARGATE, identity=TaskIdentity("d", "t", "r", 2, try_id="try-123")).kwargs)
    assert env == {
        "AIRFLOW_IS_EXECUTOR_CONTAINER": "true",
        "BATCH_ROUTER_ROUTE": "fargate-small",
        "BATCH_ROUTER_TRY_ID": "try-123",
    }


# --- job name and tags ------------------------------------------------------------------------------


def test_job_name_is_built_from_the_prefix_and_the_task_try() -> None:
    name = build(EC2, prefix="airflow-task").kwargs["jobName"]
    assert name == f"airflow-task-my_dag-extract-1-{identity_hash(IDENTITY)}"


def test_a_job_name_from_a_layer_becomes_the_prefix() -> None:
    name = build(EC2, base={"jobName": "nightly"}, prefix="airflow-task").kwargs["jobName"]
    assert name.startswith("nightly-my_dag-extract-1-")


def test_identity_tags_are_added_and_user_tags_kept() -> None:
    kwargs = build(
        EC2, defaults={"tags": {"team": "data"}}, exec_kwargs={"tags": {"cost-center": "42"}}
    ).kwargs
    assert kwargs["tags"] == {
        "team": "data",
        "cost-center": "42",
        **job_tags(IDENTITY, "ec2-large", job_queue="q-ec2", job_definition="jd-ec2"),
    }
    assert kwargs["propagateTags"] is True


def test_an_explicit_propagate_tags_false_is_kept() -> None:
    assert build(EC2, exec_kwargs={"propagateTags": False}).kwargs["propagateTags"] is False


# --- EC2 ---------------------------------------------------------------------------------------------


def test_ec2_hints_become_resource_requirements_as_strings() -> None:
    kwargs = build(EC2, hints=Hints(vcpu=4, memory_mib=8192, gpu=2)).kwargs
    assert requirements_of(kwargs) == {"VCPU": "4", "MEMORY": "8192", "GPU": "2"}
    assert kwargs["containerOverrides"]["command"] == COMMAND


def test_ec2_fractional_vcpu_is_rounded_up_to_a_whole_one_with_a_note() -> None:
    built = build(EC2, hints=Hints(vcpu=2.5))
    assert requirements_of(built.kwargs) == {"VCPU": "3"}
    assert built.notes == ("ec2: 2.5 vCPU rounded up to 3 (EC2 jobs are sized in whole vCPUs)",)


def test_ec2_hints_replace_resource_requirements_of_the_same_type_only() -> None:
    route = Route(
        "r",
        "ec2",
        "q",
        "jd",
        submit_job_kwargs={
            "containerOverrides": {
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]
            }
        },
    )
    assert requirements_of(build(route, hints=Hints(vcpu=8)).kwargs) == {"VCPU": "8", "MEMORY": "512"}


def test_deprecated_vcpus_is_dropped_when_a_vcpu_hint_sets_resource_requirements() -> None:
    built = build(EC2, base={"containerOverrides": {"command": [], "vcpus": 1}}, hints=Hints(vcpu=2))
    assert "vcpus" not in built.kwargs["containerOverrides"]
    assert any("containerOverrides.vcpus dropped" in note for note in built.notes)


def test_no_hints_leave_the_job_definition_sizes_alone() -> None:
    assert "resourceRequirements" not in build(EC2).kwargs["containerOverrides"]


def test_eks_override_from_shared_settings_is_dropped_on_an_ec2_route() -> None:
    base = {"eksPropertiesOverride": {"podProperties": {"metadata": {"labels": {"a": "b"}}}}}
    built = build(EC2, base=base)
    assert "eksPropertiesOverride" not in built.kwargs
    assert any("eksPropertiesOverride" in note for note in built.notes)


def test_eks_override_in_exec_config_on_an_ec2_route_is_refused() -> None:
    exec_kwargs = {"eksPropertiesOverride": {"podProperties": {"metadata": {"labels": {"a": "b"}}}}}
    with pytest.raises(ExecConfigError, match="route 'ec2-large' runs on ec2"):
        build(EC2, exec_kwargs=exec_kwargs)


# --- Fargate -----------------------------------------------------------------------------------------


def test_fargate_size_is_rounded_up_to_a_valid_combination_with_a_note() -> None:
    built = build(FARGATE, hints=Hints(vcpu=0.3, memory_mib=600))
    assert requirements_of(built.kwargs) == {"VCPU": "0.5", "MEMORY": "1024"}
    assert built.notes == ("fargate: 0.3 vCPU / 600 MiB rounded up to 0.5 vCPU / 1024 MiB",)


def test_a_valid_fargate_size_is_used_as_is_without_a_note() -> None:
    built = build(FARGATE, hints=Hints(vcpu=2, memory_mib=6144))
    assert requirements_of(built.kwargs) == {"VCPU": "2", "MEMORY": "6144"}
    assert built.notes == ()


def test_fargate_vcpu_alone_pairs_with_memory_from_an_earlier_layer() -> None:
    defaults = {"containerOverrides": {"resourceRequirements": [{"type": "MEMORY", "value": "8192"}]}}
    assert requirements_of(build(FARGATE, defaults=defaults, hints=Hints(vcpu=1)).kwargs) == {
        "VCPU": "1",
        "MEMORY": "8192",
    }


def test_fargate_vcpu_alone_gets_the_least_memory_fargate_allows() -> None:
    assert requirements_of(build(FARGATE, hints=Hints(vcpu=2)).kwargs) == {"VCPU": "2", "MEMORY": "4096"}


def test_gpu_hint_on_fargate_is_an_error() -> None:
    with pytest.raises(ExecConfigError, match="Fargate, which has no GPUs"):
        build(FARGATE, hints=Hints(gpu=1))


def test_fargate_size_beyond_fargate_is_an_error() -> None:
    with pytest.raises(ExecConfigError, match="Fargate runs at most 32 vCPU"):
        build(FARGATE, hints=Hints(vcpu=64))


# --- EKS ---------------------------------------------------------------------------------------------


def eks_container(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    containers = kwargs["eksPropertiesOverride"]["podProperties"]["containers"]
    assert isinstance(containers[0], dict)
    return containers[0]


def test_eks_job_has_no_container_overrides() -> None:
    assert "containerOverrides" not in build(EKS, base=REFERENCE_BASE).kwargs


def test_eks_hints_become_kubernetes_limits_and_requests() -> None:
    container = eks_container(build(EKS, hints=Hints(vcpu=2, memory_mib=4096, gpu=1)).kwargs)
    assert container["command"] == COMMAND
    assert container["resources"] == {
        "limits": {"cpu": "2", "memory": "4096Mi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "2", "memory": "4096Mi"},
    }


def test_eks_cpu_is_rounded_up_to_a_quarter_with_a_note() -> None:
    built = build(EKS, hints=Hints(vcpu=1.1))
    assert eks_container(built.kwargs)["resources"]["limits"] == {"cpu": "1.25"}
    assert any("1.1 vCPU rounded up to 1.25" in note for note in built.notes)


def test_eks_environment_from_container_overrides_moves_into_the_container() -> None:
    base = {"containerOverrides": {"command": [], "environment": [{"name": "A", "value": "1"}]}}
    kwargs = build(EKS, base=base).kwargs
    assert env_of(kwargs) == {
        "A": "1",
        "AIRFLOW_IS_EXECUTOR_CONTAINER": "true",
        "BATCH_ROUTER_ROUTE": "eks-general",
    }


def test_eks_resource_requirements_from_shared_settings_become_kubernetes_units() -> None:
    base = {"containerOverrides": {"resourceRequirements": [{"type": "MEMORY", "value": "2048"}]}}
    container = eks_container(build(EKS, base=base, hints=Hints(vcpu=1)).kwargs)
    assert container["resources"]["limits"] == {"memory": "2048Mi", "cpu": "1"}


def test_eks_keeps_the_named_container_and_metadata_of_the_route() -> None:
    route = Route(
        "eks",
        "eks",
        "q",
        "jd",
        submit_job_kwargs={
            "eksPropertiesOverride": {
                "podProperties": {
                    "containers": [{"name": "main", "image": "repo/airflow:2"}],
                    "metadata": {"labels": {"team": "data"}},
                }
            }
        },
    )
    kwargs = build(route, hints=Hints(memory_mib=1024)).kwargs
    container = eks_container(kwargs)
    assert (container["name"], container["image"], container["command"]) == (
        "main",
        "repo/airflow:2",
        COMMAND,
    )
    assert kwargs["eksPropertiesOverride"]["podProperties"]["metadata"] == {"labels": {"team": "data"}}


def test_container_overrides_eks_cannot_take_are_refused() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EKS, exec_kwargs={"containerOverrides": {"instanceType": "m5.large"}})
    assert problem_paths(info.value) == ["containerOverrides.instanceType"]


# --- timeout and validation ------------------------------------------------------------------------


def test_timeout_hint_becomes_attempt_duration_seconds() -> None:
    kwargs = build(
        EC2, hints=Hints(timeout_seconds=3600), base={"timeout": {"attemptDurationSeconds": 60}}
    ).kwargs
    assert kwargs["timeout"] == {"attemptDurationSeconds": 3600}


def test_timeout_under_batch_minimum_is_refused() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs={"timeout": {"attemptDurationSeconds": 10}})
    assert problem_paths(info.value) == ["timeout.attemptDurationSeconds"]


def test_a_bad_type_in_exec_config_is_an_exec_config_error_with_its_path() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs={"retryStrategy": {"attempts": "3"}})
    (problem,) = info.value.problems
    assert problem.path == "retryStrategy.attempts"
    assert problem.message == "expected integer, got str '3'"


def test_a_bad_type_where_the_builder_writes_is_reported_not_crashed_on() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs={"containerOverrides": "big"}, hints=Hints(vcpu=2))
    assert problem_paths(info.value) == ["containerOverrides"]


def test_an_unknown_field_is_an_exec_config_error() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs={"retryStrategy": {"attempt": 3}})
    assert problem_paths(info.value) == ["retryStrategy.attempt"]
    assert "attempts" in (info.value.problems[0].hint or "")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ExecConfigError) as info:
        build(EC2, exec_kwargs={"retryStrategy": {"attempts": "3"}, "propagateTags": "yes"})
    assert sorted(problem_paths(info.value)) == ["propagateTags", "retryStrategy.attempts"]


routes = st.sampled_from([FARGATE, EC2, EKS])
hints = st.builds(
    Hints,
    vcpu=st.none()
    | st.floats(min_value=0.01, max_value=16)
    | st.sampled_from([v for v, _ in FARGATE_COMBINATIONS]),
    memory_mib=st.none() | st.integers(min_value=4, max_value=122880),  # AWS's minimum is 4 MiB
    gpu=st.none() | st.integers(min_value=0, max_value=4),
    timeout_seconds=st.none() | st.integers(min_value=60, max_value=10**6),
)
safe_text = st.text(st.characters(codec="utf-8"), max_size=40)
identities = st.builds(
    TaskIdentity,
    dag_id=safe_text,
    task_id=safe_text,
    run_id=safe_text,
    try_number=st.integers(1, 100),
    map_index=st.integers(-1, 1000),
    try_id=st.none() | safe_text,
)


@settings(max_examples=150, deadline=None)
@given(
    route=routes,
    hints=hints,
    identity=identities,
    user_env=st.dictionaries(st.sampled_from("ABC"), safe_text),
)
def test_every_built_request_passes_botocore_validation(
    route: Route, hints: Hints, identity: TaskIdentity, user_env: dict[str, str]
) -> None:
    assume(not misfits(route, hints) or (route is FARGATE and hints.gpu))  # the router sends only these
    exec_kwargs = {
        "containerOverrides": {"environment": [{"name": k, "value": v} for k, v in user_env.items()]}
    }
    try:
        built = build(route, hints=hints, identity=identity, exec_kwargs=exec_kwargs)
    except ExecConfigError as error:  # only Fargate refuses sizes, and only for a GPU
        assert route is FARGATE and hints.gpu
        assert problem_paths(error) == ["gpu"]
        return
    validate_parameters(built.kwargs, _SUBMIT_JOB)
    assert env_of(built.kwargs)["BATCH_ROUTER_ROUTE"] == route.name
