"""What a route pins stays pinned (issue 24, part 1): every value the platform's layers set, the EKS
namespace and identity metadata, environment entries' names, resource types given once, and the caps
over the whole job and every accelerator."""

from __future__ import annotations

from typing import Any

import pytest
from policy_kit import PolicyKit

from batch_router.errors import ConfigError
from batch_router.plan.planner import Plan

PINNED = {
    "timeout": {"attemptDurationSeconds": 3600},
    "retryStrategy": {"attempts": 1},
    "parameters": {"licence": "team-a"},
    "consumableResourcePropertiesOverride": {
        "consumableResourceList": [{"consumableResource": "licence-a", "quantity": 1}]
    },
}
TABLE: dict[str, Any] = {
    "version": 1,
    "routes": [
        {"name": "ec2", "compute": "ec2", "job_queue": "q-ec2", "job_definition": "jd-ec2", "max_vcpu": 8,
         "max_memory_mib": 16384, "max_gpu": 2, "submit_job_kwargs": PINNED},
        {"name": "eks", "compute": "eks", "job_queue": "q-eks", "job_definition": "jd-eks", "max_vcpu": 4,
         "max_memory_mib": 8192, "max_gpu": 1, "submit_job_kwargs": {
             "eksPropertiesOverride": {"podProperties": {"metadata": {"labels": {"team": "a"}}}}}},
    ],
}  # fmt: skip


KIT = PolicyKit(TABLE)
plan_with, build, refusal = KIT.plan_with, KIT.build, KIT.refusal


def pod(**pod_properties: Any) -> dict[str, Any]:
    return {"route": "eks", "eksPropertiesOverride": {"podProperties": pod_properties}}


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"timeout": {"attemptDurationSeconds": 1209600}}, "timeout.attemptDurationSeconds"),
        ({"retryStrategy": {"attempts": 10}}, "retryStrategy.attempts"),
        ({"parameters": {"licence": "team-b"}}, "parameters.licence"),
        (
            {"consumableResourcePropertiesOverride": {"consumableResourceList": [
                {"consumableResource": "licence-b", "quantity": 1}]}},
            "consumableResourcePropertiesOverride.consumableResourceList",
        ),
    ],
)  # fmt: skip
def test_a_value_the_route_pins_cannot_be_changed(change: dict[str, Any], path: str) -> None:
    text = refusal({"route": "ec2", **change})

    assert f"{path}: overrides {path} set by the platform" in text


def test_what_the_route_left_unset_may_be_added() -> None:
    built = build({"route": "ec2", "parameters": {"input": "s3://bucket/key"}})

    assert built.kwargs["parameters"] == {"licence": "team-a", "input": "s3://bucket/key"}


def test_overridable_opens_a_pinned_argument() -> None:
    built = build(
        {"route": "ec2", "timeout": {"attemptDurationSeconds": 7200}}, plan_with(overridable=["timeout"])
    )

    assert built.kwargs["timeout"] == {"attemptDurationSeconds": 7200}


def test_a_misspelt_overridable_entry_stops_start_up_with_a_did_you_mean() -> None:
    with pytest.raises(
        ConfigError, match=r"policy.overridable\[0\]: 'timout' is neither.*did you mean 'timeout'"
    ):
        plan_with(overridable=["timout"])


def test_the_eks_namespace_is_refused_even_where_the_route_pins_none() -> None:
    text = refusal(pod(metadata={"namespace": "kube-admin-team"}))

    assert "sets the pod's namespace, which picks its service account and IAM role" in text


def test_a_dotted_path_in_overridable_opens_the_namespace() -> None:
    plan = plan_with(overridable=["eksPropertiesOverride.podProperties.metadata.namespace"])

    built = build(pod(metadata={"namespace": "team-b"}), plan)

    assert built.kwargs["eksPropertiesOverride"]["podProperties"]["metadata"]["namespace"] == "team-b"


def test_a_label_the_platform_set_cannot_be_changed_but_one_may_be_added() -> None:
    assert "overrides eksPropertiesOverride.podProperties.metadata.labels.team" in refusal(
        pod(metadata={"labels": {"team": "b"}})
    )
    build(pod(metadata={"labels": {"step": "train"}}))


@pytest.mark.parametrize("kind", ["labels", "annotations"])
def test_metadata_that_steers_identity_or_network_is_refused(kind: str) -> None:
    text = refusal(pod(metadata={kind: {"iam.amazonaws.com/role": "arn:aws:iam::1:role/admin"}}))

    assert "steers the pod's identity or network" in text


@pytest.mark.parametrize("name", ["PYTHONWARNINGS=all:", "1ST", "A-B", ""])
def test_an_environment_entry_must_be_named_like_a_variable(name: str) -> None:
    text = refusal({"route": "ec2", "containerOverrides": {"environment": [{"name": name, "value": "x"}]}})

    assert "is not an environment variable name" in text


def test_an_environment_entry_without_a_name_is_refused_rather_than_replacing_the_list() -> None:
    text = refusal({"route": "ec2", "containerOverrides": {"environment": [{"value": "x"}]}})

    assert "an environment entry without a name" in text


def test_a_resource_type_given_twice_is_refused() -> None:
    twice = [{"type": "GPU", "value": "8"}, {"type": "GPU", "value": "0"}]

    assert "gives GPU a second time" in refusal(
        {"route": "ec2", "containerOverrides": {"resourceRequirements": twice}}
    )


def test_the_caps_hold_for_all_the_containers_of_an_ecs_task_together() -> None:
    container = {"name": "c", "resourceRequirements": [{"type": "VCPU", "value": "5"}]}
    task = {
        "ecsPropertiesOverride": {"taskProperties": [{"containers": [container, {**container, "name": "d"}]}]}
    }

    text = refusal({"route": "ec2", **task})

    assert "asks for 10 vCPU in all (2 containers); route 'ec2' allows at most 8" in text


def test_the_caps_hold_for_all_the_containers_of_a_pod_together() -> None:
    container = {"name": "a", "resources": {"limits": {"cpu": "3"}}}

    text = refusal(pod(containers=[container, {**container, "name": "b"}]))

    assert "asks for 6 vCPU in all (2 containers); route 'eks' allows at most 4" in text


@pytest.mark.parametrize("accelerator", ["amd.com/gpu", "aws.amazon.com/neuron"])
def test_every_accelerator_counts_against_max_gpu(accelerator: str) -> None:
    text = refusal(pod(containers=[{"resources": {"limits": {accelerator: "2"}}}]))

    assert "asks for 2 GPU; route 'eks' allows at most 1" in text


def test_hugepages_count_against_max_memory() -> None:
    limits = {"memory": "6144Mi", "hugepages-2Mi": "4Gi"}

    assert "asks for 10240 MiB; route 'eks' allows at most 8192" in refusal(
        pod(containers=[{"resources": {"limits": limits}}])
    )


def test_ephemeral_storage_is_refused_unless_opened() -> None:
    storage = pod(containers=[{"resources": {"limits": {"ephemeral-storage": "500Gi"}}}])

    assert "asks for 'ephemeral-storage', which no cap of the route bounds" in refusal(storage)
    build(storage, plan_with(overridable=["eksPropertiesOverride.podProperties.containers.resources"]))


def test_without_a_route_table_none_of_this_applies() -> None:
    from batch_router.config.settings import MappingConf, load_settings

    plan = Plan.from_settings(
        load_settings(MappingConf({"job_queue": "q", "job_definition": "jd", "compute": "eks"}))
    )

    built = build({"eksPropertiesOverride": {"podProperties": {"metadata": {"namespace": "team-b"}}}}, plan)

    assert built.kwargs["eksPropertiesOverride"]["podProperties"]["metadata"]["namespace"] == "team-b"
