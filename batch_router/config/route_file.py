"""Reading a route file's text into plain data, within bounds a scheduler can afford at start-up.

A route file is trusted (the platform team writes it), but a mistake in it must not take the scheduler
down: a file far larger than any route table would take minutes to check, and YAML aliases can make a
few hundred bytes stand for billions of nodes (the "billion laughs"), which every later walk (the
schema check, the copy into routes) would expand until memory runs out. So the file's size is capped,
and aliases are allowed (anchors keep large tables short) only while the nodes they stand for stay
within a budget, counted on the composed document, before anything expands them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from batch_router.errors import ConfigError, Problem

__all__ = ["MAX_ALIASED_NODES", "MAX_ROUTE_FILE_BYTES", "read_route_data"]

# 10,000 routes of a few hundred bytes each take about 3 MiB.
MAX_ROUTE_FILE_BYTES = 16 * 1024 * 1024
# Nodes aliases may add, in all: ample for anchors shared by 10,000 routes, far below what exhausts memory.
MAX_ALIASED_NODES = 1_000_000


# libyaml's parser when PyYAML was built with it (its wheels are): 10,000 routes compose in a fraction of a
# second instead of about 20 s in pure Python.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _expanded_sizes(root: yaml.Node) -> tuple[int, int]:
    """(nodes once every alias is expanded, distinct nodes). An alias is the same node object composed
    twice, so each distinct node is sized once and the count costs what the file holds, not what it
    would expand to."""
    sizes: dict[int, int] = {}
    # Depth-first without recursion: a node is sized once all of its children are.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if children_done or not children:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)], len(sizes)


def _load_yaml(text: str) -> Any:
    node = yaml.compose(text, Loader=_Loader)
    if node is None:
        return None
    if "&" in text:  # without an anchor there is no alias, and nothing to count
        expanded, distinct = _expanded_sizes(node)
        if expanded - distinct > MAX_ALIASED_NODES:
            raise _TooManyAliased(expanded)
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _TooManyAliased(Exception):
    def __init__(self, expanded: int):
        self.expanded = expanded


def read_route_data(path: Path) -> Any:
    """The file's data, or ConfigError naming the file and what to change."""
    source = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_ROUTE_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            source, [Problem("", "file not found", "check ROUTES_FILE; relative paths are from the cwd")]
        ) from None
    except OSError as exc:
        raise ConfigError(source, [Problem("", f"cannot be read: {exc.strerror}")]) from None
    if len(raw) > MAX_ROUTE_FILE_BYTES:
        limit = MAX_ROUTE_FILE_BYTES // (1024 * 1024)
        raise ConfigError(
            source,
            [
                Problem(
                    "", f"larger than {limit} MiB", "a route table is a few MiB at most; is this the file?"
                )
            ],
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [Problem("", f"not UTF-8 text (byte {exc.start})")]) from None
    return parse_text(text, source, path.suffix.lower())


def parse_text(text: str, source: str, suffix: str) -> Any:
    try:
        return _parse(text, source, suffix)
    except RecursionError:  # a parser walking a document nested thousands deep
        raise ConfigError(
            source, [Problem("", "nested too deeply to read", "a route table is a few levels deep")]
        ) from None


def _parse(text: str, source: str, suffix: str) -> Any:
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                source, [Problem("", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
            ) from None
    try:
        return _load_yaml(text)
    except _TooManyAliased as exc:
        raise ConfigError(
            source,
            [
                Problem(
                    "",
                    f"its YAML aliases expand to {exc.expanded:,} nodes, more than {MAX_ALIASED_NODES:,} "
                    "beyond what the file holds",
                    "use anchors for shared blocks, not nested inside each other",
                )
            ],
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [Problem("", f"not valid YAML: {reason}{where}")]) from None
