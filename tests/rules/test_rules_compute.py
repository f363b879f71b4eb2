"""Each compute rule on both sides of its boundary: what AWS documents it accepts passes."""

from __future__ import annotations

from typing import Any

import pytest

from batch_router.rules import Context, check_request


def broken(request: dict[str, Any], compute: str = "fargate", **context: Any) -> set[str]:
    return {v.rule for v in check_request(request, Context(compute=compute, route="r", **context))}  # type: ignore[arg-type]


def sizes(**requirements: str) -> dict[str, Any]:
    return {
        "containerOverrides": {
            "resourceRequirements": [{"type": kind, "value": value} for kind, value in requirements.items()]
        }
    }


@pytest.mark.parametrize(
    ("vcpu", "memory"),
    [("0.25", "512"), ("0.25", "2048"), ("4", "30720"), ("16", "122880"), ("32", "249856"), ("32", "61440")],
)
def test_fargate_accepts_every_pair_it_sells(vcpu: str, memory: str) -> None:
    assert broken(sizes(VCPU=vcpu, MEMORY=memory)) == set()


@pytest.mark.parametrize(
    ("vcpu", "memory"), [("0.25", "4096"), ("0.3", "1024"), ("4", "31744"), ("32", "65536"), ("64", "249856")]
)
def test_fargate_refuses_a_pair_it_does_not_sell(vcpu: str, memory: str) -> None:
    assert broken(sizes(VCPU=vcpu, MEMORY=memory)) == {"fargate-size"}


def test_fargate_checks_a_single_side_against_the_values_it_sells() -> None:
    assert broken(sizes(VCPU="2")) == set()
    assert broken(sizes(VCPU="3")) == {"fargate-size"}
    assert broken(sizes(MEMORY="5120")) == set()
    assert broken(sizes(MEMORY="5000")) == {"fargate-size"}


def test_a_refused_fargate_pair_names_the_smallest_pair_that_holds_it() -> None:
    [violation] = check_request(sizes(VCPU="0.3", MEMORY="600"), Context(compute="fargate", route="r"))
    assert "VCPU 0.5 with MEMORY 1024" in violation.fix


def test_fargate_refuses_gpus_and_legacy_sizes_and_instance_types() -> None:
    assert broken(sizes(GPU="1")) == {"fargate-no-gpu"}
    assert broken({"containerOverrides": {"vcpus": 1}}) == {"fargate-no-legacy-size"}
    assert broken({"containerOverrides": {"memory": 2048}}) == {"fargate-no-legacy-size"}
    assert broken({"containerOverrides": {"instanceType": "m5.large"}}) == {"no-instance-type"}


@pytest.mark.parametrize(
    ("kind", "ok", "bad"), [("VCPU", "1", "0.5"), ("MEMORY", "4", "3"), ("GPU", "2", "1.5")]
)
def test_ec2_sizes_hold_their_documented_minimum_and_units(kind: str, ok: str, bad: str) -> None:
    assert broken(sizes(**{kind: ok}), "ec2") == set()
    assert broken(sizes(**{kind: bad}), "ec2") == {"ec2-size"}


def test_ec2_takes_fractional_vcpus_above_one_since_aws_does_not_say_otherwise() -> None:
    assert broken(sizes(VCPU="1.5"), "ec2") == set()


def test_ec2_legacy_sizes_are_still_accepted() -> None:
    assert broken({"containerOverrides": {"vcpus": 2, "memory": 2048}}, "ec2") == set()


def eks(**resources: Any) -> dict[str, Any]:
    return {"eksPropertiesOverride": {"podProperties": {"containers": [{"resources": resources}]}}}


@pytest.mark.parametrize(
    "resources",
    [
        {"limits": {"cpu": "0.25", "memory": "4Mi"}},
        {"limits": {"cpu": "2", "memory": "4096Mi"}, "requests": {"cpu": "1", "memory": "4096Mi"}},
        {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}},
        {"requests": {"cpu": "500m"}},
    ],
)
def test_eks_accepts_resources_in_its_documented_units(resources: dict[str, Any]) -> None:
    assert broken(eks(**resources), "eks") == set()


@pytest.mark.parametrize(
    "resources",
    [
        {"limits": {"cpu": "0.3"}},
        {"limits": {"memory": "3Mi"}},
        {"limits": {"memory": "4Gi"}},
        {"limits": {"memory": "4096Mi"}, "requests": {"memory": "2048Mi"}},
        {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "2"}},
        {"limits": {"nvidia.com/gpu": "0.5"}},
        {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}},
    ],
)
def test_eks_refuses_resources_outside_its_documented_units(resources: dict[str, Any]) -> None:
    assert broken(eks(**resources), "eks") == {"eks-resources"}


@pytest.mark.parametrize("key", ["containerOverrides", "ecsPropertiesOverride", "propagateTags"])
def test_eks_refuses_ecs_only_fields(key: str) -> None:
    assert broken({key: {} if key != "propagateTags" else True}, "eks") == {"eks-no-ecs-fields"}


def test_ecs_routes_refuse_eks_overrides() -> None:
    assert broken({"eksPropertiesOverride": {}}, "ec2") == {"ecs-no-eks-fields"}


@pytest.mark.parametrize(
    ("namespace", "ok"),
    [
        ("jobs", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("default", False),
        ("kube-jobs", False),
        ("Jobs", False),
        ("-jobs", False),
        ("", False),
    ],
)
def test_eks_namespaces_follow_the_documented_rules(namespace: str, ok: bool) -> None:
    request = {"eksPropertiesOverride": {"podProperties": {"metadata": {"namespace": namespace}}}}
    assert broken(request, "eks") == (set() if ok else {"eks-namespace"})
