from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from batch_router.plan.merge import deep_merge

keys = st.sampled_from(["a", "b", "c", "environment", "env", "resourceRequirements", "containers", "tags"])
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
env_entries = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["A", "B", "C", "D"]), "value": st.text(max_size=3)}),
    max_size=4,
)
json_values = st.recursive(
    scalars | env_entries,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=15,
)
layers = st.dictionaries(keys, json_values, max_size=5)


def ids_of_mutables(value: Any) -> set[int]:
    found: set[int] = set()
    if isinstance(value, dict):
        found.add(id(value))
        for item in value.values():
            found |= ids_of_mutables(item)
    elif isinstance(value, list):
        found.add(id(value))
        for item in value:
            found |= ids_of_mutables(item)
    return found


@given(st.lists(layers, max_size=4))
def test_merging_never_mutates_any_layer(inputs: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(inputs)
    deep_merge(*inputs)
    assert inputs == before


@given(st.lists(layers, min_size=1, max_size=4))
def test_result_shares_no_mutable_object_with_any_layer(inputs: list[dict[str, Any]]) -> None:
    result = deep_merge(*inputs)
    shared = ids_of_mutables(result) & set().union(*(ids_of_mutables(layer) for layer in inputs))
    assert not shared


@given(layers, st.text(min_size=1, max_size=5), scalars, scalars)
def test_a_later_layer_always_wins_on_a_scalar(
    base: dict[str, Any], key: str, earlier: Any, later: Any
) -> None:
    result = deep_merge(base, {"x": {key: earlier}}, {"x": {key: later}})
    assert result["x"][key] == later


def test_nested_dicts_merge_recursively() -> None:
    earlier = {"retryStrategy": {"attempts": 2, "evaluateOnExit": []}, "jobQueue": "q1"}
    later = {"retryStrategy": {"attempts": 5}}
    assert deep_merge(earlier, later) == {
        "retryStrategy": {"attempts": 5, "evaluateOnExit": []},
        "jobQueue": "q1",
    }


@given(env_entries, env_entries)
def test_environment_merge_by_name_keeps_every_earlier_name(
    earlier: list[dict[str, str]], later: list[dict[str, str]]
) -> None:
    result = deep_merge(
        {"containerOverrides": {"environment": earlier}}, {"containerOverrides": {"environment": later}}
    )
    names = [entry["name"] for entry in result["containerOverrides"]["environment"]]
    earlier_names = list(dict.fromkeys(entry["name"] for entry in earlier))
    assert names[: len(earlier_names)] == earlier_names
    assert set(names) == {entry["name"] for entry in earlier + later}
    assert len(names) == len(set(names))


@given(env_entries, env_entries)
def test_environment_value_from_the_later_layer_wins(
    earlier: list[dict[str, str]], later: list[dict[str, str]]
) -> None:
    result = deep_merge({"environment": earlier}, {"environment": later})
    values = {entry["name"]: entry["value"] for entry in result["environment"]}
    assert values == {entry["name"]: entry["value"] for entry in earlier + later}


def test_eks_env_merges_by_name() -> None:
    earlier = {
        "containers": [{"name": "main", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]
    }
    later = {"containers": [{"name": "main", "env": [{"name": "B", "value": "3"}]}]}
    result = deep_merge(earlier, later)
    assert result["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]


@given(
    st.dictionaries(st.sampled_from(["VCPU", "MEMORY", "GPU"]), st.integers(1, 64).map(str)),
    st.dictionaries(st.sampled_from(["VCPU", "MEMORY", "GPU"]), st.integers(1, 64).map(str)),
)
def test_resource_requirements_merge_by_type(earlier: dict[str, str], later: dict[str, str]) -> None:
    def as_list(values: dict[str, str]) -> list[dict[str, str]]:
        return [{"type": t, "value": v} for t, v in values.items()]

    result = deep_merge({"resourceRequirements": as_list(earlier)}, {"resourceRequirements": as_list(later)})
    merged = {r["type"]: r["value"] for r in result["resourceRequirements"]}
    assert merged == {**earlier, **later}
    assert len(result["resourceRequirements"]) == len(merged)


def test_containers_with_names_merge_by_name() -> None:
    earlier = {"containers": [{"name": "main", "image": "a"}, {"name": "sidecar", "image": "b"}]}
    later = {"containers": [{"name": "sidecar", "image": "c"}, {"name": "extra"}]}
    assert deep_merge(earlier, later)["containers"] == [
        {"name": "main", "image": "a"},
        {"name": "sidecar", "image": "c"},
        {"name": "extra"},
    ]


def test_containers_without_names_merge_by_position() -> None:
    earlier = {"containers": [{"name": "main", "image": "a"}]}
    later = {"containers": [{"command": ["x"]}, {"image": "second"}]}
    assert deep_merge(earlier, later)["containers"] == [
        {"name": "main", "image": "a", "command": ["x"]},
        {"image": "second"},
    ]


def test_other_lists_are_replaced_by_the_later_layer() -> None:
    earlier = {"dependsOn": [{"jobId": "1"}, {"jobId": "2"}], "containerOverrides": {"command": ["a", "b"]}}
    later = {"dependsOn": [{"jobId": "3"}], "containerOverrides": {"command": []}}
    assert deep_merge(earlier, later) == later


def test_tags_merge_by_key() -> None:
    result = deep_merge({"tags": {"team": "data", "cost": "1"}}, {"tags": {"cost": "2", "owner": "me"}})
    assert result["tags"] == {"team": "data", "cost": "2", "owner": "me"}


def test_environment_with_entries_that_are_not_named_is_replaced() -> None:
    earlier = {"environment": [{"name": "A", "value": "1"}]}
    later = {"environment": ["not-a-dict"]}
    assert deep_merge(earlier, later) == later


def test_a_dict_replaces_a_scalar_and_a_scalar_replaces_a_dict() -> None:
    assert deep_merge({"x": 1}, {"x": {"y": 2}}) == {"x": {"y": 2}}
    assert deep_merge({"x": {"y": 2}}, {"x": None}) == {"x": None}


def test_read_only_mappings_and_tuples_become_plain_dicts_and_lists() -> None:
    frozen = MappingProxyType({"tags": MappingProxyType({"a": "1"}), "dependsOn": ({"jobId": "1"},)})
    result = deep_merge(frozen)
    assert result == {"tags": {"a": "1"}, "dependsOn": [{"jobId": "1"}]}
    assert type(result["tags"]) is dict
    assert type(result["dependsOn"]) is list


def test_no_layers_merge_to_an_empty_dict() -> None:
    assert deep_merge() == {}
