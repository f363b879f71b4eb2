"""The table of compute kinds is the one place a kind's differences live."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import get_args

import pytest

import batch_router
from batch_router.aws.health import compute_problem
from batch_router.config.compute_kinds import (
    ALL_COMPUTE,
    KINDS,
    Compute,
    ComputeKind,
    compute_of_definition,
    kinds_where,
)
from batch_router.config.model import Route

PACKAGE = Path(batch_router.__file__).parent
# Where a kind's name is data, not a branch: the table itself, the DAG-side templates named after
# kinds, the example DAGs, and the dev tools that stand in for AWS.
NOT_BRANCHES = ("config/compute_kinds.py", "templates.py", "examples/", "dev/")


def _names_compared(path: Path) -> list[str]:
    """Kind names the module compares with or keys by: a branch on a kind that belongs in the table."""
    found: list[str] = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Dict):
            operands = [k for k in node.keys if k is not None]
        else:
            continue
        for operand in operands:
            elements = operand.elts if isinstance(operand, ast.Tuple | ast.List | ast.Set) else [operand]
            found += [
                f"{path.relative_to(PACKAGE)}:{operand.lineno} {e.value!r}"
                for e in elements
                if isinstance(e, ast.Constant) and e.value in KINDS
            ]
    return found


def test_no_module_branches_on_a_compute_kinds_name() -> None:
    offenders = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        if not str(path.relative_to(PACKAGE)).startswith(NOT_BRANCHES)
        for line in _names_compared(path)
    ]

    assert offenders == [], "read the kind's field from config.compute_kinds instead"


def test_the_check_finds_a_branch_on_a_kinds_name(tmp_path: Path) -> None:
    probe = PACKAGE / "_compute_probe.py"
    assert not probe.exists()
    probe.write_text('def f(route):\n    return route.compute == "fargate"\n', encoding="utf-8")
    try:
        assert _names_compared(probe)
    finally:
        probe.unlink()


def test_the_table_has_one_entry_for_each_compute_a_route_may_name() -> None:
    assert tuple(KINDS) == get_args(Compute) == ALL_COMPUTE
    schema = json.loads((PACKAGE.parent / "schemas" / "routes.schema.json").read_text())
    enums = _enums_of(schema, "compute")
    assert enums and all(tuple(e) == ALL_COMPUTE for e in enums)


def _enums_of(node: object, key: str) -> list[list[str]]:
    found: list[list[str]] = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, dict) and "enum" in value:
                found.append(value["enum"])
            found += _enums_of(value, key)
    elif isinstance(node, list):
        for value in node:
            found += _enums_of(value, key)
    return found


def test_a_new_kind_must_fill_in_every_field() -> None:
    with pytest.raises(TypeError) as missing:
        ComputeKind(name="next", label="Next", orchestration="ECS")  # type: ignore[call-arg,arg-type]

    for field in (
        "shape",
        "platform_capability",
        "environment_types",
        "spot_by",
        "sizing",
        "gpus",
        "chooses_hosts",
        "instance_types",
        "pod_role",
    ):
        assert field in str(missing.value)


def test_a_new_kind_in_the_table_is_read_by_the_code_that_asks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fifth = dataclasses.replace(
        KINDS["ec2"],
        name="next",
        label="Next",
        environment_types=("NEXT", "NEXT"),  # type: ignore[arg-type]
    )
    monkeypatch.setitem(KINDS, "next", fifth)  # type: ignore[index]
    route = Route("managed", "next", "q", "jd")  # type: ignore[arg-type]
    env = {
        "computeEnvironmentName": "ce",
        "containerOrchestrationType": "ECS",
        "computeResources": {"type": "EC2"},
    }

    assert "next" in kinds_where(pods=False, gpus=True)
    assert "is EC2 on ECS" in str(compute_problem(route, env))
    assert compute_problem(route, {**env, "computeResources": {"type": "NEXT"}}) is None


def test_a_job_definitions_compute_is_read_from_its_orchestration_and_capabilities() -> None:
    assert compute_of_definition({"eksProperties": {"podProperties": {}}}) == "eks"
    assert compute_of_definition({"platformCapabilities": ["FARGATE"]}) == "fargate"
    assert compute_of_definition({"platformCapabilities": ["EC2"]}) == "ec2"
    assert compute_of_definition({}) == "ec2"  # "If no value is specified, it defaults to EC2"
    assert compute_of_definition({"platformCapabilities": ["MANAGED_INSTANCES"]}) == "ecs-managed-instances"


def test_an_ecs_managed_instances_route_runs_on_its_one_environment_type_only() -> None:
    route = Route("mi", "ecs-managed-instances", "q", "jd")
    env = {"computeEnvironmentName": "ce", "containerOrchestrationType": "ECS"}

    assert compute_problem(route, {**env, "computeResources": {"type": "ECS_MANAGED_INSTANCES"}}) is None
    assert "is EC2 on ECS" in str(compute_problem(route, {**env, "computeResources": {"type": "EC2"}}))
