"""Turn jsonschema's errors into Problems a person can act on: a JSON path, a message and a hint.

jsonschema says *what* failed; users need *where* (``routes[2].compute``) and *what to write instead*
(``did you mean 'fargate'?``). The one formatter for the route table, ``SUBMIT_JOB_KWARGS`` and
exec_config, so all three speak alike; a caller may add hints of its own for its own keys.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from batch_router.config.json_tree import json_path
from batch_router.errors import Problem

# (error, its path parts) -> a hint, or None for the formatter's own
HintFor = Callable[[ValidationError, Sequence[Any]], str | None]
# (unknown key, the keys allowed there, the path parts of the object) -> a hint, or None for the default
UnknownKeyHint = Callable[[str, Sequence[str], Sequence[Any]], str | None]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if matches:
        return f"did you mean {lowered[matches[0]]!r}?"
    return None


def problems_from_errors(
    errors: Iterable[ValidationError],
    prefix: Sequence[Any] = (),
    *,
    hint_for: HintFor | None = None,
    unknown_key_hint: UnknownKeyHint | None = None,
) -> list[Problem]:
    """Every error as Problems, in path order; an unknown or missing key is one Problem per key."""
    problems: list[Problem] = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        problems.extend(_from_error(error, [*prefix, *error.absolute_path], hint_for, unknown_key_hint))
    return problems


def validate(
    schema: dict[str, Any] | Draft202012Validator, data: Any, prefix: Sequence[Any] = ()
) -> list[Problem]:
    """Every problem of ``data`` against ``schema`` (or an already made validator of one)."""
    validator = schema if isinstance(schema, Draft202012Validator) else Draft202012Validator(schema)
    return problems_from_errors(validator.iter_errors(data), prefix)


def _from_error(
    error: ValidationError,
    parts: list[Any],
    hint_for: HintFor | None,
    unknown_key_hint: UnknownKeyHint | None,
) -> Iterator[Problem]:
    keyword, expected = error.validator, error.validator_value
    if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else []
        for key in sorted(str(k) for k in error.instance if k not in allowed):
            hint = unknown_key_hint(key, allowed, parts) if unknown_key_hint else None
            hint = (
                hint
                or did_you_mean(key, allowed)
                or (f"allowed here: {', '.join(allowed)}" if allowed else None)
            )
            yield Problem(json_path([*parts, key]), f"unknown key {key!r}", hint)
        return
    if keyword == "required" and isinstance(error.instance, Mapping):
        for key in expected:  # type: ignore[union-attr]
            if key not in error.instance:
                yield Problem(json_path([*parts, key]), "is required")
        return
    hint = hint_for(error, parts) if hint_for else None
    if hint is None and keyword == "enum" and isinstance(error.instance, str):
        hint = did_you_mean(error.instance, [str(v) for v in expected])  # type: ignore[union-attr]
    if hint is None and keyword == "pattern" and isinstance(error.instance, str):
        hint = pattern_hint(str(expected), error.instance)
    yield Problem(json_path(parts), message_of(error), hint)


def message_of(error: ValidationError) -> str:
    """jsonschema's failure in words for people: what was expected and what was given."""
    keyword, instance = error.validator, error.instance
    expected: Any = error.validator_value
    if keyword == "type":
        if instance is None:  # YAML's `key:` with nothing after it
            return f"expected {_type_words(expected)}, got nothing (the value is empty)"
        return f"expected {_type_words(expected)}, got {_json_type(instance)} {_short(instance)}"
    if keyword == "enum":
        options = ", ".join(v if isinstance(v, str) else _short(v) for v in expected)
        return f"{_short(instance)} is not one of {options}"
    if keyword == "const":
        return f"must be {_short(expected)}, got {_short(instance)}"
    if keyword == "exclusiveMinimum":
        return f"must be greater than {expected}, got {_short(instance)}"
    if keyword == "minimum":
        return f"must be at least {expected}, got {_short(instance)}"
    if keyword == "maximum":
        return f"must be at most {expected}, got {_short(instance)}"
    if keyword == "pattern":
        words = PATTERN_WORDS.get(str(expected))
        return (
            f"{_short(instance)} is not {words}" if words else f"{_short(instance)} does not match {expected}"
        )
    if keyword == "minLength":
        return f"must be at least {expected} characters long"
    if keyword == "maxLength":
        return f"must be at most {expected} characters long"
    if keyword in ("minItems", "minProperties"):
        return f"must have at least {expected} entries"
    if keyword in ("maxItems", "maxProperties"):
        return f"must have at most {expected} entries"
    return error.message


# The patterns batch-router's schemas use, in words (a regular expression is no explanation).
PATTERN_WORDS = {
    "^[a-z0-9-]+$": "made of lowercase letters, digits and '-' only",
    "^[A-Za-z_][A-Za-z0-9_]*\\*?$": "an environment variable name, or a prefix of one ending in '*'",
}


def pattern_hint(pattern: str, value: str) -> str | None:
    """The nearest value that matches, where one can be made by a plain substitution."""
    if pattern == "^[a-z0-9-]+$":
        fixed = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
        return f"did you mean {fixed!r}?" if fixed else "use lowercase letters, digits and '-'"
    return None


def _type_words(expected: Any) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    words = {"object": "a dict", "array": "a list", "integer": "an integer", "number": "a number"}
    return " or ".join(words.get(name, f"a {name}") for name in names)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, Sequence):
        return "list"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
