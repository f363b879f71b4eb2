"""Where the JSON Schemas and exec_config templates live, in a source checkout and in an installed wheel.

The schemas are data files kept at the top of the repository (``schemas/``) so that editors and CI can
use them without importing Python. The wheel copies that folder into the package as
``batch_router/_schemas`` (see ``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml), so
both places are looked at, the installed one first.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from batch_router.errors import BatchRouterError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # batch_router/
# Installed wheel first: in a checkout the folder does not exist, and in a wheel the repo folder does not.
_CANDIDATES: tuple[Path, ...] = (_PACKAGE_DIR / "_schemas", _PACKAGE_DIR.parent / "schemas")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SchemaNotFoundError(BatchRouterError, FileNotFoundError):
    """A schema file or the schema folder is missing: the package was built or installed incompletely."""


def schema_dir() -> Path:
    """The folder holding ``<name>.schema.json`` files and ``templates/``."""
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in _CANDIDATES)
    raise SchemaNotFoundError(
        f"batch-router's schema folder is missing (looked in {looked}); "
        "reinstall the package, or run from a source checkout that has schemas/"
    )


def templates_dir() -> Path:
    """The folder of exec_config templates (``<name>.json``)."""
    path = schema_dir() / "templates"
    if not path.is_dir():
        raise SchemaNotFoundError(f"batch-router's exec_config templates folder is missing: {path}")
    return path


def schema_path(name: str) -> Path:
    """The file a schema called ``name`` (e.g. ``"routes"``) is kept in; it need not exist yet."""
    if not _NAME.match(name):
        raise ValueError(f"invalid schema name {name!r}: use lowercase letters, digits and '_'")
    return schema_dir() / f"{name}.schema.json"


def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema ``<name>.schema.json``; a fresh copy per caller, so none can spoil the cache."""
    return copy.deepcopy(_load_cached(name))


@functools.cache
def validator_for(name: str) -> Draft202012Validator:
    """One validator per schema, shared (making one per check cost 2 ms, which 10,000 routes pay twice);
    the schema itself is checked once, when its validator is made."""
    schema = _load_cached(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@functools.cache
def property_names(name: str) -> frozenset[str]:
    """The top-level properties schema ``name`` allows (SubmitJob's arguments for ``submit_job``)."""
    return frozenset(_load_cached(name).get("properties", {}))


@functools.cache
def _load_cached(name: str) -> dict[str, Any]:
    path = schema_path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = sorted(p.name.removesuffix(".schema.json") for p in path.parent.glob("*.schema.json"))
        raise SchemaNotFoundError(
            f"schema {name!r} not found at {path} (known schemas: {', '.join(known) or 'none'})"
        ) from None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise SchemaNotFoundError(f"{path} does not hold a JSON object")
    return data
