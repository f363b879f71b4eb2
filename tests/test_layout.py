"""The package layout stays true: rooms import only the rooms before them, and no module grows past its job.

Imports are read from the source with ``ast`` (every import, also those inside functions and under
``TYPE_CHECKING``), so a rule is broken the moment the line is written, not only when it runs.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "batch_router"

# Each room and the rooms it may import (besides itself). The pipeline runs config -> rules -> plan ->
# aws -> executor; dev tools and provisioning stand beside it and never reach into the executor; the CLI
# may use everything.
ALLOWED: dict[str, frozenset[str]] = {
    # Every reach into a dependency's private parts, one module per dependency; open to every room.
    "compat": frozenset(),
    "errors": frozenset(),
    "config": frozenset({"errors"}),
    "templates": frozenset({"errors", "config"}),
    "rules": frozenset({"errors", "config"}),
    "plan": frozenset({"errors", "config", "rules"}),
    "aws": frozenset({"errors", "config", "rules", "plan"}),
    "executor": frozenset({"errors", "config", "rules", "plan", "aws", "provider_info"}),
    "examples": frozenset({"templates"}),
    "dev": frozenset({"errors", "config", "rules", "plan", "aws", "examples", "provision", "ui"}),
    # From a route table to AWS resources and IAM: pure, beside the pipeline (nothing on it imports it).
    "provision": frozenset({"errors", "config", "plan"}),
    # The Batch routes page in Airflow's UI: read-only, served by the API server; never the executor.
    "ui": frozenset({"errors", "config", "rules", "plan", "aws"}),
    # What Airflow's provider machinery reads of batch-router, and which options set nobody reads.
    "provider_info": frozenset({"errors", "config"}),
    "cli": frozenset(
        {
            "errors",
            "config",
            "rules",
            "plan",
            "aws",
            "examples",
            "dev",
            "templates",
            "provider_info",
            "provision",
        }
    ),
}
ALLOWED = {room: rooms | {"compat"} if room != "compat" else rooms for room, rooms in ALLOWED.items()}
# The executor's parts in the order they are built on: each imports only parts before it (the values and
# bookkeeping first, then the channel and hub, the threads' work, the parts, and Airflow's side last).
EXECUTOR_ORDER = (
    "workloads",
    "metrics",
    "heap_freeze",
    "task_notes",
    "try_record",
    "tracker",
    "belief",
    "outcomes",
    "channel",
    "planning",
    "calls",
    "hub",
    "guard",
    "adoption",
    "submitting",
    "intake",
    "job_events",
    "polling",
    "core",
)
# Rooms that must stay pure: no AWS SDK client code (botocore's model and validator are data) and no
# Airflow executor, model or hook machinery.
PURE_ROOMS = ("errors", "config", "templates", "rules", "plan", "provision")
IMPURE_PREFIXES = ("boto3", "airflow.executors", "airflow.models", "airflow.providers", "moto")
# Only these make boto3 clients: the AWS room, and the local Batch (a stand-in for AWS).
BOTO3_ROOMS = ("aws", "dev")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "examples" not in p.parts or p.name == "__init__.py")


def imported(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, absolute (``from . import x`` is resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def room_of(module: str) -> str | None:
    """``batch_router.plan.router`` -> ``plan``; None for anything outside the package."""
    parts = module.split(".")
    if parts[0] != "batch_router" or len(parts) < 2:
        return None
    return parts[1]


def broken_rules(path: Path) -> list[str]:
    room = room_of(module_name(path))
    if room is None:  # batch_router/__init__.py
        return []
    allowed = ALLOWED[room] | {room}
    found = []
    for target in imported(path):
        target_room = room_of(target)
        if target_room is not None and target_room in ALLOWED and target_room not in allowed:
            found.append(f"{module_name(path)} imports {target} ({room} may import {sorted(allowed)})")
    return found


def test_every_room_of_the_package_has_a_rule() -> None:
    rooms = {room_of(module_name(p)) for p in PACKAGE.glob("*")} - {None}
    rooms = {r for r in rooms if r and not r.startswith("_") and r != "py"}

    assert rooms <= set(ALLOWED), f"add an import rule for {sorted(rooms - set(ALLOWED))}"


def test_each_room_imports_only_the_rooms_before_it() -> None:
    broken = [line for path in modules() for line in broken_rules(path)]

    assert broken == []


def test_the_rule_check_catches_an_executor_import_from_the_plan_room() -> None:
    bad = PACKAGE / "plan" / "_layout_probe.py"
    text = "from batch_router.executor.core import BatchRouterExecutor\n"

    assert [r for r in _rules_for_text(bad, text) if "executor" in r]


def _rules_for_text(path: Path, text: str) -> list[str]:
    original = path.exists()
    assert not original, f"{path} exists; the probe would overwrite it"
    path.write_text(text, encoding="utf-8")
    try:
        return broken_rules(path)
    finally:
        path.unlink()


@pytest.mark.parametrize("room", PURE_ROOMS)
def test_the_pure_rooms_import_no_aws_client_and_no_airflow_machinery(room: str) -> None:
    paths = (
        [PACKAGE / f"{room}.py"]
        if (PACKAGE / f"{room}.py").exists()
        else sorted((PACKAGE / room).rglob("*.py"))
    )
    impure = [
        f"{module_name(p)} imports {target}"
        for p in paths
        for target in imported(p)
        if target.startswith(IMPURE_PREFIXES)
    ]

    assert impure == []


def test_only_the_aws_room_and_the_local_batch_import_boto3() -> None:
    importers = {
        module_name(p) for p in modules() if any(t == "boto3" or t.startswith("boto3.") for t in imported(p))
    }

    assert {room_of(m) for m in importers} <= set(BOTO3_ROOMS)
    assert {m for m in importers if room_of(m) == "dev"} <= {
        m for m in importers if m.startswith("batch_router.dev.local.")
    }


def dependencies(path: Path, names: set[str]) -> set[str]:
    """The package's modules ``path`` needs: ``from pkg import sub`` needs ``pkg.sub`` when it is a
    module (Python imports it by itself), else ``pkg``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in names else node.module)
    return (found & names) - {module_name(path)}


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    names = {module_name(p) for p in modules()}
    graph = {module_name(p): dependencies(p, names) for p in modules()}
    cycles = []
    for start in graph:
        seen: set[str] = set()
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join([*trail, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))

    assert cycles == []


def test_no_module_is_longer_than_one_job_needs() -> None:
    long = {module_name(p): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}

    assert long == {}


@pytest.mark.parametrize("room", ["config", "plan", "aws", "executor", "dev"])
def test_each_room_says_what_it_is_for_and_exports_its_public_names(room: str) -> None:
    package = importlib.import_module(f"batch_router.{room}")

    assert (package.__doc__ or "").strip(), f"batch_router/{room}/__init__.py needs a docstring"
    assert package.__all__, f"batch_router/{room}/__init__.py needs __all__"
    for name in package.__all__:
        assert getattr(package, name, None) is not None or importlib.import_module(
            f"batch_router.{room}.{name}"
        ), name


def test_the_public_entry_points_keep_working() -> None:
    from batch_router import templates
    from batch_router.cli import main
    from batch_router.executor import BatchRouterExecutor

    assert BatchRouterExecutor.__module__.startswith("batch_router.executor")
    assert callable(templates.gpu) and callable(main)


def test_the_architecture_page_states_the_import_rules_this_test_keeps() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    stated: dict[str, frozenset[str]] = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`") and cells[0].count("`") == 2:
            room = cells[0].strip("`")
            names = frozenset(part.split("`")[1] for part in cells[1].split(",") if "`" in part)
            stated[room] = names | {"compat"} if room != "compat" else names
    assert stated == ALLOWED


def test_the_executors_parts_import_only_parts_built_before_them() -> None:
    executor = PACKAGE / "executor"
    names = {p.stem for p in executor.glob("*.py")} - {"__init__"}
    assert names == set(EXECUTOR_ORDER), "place each executor module in EXECUTOR_ORDER"
    late = []
    for position, name in enumerate(EXECUTOR_ORDER):
        for target in imported(executor / f"{name}.py"):
            parts = target.split(".")
            part = parts[2] if parts[:2] == ["batch_router", "executor"] and len(parts) > 2 else None
            if part in names and EXECUTOR_ORDER.index(part) > position:
                late.append(f"executor.{name} imports executor.{part}, built after it")
    assert late == []


def test_only_the_executor_imports_airflows_executor_classes_and_its_compatibility_module() -> None:
    def reaches(target: str) -> bool:
        executor_classes = target.startswith("airflow.executors") and not target.startswith(
            "airflow.executors.workloads"
        )
        return executor_classes or target.startswith("batch_router.compat.airflow")

    importers = {room_of(module_name(p)) for p in modules() if any(reaches(t) for t in imported(p))}

    assert importers <= {"executor", "compat"}
