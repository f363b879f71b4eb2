"""Limits on untrusted JSON-like input, checked before anything else reads it.

A DAG author's ``executor_config`` reaches the scheduler as a Python object of any size and shape. A
NaN, an Infinity or an integer too large for a float passes a schema check and breaks later arithmetic;
a very large or very deep value makes validation, copying and error messages cost seconds. One bounded
walk refuses all of these first: it stops as soon as a limit is passed, so its cost never depends on
how large the input is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from batch_router.config.json_tree import json_path
from batch_router.errors import Problem

__all__ = ["MAX_DEPTH", "MAX_EXEC_CONFIG_BYTES", "input_problems"]

# An executor_config larger than the SubmitJob request it is merged into can never be sent: SubmitJob
# takes at most 30 KiB ("Maximum job payload size", AWS Batch service quotas).
MAX_EXEC_CONFIG_BYTES = 30 * 1024
# The deepest SubmitJob field is 7 levels down (eksPropertiesOverride.podProperties.containers[]
# .resources.limits.<name>); anything far deeper is not a SubmitJob override.
MAX_DEPTH = 32


def input_problems(
    value: Any, *, max_bytes: int = MAX_EXEC_CONFIG_BYTES, max_depth: int = MAX_DEPTH
) -> list[Problem]:
    """What makes ``value`` unfit to read further; empty when it is plain, finite, small JSON.

    The size is JSON's (about what ``json.dumps`` would write), counted as the walk goes.
    """
    problems: list[Problem] = []
    size = 0
    stack: list[tuple[list[Any], Any, int]] = [([], value, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > max_depth:
            return [Problem(json_path(path), f"is nested more than {max_depth} levels deep", "flatten it")]
        if isinstance(node, Mapping):
            size += 2
            for key, item in node.items():
                if not isinstance(key, str):
                    problems.append(
                        Problem(
                            json_path(path), f"has a key of type {type(key).__name__}", "use strings as keys"
                        )
                    )
                    continue
                size += len(key) + 4
                if size > max_bytes:
                    break
                stack.append(([*path, key], item, depth + 1))
        elif isinstance(node, list | tuple):
            size += 2
            for index in range(len(node) - 1, -1, -1):
                size += 1
                if size > max_bytes:
                    break
                stack.append(([*path, index], node[index], depth + 1))
        elif isinstance(node, str):
            size += len(node) + 2
        elif node is None or isinstance(node, bool):
            size += 5
        elif isinstance(node, int):
            size += len(str(node)) if abs(node) < 10**40 else 41
            if not _fits_a_float(node):
                problems.append(
                    Problem(json_path(path), "is a number too large for a float", "use a smaller number")
                )
        elif isinstance(node, float):
            size += 24
            if not math.isfinite(node):
                problems.append(
                    Problem(
                        json_path(path), f"is {node!r}, which JSON has no value for", "use a finite number"
                    )
                )
        else:
            problems.append(
                Problem(
                    json_path(path),
                    f"is a {type(node).__name__}, not a JSON value",
                    "use dicts, lists, strings and numbers",
                )
            )
        if size > max_bytes:
            return [
                Problem(
                    "",
                    f"is larger than {max_bytes:,} bytes as JSON",
                    "a SubmitJob request takes at most 30 KiB; keep large data out of executor_config",
                )
            ]
    return problems


def _fits_a_float(number: int) -> bool:
    try:
        float(number)
    except OverflowError:
        return False
    return True
