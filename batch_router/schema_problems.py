"""Turn jsonschema's errors into Problems a person can act on: a JSON path, a message and a hint.

jsonschema says *what* failed; users need *where* (``routes[2].compute``) and *what to write instead*
(``did you mean 'fargate'?``). Shared by the route table and exec_config validation so both speak alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from batch_router.errors import Problem
from batch_router.tree import json_path


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if matches:
        return f"did you mean {lowered[matches[0]]!r}?"
    return None


def problems_from_errors(errors: Iterable[ValidationError], prefix: Sequence[Any] = ()) -> list[Problem]:
    problems: list[Problem] = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        base = [*prefix, *error.absolute_path]
        if error.validator == "additionalProperties":
            schema = error.schema if isinstance(error.schema, dict) else {}
            allowed = sorted(schema.get("properties", {}))
            extras = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
            for extra in extras:
                hint = did_you_mean(extra, allowed) or (
                    f"allowed here: {', '.join(allowed)}" if allowed else None
                )
                problems.append(Problem(json_path([*base, extra]), f"unknown key {extra!r}", hint))
            continue
        if error.validator == "enum":
            options = [str(o) for o in error.validator_value]  # type: ignore[union-attr]
            hint = did_you_mean(str(error.instance), options) if isinstance(error.instance, str) else None
            problems.append(
                Problem(json_path(base), f"{error.instance!r} is not one of {', '.join(options)}", hint)
            )
            continue
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            problems.append(Problem(json_path([*base, missing]), "is required", None))
            continue
        problems.append(Problem(json_path(base), error.message, _hint_for(error)))
    return problems


def _hint_for(error: ValidationError) -> str | None:
    if error.validator == "pattern":
        return f"must match {error.validator_value}"
    if error.validator == "const":
        return f"write {error.validator_value!r}"
    if error.validator == "type":
        return f"expected {error.validator_value}"
    return None


def validate(schema: dict[str, Any], data: Any, prefix: Sequence[Any] = ()) -> list[Problem]:
    validator = Draft202012Validator(schema)
    return problems_from_errors(validator.iter_errors(data), prefix)
