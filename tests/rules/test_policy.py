"""DAG authors stay inside the platform's choices: the policy's defaults, and each switch."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policy_kit import PolicyKit

from batch_router.config.routes import parse_route_table
from batch_router.errors import ConfigError

TABLE: dict[str, Any] = {
    "version": 1,
    "defaults": {
        "submit_job_kwargs": {
            "tags": {"team": "platform"},
            "shareIdentifier": "platform",
            "containerOverrides": {"environment": [{"name": "STAGE", "value": "prod"}]},
        }
    },
    "routes": [
        {"name": "ec2", "compute": "ec2", "job_queue": "q-ec2", "job_definition": "jd-ec2", "max_vcpu": 8,
         "max_memory_mib": 16384, "max_gpu": 1},
        {"name": "eks", "compute": "eks", "job_queue": "q-eks", "job_definition": "jd-eks", "max_vcpu": 4,
         "max_memory_mib": 8192},
    ],
}  # fmt: skip


KIT = PolicyKit(TABLE)
plan_with, build, refusal = KIT.plan_with, KIT.build, KIT.refusal


@pytest.mark.parametrize("key", ["jobQueue", "jobDefinition"])
def test_executor_config_may_not_send_the_job_elsewhere_by_default(key: str) -> None:
    text = refusal({key: "somewhere-else"})
    assert f"executor_config may not set {key}" in text
    assert "executor_config={'route': NAME}" in text


def test_the_policy_can_allow_another_job_queue() -> None:
    plan = plan_with(executor_config_keys=["jobQueue", "containerOverrides"])
    assert build({"jobQueue": "q-other"}, plan).kwargs["jobQueue"] == "q-other"


def test_the_policy_s_key_list_is_exact() -> None:
    plan = plan_with(executor_config_keys=["containerOverrides"])
    assert "may not set retryStrategy" in refusal({"retryStrategy": {"attempts": 2}}, plan)


def test_a_misspelt_key_in_the_policy_stops_start_up_with_a_did_you_mean() -> None:
    with pytest.raises(ConfigError, match="did you mean 'jobQueue'"):
        plan_with(executor_config_keys=["jobQeue"])


def test_a_platform_tag_cannot_be_overridden_but_a_new_tag_can_be_added() -> None:
    assert "overrides tag 'team'" in refusal({"tags": {"team": "mine"}})
    assert build({"tags": {"owner": "me"}}).kwargs["tags"]["owner"] == "me"


def test_the_policy_can_let_tags_be_overridden() -> None:
    plan = plan_with(overridable=["tags"])
    assert build({"tags": {"team": "mine"}}, plan).kwargs["tags"]["team"] == "mine"


def test_a_platform_share_identifier_cannot_be_overridden() -> None:
    assert "overrides shareIdentifier" in refusal({"shareIdentifier": "mine"})


def test_a_platform_environment_variable_cannot_be_overridden_but_a_new_one_can_be_added() -> None:
    assert "overrides environment variable 'STAGE'" in refusal(
        {"containerOverrides": {"environment": [{"name": "STAGE", "value": "dev"}]}}
    )
    built = build({"containerOverrides": {"environment": [{"name": "MINE", "value": "1"}]}})
    assert {"name": "MINE", "value": "1"} in built.kwargs["containerOverrides"]["environment"]


@pytest.mark.parametrize(
    "name", ["PYTHONSTARTUP", "PYTHONPATH", "PYTHONWARNINGS", "BROWSER", "LD_PRELOAD", "BASH_ENV",
             "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AWS_ENDPOINT_URL"],
)  # fmt: skip
def test_variables_that_run_code_at_start_up_are_refused_from_executor_config(name: str) -> None:
    text = refusal({"containerOverrides": {"environment": [{"name": name, "value": "x"}]}})
    assert f"sets {name!r}, which can run code" in text


def test_the_policy_can_allow_a_start_up_variable_by_name_or_prefix() -> None:
    plan = plan_with(executor_config_env=["PYTHONWARNINGS", "AIRFLOW__LOGGING__*"])
    for name in ("PYTHONWARNINGS", "AIRFLOW__LOGGING__LOGGING_LEVEL"):
        build({"containerOverrides": {"environment": [{"name": name, "value": "x"}]}}, plan)
    assert "PYTHONPATH" in refusal({"containerOverrides": {"environment": [{"name": "PYTHONPATH"}]}}, plan)


def test_raw_sizes_above_the_route_caps_are_refused() -> None:
    requirement = {"type": "VCPU", "value": "16"}
    text = refusal({"route": "ec2", "containerOverrides": {"resourceRequirements": [requirement]}})
    assert "asks for 16 vCPU; route 'ec2' allows at most 8" in text


def test_raw_sizes_at_the_route_caps_are_accepted() -> None:
    requirement = {"type": "MEMORY", "value": "16384"}
    build({"route": "ec2", "containerOverrides": {"resourceRequirements": [requirement]}})


def test_eks_limits_above_the_route_caps_are_refused() -> None:
    container = {"resources": {"limits": {"memory": "16384Mi"}}}
    text = refusal({"route": "eks", "eksPropertiesOverride": {"podProperties": {"containers": [container]}}})
    assert "asks for 16384 MiB; route 'eks' allows at most 8192" in text


def test_the_eks_image_and_init_containers_are_the_platform_s_unless_opened() -> None:
    image = {"eksPropertiesOverride": {"podProperties": {"containers": [{"image": "evil:latest"}]}}}
    init = {"eksPropertiesOverride": {"podProperties": {"initContainers": [{"name": "setup"}]}}}
    assert "sets the container image" in refusal({"route": "eks", **image})
    assert "init container" in refusal({"route": "eks", **init})
    build({"route": "eks", **image}, plan_with(overridable=["image"]))


@pytest.mark.parametrize(("timeout", "ok"), [(3600, True), (3601, False)])
def test_a_timeout_beyond_the_route_maximum_is_refused(timeout: int, ok: bool) -> None:
    plan = plan_with(max_timeout_seconds=3600)
    for config in ({"timeout_seconds": timeout}, {"timeout": {"attemptDurationSeconds": timeout}}):
        if ok:
            build(config, plan)
        else:
            assert "allows at most 3600s" in refusal(config, plan)


@pytest.mark.parametrize(("priority", "ok"), [(50, True), (51, False)])
def test_a_priority_beyond_the_route_maximum_is_refused(priority: int, ok: bool) -> None:
    plan = plan_with(max_scheduling_priority=50)
    if ok:
        build({"schedulingPriorityOverride": priority}, plan)
    else:
        assert "allows at most 50" in refusal({"schedulingPriorityOverride": priority}, plan)


def test_a_route_s_policy_replaces_the_table_wide_fields_it_gives() -> None:
    data = copy.deepcopy(TABLE)
    data["policy"] = {"overridable": ["tags"], "max_timeout_seconds": 600}
    data["routes"][0]["policy"] = {"overridable": []}
    table = parse_route_table(data, "routes.yaml")
    ec2, eks = table.routes
    assert ec2.policy.overridable == frozenset() and ec2.policy.max_timeout_seconds == 600
    assert eks.policy.overridable == {"tags"}
