"""Which layer set a value of the final request, so an error can say who to ask to fix it.

A path into the merged request is followed in each layer, highest first (the task's exec_config, the
route, the table's defaults, SUBMIT_JOB_KWARGS). List steps are matched the way the merge matched them:
environment variables by name, resource requirements by type, containers by name (or position), so
``containerOverrides.resourceRequirements[1]`` is found in whichever layer gave that type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from batch_router.plan.merge import CONTAINER_LISTS, KEYED_LISTS

__all__ = ["WRITTEN_BY_BATCH_ROUTER", "layer_of"]

WRITTEN_BY_BATCH_ROUTER = "batch-router (from the task's hints)"

Path = Sequence[str | int]


def layer_of(path: Path, final: Mapping[str, Any], layers: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The label of the highest layer that sets ``path``; batch-router itself if none does."""
    if not path:
        return "the whole request"
    for label, layer in reversed(layers):
        if _has(layer, final, path):
            return str(label)
    return WRITTEN_BY_BATCH_ROUTER


def _has(layer: Any, final: Any, path: Path) -> bool:
    node, final_node, parent_key = layer, final, None
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list | tuple) or not isinstance(final_node, list | tuple):
                return False
            if step >= len(final_node):
                return False
            wanted = final_node[step]
            node = _same_element(node, wanted, step, parent_key)
            final_node = wanted
            if node is None:
                return False
        else:
            if not isinstance(node, Mapping) or step not in node:
                return False
            node, final_node, parent_key = node[step], (final_node or {}).get(step), step
    return True


def _same_element(items: Sequence[Any], wanted: Any, index: int, list_key: str | None) -> Any:
    """The element of ``items`` the merge would have merged into ``wanted``, or None."""
    field = KEYED_LISTS.get(list_key or "") or ("name" if list_key in CONTAINER_LISTS else None)
    if field is not None and isinstance(wanted, Mapping) and isinstance(wanted.get(field), str):
        for item in items:
            if isinstance(item, Mapping) and item.get(field) == wanted[field]:
                return item
        if list_key not in CONTAINER_LISTS:
            return None
    return items[index] if index < len(items) else None
