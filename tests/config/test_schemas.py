from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from batch_router.config import schemas
from batch_router.config.schemas import (
    SchemaNotFoundError,
    load_schema,
    schema_dir,
    schema_path,
    templates_dir,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def candidates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Point the lookup at a fake installed-wheel folder and a fake checkout folder, neither created."""
    installed, checkout = tmp_path / "pkg" / "_schemas", tmp_path / "schemas"
    monkeypatch.setattr(schemas, "_CANDIDATES", (installed, checkout))
    schemas._load_cached.cache_clear()
    yield installed, checkout
    schemas._load_cached.cache_clear()


def test_a_source_checkout_finds_the_repository_schemas_folder() -> None:
    assert schema_dir() == REPO / "schemas"


def test_the_installed_wheel_folder_wins_when_both_exist(candidates: tuple[Path, Path]) -> None:
    installed, checkout = candidates
    installed.mkdir(parents=True)
    checkout.mkdir()
    assert schema_dir() == installed


def test_the_checkout_folder_is_used_when_no_wheel_folder_exists(candidates: tuple[Path, Path]) -> None:
    _, checkout = candidates
    checkout.mkdir()
    assert schema_dir() == checkout


def test_a_missing_schema_folder_says_where_it_looked(candidates: tuple[Path, Path]) -> None:
    installed, checkout = candidates
    with pytest.raises(SchemaNotFoundError) as excinfo:
        schema_dir()
    assert str(installed) in str(excinfo.value)
    assert str(checkout) in str(excinfo.value)


def test_a_missing_templates_folder_is_a_schema_not_found_error(candidates: tuple[Path, Path]) -> None:
    candidates[1].mkdir()
    with pytest.raises(SchemaNotFoundError, match="templates"):
        templates_dir()


def test_the_wheel_folder_name_matches_the_force_include_in_pyproject() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    installed = schemas._CANDIDATES[0]
    assert force_include["schemas"] == f"{installed.parent.name}/{installed.name}"


def test_load_schema_returns_the_parsed_file() -> None:
    expected = json.loads((schema_dir() / "exec_config.schema.json").read_text(encoding="utf-8"))
    assert load_schema("exec_config") == expected


def test_callers_cannot_spoil_the_cached_schema() -> None:
    first = load_schema("submit_job")
    first["properties"].clear()
    assert load_schema("submit_job")["properties"]


def test_an_unknown_schema_name_lists_the_known_schemas() -> None:
    with pytest.raises(SchemaNotFoundError) as excinfo:
        load_schema("exec_confg")
    assert "exec_config" in str(excinfo.value)
    assert "submit_job" in str(excinfo.value)


@pytest.mark.parametrize("name", ["../pyproject", "routes.schema", "", "Routes"])
def test_schema_names_cannot_leave_the_schema_folder(name: str) -> None:
    with pytest.raises(ValueError, match="invalid schema name"):
        schema_path(name)


@pytest.mark.parametrize("name", ["exec_config", "submit_job"])
def test_generated_schemas_are_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(load_schema(name))


def test_templates_live_in_the_schema_folder() -> None:
    assert templates_dir() == schema_dir() / "templates"
