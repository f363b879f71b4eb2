"""Small helpers for walking JSON-like request data (dicts and lists) without trusting its shape.

Validation runs on user input that may be malformed anywhere; these helpers return ``None`` or nothing
instead of raising, leaving the schema to report what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any


def json_path(parts: Iterable[Any]) -> str:
    """``["routes", 2, "compute"]`` -> ``routes[2].compute``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def dig(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any] | None:
    """The mapping at ``data[k1][k2]...``, or None when any step is missing or not a mapping."""
    node: Any = data
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, Mapping) else None


def dict_items(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The mapping entries of a list, with their index; anything else is skipped."""
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                yield index, item
