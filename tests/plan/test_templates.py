from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_router import templates
from batch_router.config.exec_config import parse_exec_config
from batch_router.config.schemas import templates_dir
from batch_router.errors import ExecConfigError
from batch_router.templates import eks, fargate, gpu, template, template_names

# Fargate's valid task sizes (vCPU -> MiB), from the AWS Batch user guide.
FARGATE_MEMORY: dict[float, set[int]] = {
    0.25: {512, 1024, 2048},
    0.5: set(range(1024, 4096 + 1, 1024)),
    1: set(range(2048, 8192 + 1, 1024)),
    2: set(range(4096, 16384 + 1, 1024)),
    4: set(range(8192, 30720 + 1, 1024)),
    8: set(range(16384, 61440 + 1, 4096)),
    16: set(range(32768, 122880 + 1, 8192)),
}


@pytest.fixture
def nested_template(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A template folder holding one template with nested SubmitJob kwargs, to test merging into them."""
    body = {
        "compute": "ec2",
        "vcpu": 2,
        "containerOverrides": {"environment": [{"name": "A", "value": "1"}]},
        "retryStrategy": {"attempts": 2, "evaluateOnExit": [{"onReason": "*", "action": "EXIT"}]},
    }
    (tmp_path / "nested.json").write_text(json.dumps(body), encoding="utf-8")
    monkeypatch.setattr(templates, "templates_dir", lambda: tmp_path)
    templates._load.cache_clear()
    yield "nested"
    templates._load.cache_clear()


def test_the_documented_templates_exist() -> None:
    documented = {
        "gpu-1",
        "gpu-4",
        "gpu-8",
        "fargate-small",
        "fargate-medium",
        "fargate-large",
        "eks-default",
        "ecs-managed-instances-default",
    }
    assert documented <= set(template_names())


def test_the_managed_instances_template_routes_to_a_managed_instances_route() -> None:
    from batch_router.config.model import Route, RouteTable
    from batch_router.plan.router import choose_route
    from batch_router.templates import ecs_managed_instances

    table = RouteTable(
        routes=(
            Route("small", "fargate", "q-f", "jd-f", max_vcpu=4, max_memory_mib=30720),
            Route("managed", "ecs-managed-instances", "q-m", "jd-m"),
        ),
        default_route="small",
    )
    hints = parse_exec_config(ecs_managed_instances(vcpu=4)).hints

    assert choose_route(table, hints, None).route.name == "managed"


def test_template_names_are_sorted() -> None:
    assert template_names() == sorted(template_names())


@pytest.mark.parametrize("name", template_names())
def test_every_template_file_passes_parse_exec_config(name: str) -> None:
    raw = json.loads((templates_dir() / f"{name}.json").read_text(encoding="utf-8"))
    assert parse_exec_config(raw, source=name).hints.compute is not None


@pytest.mark.parametrize("name", template_names())
def test_every_template_is_only_hints(name: str) -> None:
    assert parse_exec_config(template(name)).submit_job_kwargs == {}


@pytest.mark.parametrize("name", [n for n in template_names() if n.startswith("fargate-")])
def test_fargate_templates_are_valid_fargate_sizes(name: str) -> None:
    hints = parse_exec_config(template(name)).hints
    assert hints.compute == "fargate"
    assert hints.vcpu is not None and hints.memory_mib is not None
    assert hints.memory_mib in FARGATE_MEMORY.get(hints.vcpu, set())
    assert not hints.gpu


@pytest.mark.parametrize("count", [1, 4, 8])
def test_gpu_picks_the_template_with_that_many_gpus(count: int) -> None:
    hints = parse_exec_config(gpu(count)).hints
    assert (hints.compute, hints.gpu) == ("ec2", count)


def test_bigger_gpu_templates_ask_for_more_cpu_and_memory() -> None:
    sizes = [(gpu(n)["vcpu"], gpu(n)["memory_mib"]) for n in (1, 4, 8)]
    assert sizes == sorted(sizes)
    assert len(set(sizes)) == 3


def test_gpu_defaults_to_one_gpu() -> None:
    assert gpu() == template("gpu-1")


def test_gpu_with_a_count_between_templates_gets_its_share_of_the_next_larger_one() -> None:
    assert gpu(2) == {**template("gpu-4"), "gpu": 2, "vcpu": 16, "memory_mib": 81920}
    assert gpu(6)["gpu"] == 6 and gpu(6)["vcpu"] == 48


@pytest.mark.parametrize("count", [0, 9])
def test_gpu_beyond_the_templates_lists_the_counts_there_are(count: int) -> None:
    with pytest.raises(ValueError, match=r"gpu count must be 1 to 8, got .*templates for 1, 4, 8"):
        gpu(count)


@pytest.mark.parametrize("count", ["4", 4.0, True])
def test_gpu_count_must_be_an_int(count: Any) -> None:
    with pytest.raises(TypeError):
        gpu(count)


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_fargate_sizes_name_the_fargate_templates(size: str) -> None:
    assert fargate(size) == template(f"fargate-{size}")


def test_fargate_defaults_to_small() -> None:
    assert fargate() == template("fargate-small")


def test_eks_is_the_eks_default_template() -> None:
    assert eks() == template("eks-default")
    assert eks()["compute"] == "eks"


def test_an_unknown_template_name_lists_every_name() -> None:
    with pytest.raises(ValueError) as excinfo:
        template("gpu-3")
    for name in template_names():
        assert name in str(excinfo.value)


def test_an_unknown_fargate_size_is_an_unknown_template() -> None:
    with pytest.raises(ValueError, match="fargate-huge"):
        fargate("huge")


def test_each_call_returns_a_fresh_copy() -> None:
    first = template("gpu-1")
    first["vcpu"] = 999
    first["extra"] = True
    assert template("gpu-1") == json.loads((templates_dir() / "gpu-1.json").read_text(encoding="utf-8"))


def test_hint_overrides_replace_the_templates_values() -> None:
    result = fargate("large", vcpu=8, memory_mib=32768)
    assert (result["vcpu"], result["memory_mib"], result["compute"]) == (8, 32768, "fargate")


def test_none_removes_a_key() -> None:
    assert "memory_mib" not in gpu(1, memory_mib=None)


def test_submit_job_kwargs_can_be_added() -> None:
    result = eks(tags={"team": "ml"})
    assert parse_exec_config(result).submit_job_kwargs == {"tags": {"team": "ml"}}


def test_nested_overrides_merge_into_the_templates_dicts(nested_template: str) -> None:
    result = template(nested_template, retryStrategy={"attempts": 5})
    assert result["retryStrategy"] == {"attempts": 5, "evaluateOnExit": [{"onReason": "*", "action": "EXIT"}]}


def test_lists_in_overrides_replace_the_templates_lists(nested_template: str) -> None:
    result = template(nested_template, containerOverrides={"environment": [{"name": "B", "value": "2"}]})
    assert result["containerOverrides"] == {"environment": [{"name": "B", "value": "2"}]}


def test_none_inside_a_nested_override_removes_that_nested_key(nested_template: str) -> None:
    result = template(nested_template, retryStrategy={"evaluateOnExit": None})
    assert result["retryStrategy"] == {"attempts": 2}


def test_override_values_are_copied_not_shared() -> None:
    environment = [{"name": "A", "value": "1"}]
    result = gpu(1, containerOverrides={"environment": environment})
    environment.append({"name": "B", "value": "2"})
    assert result["containerOverrides"]["environment"] == [{"name": "A", "value": "1"}]


def test_an_invalid_override_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ExecConfigError) as excinfo:
        gpu(4, vcpu=0)
    assert [p.path for p in excinfo.value.problems] == ["vcpu"]
    assert "gpu-4" in excinfo.value.source


def test_a_misspelt_override_gets_a_did_you_mean() -> None:
    with pytest.raises(ExecConfigError) as excinfo:
        fargate(memory=4096)
    assert excinfo.value.problems[0].hint == "did you mean 'memory_mib'?"
