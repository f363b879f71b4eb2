"""Is this a SubmitJob request boto3 would send? botocore's own validator, plus the maxima in its model.

botocore's ``ParamValidator`` checks types, required and unknown fields; it leaves the maxima in the
service model (51 tags, a 300-character tag value) to the server. Both are checked here, so a request
that boto3 or AWS would refuse for its shape fails one task before the call, with a JSON path and a
hint in a DAG author's words (JSON types, not Python classes).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator, ValidationErrors

from batch_router.compat.botocore import validation_errors
from batch_router.errors import Problem

__all__ = ["validate_submit_job"]

_API_HINT = "see SubmitJob in the AWS Batch API reference for its fields and their types"
_JSON_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "dict": "dict",
    "list": "list",
    "tuple": "list",
    "bool": "boolean",
    "Decimal": "number",
}


def validate_submit_job(kwargs: Mapping[str, Any]) -> list[Problem]:
    """Every way ``kwargs`` fails botocore's own check of SubmitJob's input, as Problems."""
    report = ParamValidator().validate(kwargs, _submit_job_shape())
    problems = [
        _problem(reason, str(name), details) for reason, name, details in validation_errors(report) or []
    ]
    if report.has_errors() and not problems:  # botocore changed its internals: keep its whole report
        problems.append(Problem("", report.generate_report(), _API_HINT))
    problems += _over_maximum(kwargs, _submit_job_shape(), "")
    return problems


def _over_maximum(value: Any, shape: Shape, path: str) -> list[Problem]:
    """Values over the maxima in botocore's model, which its validator leaves to the server to refuse.

    Checked here so that, say, a 51st tag fails the task before the call, with its path, rather than as
    AWS's ClientException after it.
    """
    problems: list[Problem] = []
    limit = shape.metadata.get("max")
    if limit is not None:
        if isinstance(value, str | list | Mapping) and len(value) > limit:
            unit = "characters" if isinstance(value, str) else "entries"
            problems.append(
                Problem(path, f"has {len(value)} {unit}; SubmitJob allows at most {limit}", _API_HINT)
            )
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
            problems.append(Problem(path, f"is {value}; SubmitJob allows at most {limit}", _API_HINT))
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                problems += _over_maximum(value[name], member, _join(path, name))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            problems += _over_maximum(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for key, item in value.items():
            problems += _over_maximum(key, shape.key, _join(path, key))
            problems += _over_maximum(item, shape.value, _join(path, key))
    return problems


def _problem(reason: str, name: str, details: Mapping[str, Any]) -> Problem:
    path = name.lstrip(".")
    if reason == "invalid type":
        expected = " or ".join(_type_name(t) for t in details.get("valid_types", ()))
        value = details.get("param")
        return Problem(path, f"expected {expected}, got {type(value).__name__} {value!r}", _API_HINT)
    if reason == "missing required field":
        return Problem(_join(path, details.get("required_name")), "is required by SubmitJob", _API_HINT)
    if reason == "unknown field":
        allowed = ", ".join(details.get("valid_names", ()))
        return Problem(
            _join(path, details.get("unknown_param")), "is not a SubmitJob field here", f"allowed: {allowed}"
        )
    # Anything else in botocore's own words, through its public API.
    single = ValidationErrors()
    single.report(name, reason, **details)
    return Problem(path, single.generate_report(), _API_HINT)


def _type_name(botocore_type: str) -> str:
    # botocore reports types as "<class 'int'>"; DAG authors write JSON, so say it in those words.
    match = re.fullmatch(r"<class '(?:\w+\.)*(\w+)'>", botocore_type)
    name = match.group(1) if match else botocore_type
    return _JSON_NAMES.get(name, name)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


@functools.cache
def _submit_job_shape() -> Shape:
    model = botocore.session.get_session().get_service_model("batch")
    return model.operation_model("SubmitJob").input_shape
