"""Deep merge of SubmitJob kwargs layers, the way a person reading the layers would expect.

The reference executor applies ``dict.update`` to every nested dict, which replaces whole lists: an
``environment`` entry in a task's exec_config would wipe out every variable set in SUBMIT_JOB_KWARGS.
Here lists that are really keyed collections (environment variables by ``name``, resource requirements
by ``type``, EKS containers by ``name``) merge element by element, and only plain lists are replaced.

Layers are never mutated and the result shares nothing mutable with them, so one route's request can
never leak into the next task's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# List keys whose elements are identified by a field, so a later layer updates rather than replaces.
KEYED_LISTS: dict[str, str] = {
    "environment": "name",  # containerOverrides.environment (EC2 / Fargate / ECS properties)
    "env": "name",  # eksPropertiesOverride.podProperties.containers[].env
    "resourceRequirements": "type",
}
# Lists of containers: by name when every element has one, else position by position.
CONTAINER_LISTS = frozenset({"containers", "initContainers"})
# The seed's merge (no route table): the reference's recursive update, which replaces every list, but
# for environment variables, merged by name (the one documented difference, docs/migrating.md): a
# task's variable never wipes out the ones SUBMIT_JOB_KWARGS set, and the request keeps every variable
# the reference would send.
SEED_KEYED_LISTS: dict[str, str] = {"environment": "name", "env": "name"}


def deep_merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``layers`` left to right; later layers win on scalars and plain lists."""
    result: dict[str, Any] = {}
    for layer in layers:
        result = _merge_mappings(result, layer)
    return result


def seed_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` over ``base`` as AwsBatchExecutor merges executor_config over SUBMIT_JOB_KWARGS
    (``airflow.utils.helpers.merge_dicts``: dicts recursively, anything else replaced), environment
    lists by variable name."""
    return _merge_mappings(base, update, keyed=SEED_KEYED_LISTS, containers=frozenset())


def plain_copy(value: Any) -> Any:
    """A deep copy with every mapping as a ``dict`` and every list or tuple as a ``list``.

    ``copy.deepcopy`` cannot copy a ``MappingProxyType``, which frozen route objects may hold.
    """
    if isinstance(value, Mapping):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_copy(v) for v in value]
    return copy.deepcopy(value)


def _merge_mappings(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    keyed: Mapping[str, str] = KEYED_LISTS,
    containers: frozenset[str] = CONTAINER_LISTS,
) -> dict[str, Any]:
    merged: dict[str, Any] = {k: plain_copy(v) for k, v in old.items()}
    for key, value in new.items():
        merged[key] = (
            _merge_value(key, merged[key], value, keyed, containers) if key in merged else plain_copy(value)
        )
    return merged


def _merge_value(key: Any, old: Any, new: Any, keyed: Mapping[str, str], containers: frozenset[str]) -> Any:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return _merge_mappings(old, new, keyed=keyed, containers=containers)
    if _is_list(old) and _is_list(new):
        field = keyed.get(key) if isinstance(key, str) else None
        if field is not None and _all_keyed(old, field) and _all_keyed(new, field):
            return _merge_by(old, new, lambda item: item[field])
        if key in containers:
            if _all_keyed(old, "name") and _all_keyed(new, "name"):
                return _merge_by(old, new, lambda item: item["name"])
            return _merge_by_index(old, new)
    return plain_copy(new)


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _all_keyed(items: Sequence[Any], field: str) -> bool:
    return all(isinstance(item, Mapping) and isinstance(item.get(field), str) for item in items)


def _merge_by(
    old: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], str],
) -> list[Any]:
    """Earlier elements keep their place; a later element with the same key is merged into it."""
    merged: list[Any] = []
    position: dict[str, int] = {}
    for item in (*old, *new):
        k = key(item)
        if k in position:
            merged[position[k]] = _merge_mappings(merged[position[k]], item)
        else:
            position[k] = len(merged)
            merged.append(plain_copy(item))
    return merged


def _merge_by_index(old: Sequence[Any], new: Sequence[Any]) -> list[Any]:
    merged = [plain_copy(item) for item in old]
    for i, item in enumerate(new):
        if i < len(merged) and isinstance(merged[i], Mapping) and isinstance(item, Mapping):
            merged[i] = _merge_mappings(merged[i], item)
        elif i < len(merged):
            merged[i] = plain_copy(item)
        else:
            merged.append(plain_copy(item))
    return merged
