"""Generate the SubmitJob and exec_config JSON Schemas from botocore's own AWS Batch service model.

Writing the SubmitJob shape by hand would drift from the API the executor actually calls; botocore
ships the authoritative model, so the committed schemas are derived from it and CI runs
``python -m batch_router.dev.schemagen --check`` to catch a botocore upgrade that changes the API.

Usage::

    python -m batch_router.dev.schemagen              # rewrite schemas/*.schema.json
    python -m batch_router.dev.schemagen --check      # exit 1 if the committed files are out of date
"""

from __future__ import annotations

import argparse
import difflib
import html
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import botocore
import botocore.session
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StringShape, StructureShape

from batch_router.config.model import (
    COMPUTE_TYPES,
    MAX_CONSUMABLE_RESOURCES,
    MIN_MEMORY_MIB,
    MIN_TIMEOUT_SECONDS,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SUBMIT_JOB_FILE = "submit_job.schema.json"
EXEC_CONFIG_FILE = "exec_config.schema.json"
_MAX_DESCRIPTION = 300
_MAX_DIFF_LINES = 40

HINT_PROPERTIES: dict[str, dict[str, Any]] = {
    "route": {
        "type": "string",
        "pattern": "^[a-z0-9-]+$",
        "description": "Name of the route (from the route table) to run this task on.",
    },
    "compute": {
        "enum": list(COMPUTE_TYPES),
        "description": "Kind of compute the task needs; routes of other kinds are passed over.",
    },
    "vcpu": {
        "type": "number",
        "exclusiveMinimum": 0,
        "description": "vCPUs the task needs, e.g. 0.5 or 4; Fargate sizes are rounded up to a valid one.",
    },
    "memory_mib": {
        "type": "integer",
        "minimum": MIN_MEMORY_MIB,
        "description": "Memory the task needs, in MiB.",
    },
    "gpu": {
        "type": "integer",
        "minimum": 0,
        "description": "GPUs the task needs; a task asking for GPUs never runs on Fargate.",
    },
    "timeout_seconds": {
        "type": "integer",
        "minimum": MIN_TIMEOUT_SECONDS,
        "description": "Batch terminates the job after this many seconds (timeout.attemptDurationSeconds).",
    },
    "consumable_resources": {
        "type": "object",
        "minProperties": 1,
        "maxProperties": MAX_CONSUMABLE_RESOURCES,
        "propertyNames": {"minLength": 1},
        "additionalProperties": {"type": "integer", "minimum": 0},
        "description": "Quantities of the route's consumable resources (licences, connections) the task "
        "uses, by name; each at most the route's max for it.",
    },
}


# The same base as routes.schema.json's $id: stable names for editors and check-jsonschema.
SCHEMA_ID_BASE = "https://batch-router.dev/schemas"


def batch_model() -> ServiceModel:
    """The AWS Batch service model of the installed botocore."""
    return botocore.session.get_session().get_service_model("batch")


def describe(documentation: str) -> str:
    """Botocore's HTML documentation cut to its first sentence, as plain text for editors' tooltips."""
    first_paragraph = re.split(r"</p>", documentation, maxsplit=1)[0]
    text = html.unescape(re.sub(r"<[^>]+>", "", first_paragraph))
    text = " ".join(text.split())
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    if len(sentence) <= _MAX_DESCRIPTION:
        return sentence
    return sentence[: _MAX_DESCRIPTION - 3].rsplit(" ", 1)[0] + "..."


class _Converter:
    """Turns botocore shapes into JSON Schema, structures, lists and maps once each under ``$defs``."""

    def __init__(self, model: ServiceModel, *, layer: bool = False):
        self.model = model
        self.defs: dict[str, dict[str, Any]] = {}
        # A layer (executor_config, SUBMIT_JOB_KWARGS, a route's kwargs) is part of a request: later
        # layers and the executor add to its lists and maps (every job gets the executor's tags), so
        # their lower bounds hold for the whole request, not for a layer: `tags: {}` is a fine layer.
        self.layer = layer

    def structure_body(self, shape: StructureShape) -> dict[str, Any]:
        properties = {name: self.member(member) for name, member in shape.members.items()}
        body: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
        if shape.required_members:
            body["required"] = list(shape.required_members)
        return body

    def member(self, shape: Shape) -> dict[str, Any]:
        """A property or item: a ``$ref`` or an inline scalar, plus the member's own description."""
        schema = self.ref(shape) if _is_container(shape) else self.scalar(shape)
        text = describe(shape.documentation or "")
        if text and text != self.defs.get(shape.name, {}).get("description"):
            schema["description"] = text
        if shape.metadata.get("deprecated"):
            schema["deprecated"] = True
        return schema

    def ref(self, shape: Shape) -> dict[str, Any]:
        if shape.name not in self.defs:
            canonical = self.model.shape_for(shape.name)  # without the member's documentation
            body: dict[str, Any] = {}
            self.defs[shape.name] = body  # registered first, so recursive shapes terminate
            body.update(self.container(canonical))
            text = describe(canonical.documentation or "")
            if text:
                body["description"] = text
        return {"$ref": f"#/$defs/{shape.name}"}

    def container(self, shape: Shape) -> dict[str, Any]:
        if isinstance(shape, StructureShape):
            return self.structure_body(shape)
        if isinstance(shape, ListShape):
            body: dict[str, Any] = {"type": "array", "items": self.member(shape.member)}
            _bounds(body, shape, "minItems", "maxItems", upper_only=self.layer)
            return body
        if isinstance(shape, MapShape):
            body = {"type": "object", "additionalProperties": self.member(shape.value)}
            keys = self.scalar(shape.key)
            if set(keys) - {"type"}:
                body["propertyNames"] = keys
            _bounds(body, shape, "minProperties", "maxProperties", upper_only=self.layer)
            return body
        raise TypeError(f"not a container shape: {shape.name} ({shape.type_name})")

    def scalar(self, shape: Shape) -> dict[str, Any]:
        kind = shape.type_name
        if kind == "string":
            body: dict[str, Any] = {"type": "string"}
            if isinstance(shape, StringShape) and shape.enum:
                body["enum"] = list(shape.enum)
            # botocore's "pattern" is a Java regex and not portable to JSON Schema, so it is left out.
            _bounds(body, shape, "minLength", "maxLength")
            return body
        if kind in ("integer", "long"):
            body = {"type": "integer"}
            _bounds(body, shape, "minimum", "maximum")
            return body
        if kind in ("float", "double"):
            body = {"type": "number"}
            _bounds(body, shape, "minimum", "maximum")
            return body
        if kind == "boolean":
            return {"type": "boolean"}
        if kind in ("timestamp", "blob"):
            return {"type": "string"}
        raise TypeError(f"unsupported botocore shape type {kind!r} ({shape.name})")


def _is_container(shape: Shape) -> bool:
    return isinstance(shape, StructureShape | ListShape | MapShape)


def _bounds(body: dict[str, Any], shape: Shape, low: str, high: str, *, upper_only: bool = False) -> None:
    if "min" in shape.metadata and not upper_only:
        body[low] = shape.metadata["min"]
    if "max" in shape.metadata:
        body[high] = shape.metadata["max"]


def _submit_job_input(model: ServiceModel) -> StructureShape:
    shape = model.operation_model("SubmitJob").input_shape
    if not isinstance(shape, StructureShape):
        raise TypeError("botocore's SubmitJob input is not a structure")
    return shape


def _comment(model: ServiceModel) -> str:
    api = model.metadata.get("apiVersion", "?")
    return (
        f"Generated by `python -m batch_router.dev.schemagen` from botocore's batch service model "
        f"(API version {api}). Do not edit by hand."
    )


def build_submit_job_schema(model: ServiceModel | None = None) -> dict[str, Any]:
    """The full SubmitJob request, including the required jobName, jobQueue and jobDefinition."""
    model = model or batch_model()
    shape = _submit_job_input(model)
    converter = _Converter(model)
    body = converter.structure_body(shape)
    return {
        "$schema": DRAFT,
        "$id": f"{SCHEMA_ID_BASE}/{SUBMIT_JOB_FILE}",
        "$comment": _comment(model),
        "title": "AWS Batch SubmitJob request",
        "description": describe(shape.documentation or "") or "The parameters for SubmitJob.",
        **body,
        "$defs": converter.defs,
    }


def build_exec_config_schema(model: ServiceModel | None = None) -> dict[str, Any]:
    """A task's executor_config: the reserved hint keys plus any SubmitJob member, none required."""
    model = model or batch_model()
    shape = _submit_job_input(model)
    clash = set(HINT_PROPERTIES) & set(shape.members)
    if clash:
        raise ValueError(f"hint keys clash with SubmitJob members: {sorted(clash)}")
    converter = _Converter(model, layer=True)
    members = converter.structure_body(shape)["properties"]
    return {
        "$schema": DRAFT,
        "$id": f"{SCHEMA_ID_BASE}/{EXEC_CONFIG_FILE}",
        "$comment": _comment(model),
        "title": "batch-router executor_config",
        "description": (
            "A task's executor_config: routing and sizing hints plus SubmitJob arguments merged over the "
            "route's. Any SubmitJob member may be given; none is required."
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": {**HINT_PROPERTIES, **members},
        "$defs": converter.defs,
    }


def render(schema: Mapping[str, Any]) -> str:
    """The one byte-for-byte form schemas are committed in, so regeneration yields no diff."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(model: ServiceModel | None = None) -> dict[str, str]:
    """File name -> file text for every generated schema."""
    model = model or batch_model()
    return {
        SUBMIT_JOB_FILE: render(build_submit_job_schema(model)),
        EXEC_CONFIG_FILE: render(build_exec_config_schema(model)),
    }


def write(out_dir: Path, files: Mapping[str, str]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path, files: Mapping[str, str]) -> list[str]:
    """One report per file whose committed text differs from ``files``; empty when all are current."""
    reports = []
    for name, expected in files.items():
        path = out_dir / name
        try:
            actual = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            reports.append(f"{path} is missing")
            continue
        if actual == expected:
            continue
        diff = list(
            difflib.unified_diff(
                actual.splitlines(),
                expected.splitlines(),
                fromfile=f"{name} (committed)",
                tofile=f"{name} (generated)",
                lineterm="",
            )
        )
        shown = diff[:_MAX_DIFF_LINES]
        if len(diff) > _MAX_DIFF_LINES:
            shown.append(f"... {len(diff) - _MAX_DIFF_LINES} more diff lines")
        reports.append(f"{path} is out of date:\n" + "\n".join(shown))
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    from batch_router.config.schemas import schema_dir

    parser = argparse.ArgumentParser(
        prog="python -m batch_router.dev.schemagen",
        description="Generate the SubmitJob and exec_config JSON Schemas from botocore.",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the files differ from what would be written"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=None, help="folder of the schema files (default: schemas/)"
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out_dir if args.out_dir is not None else schema_dir()
    files = generate()
    if args.check:
        reports = stale(out_dir, files)
        if reports:
            for report in reports:
                print(report, file=sys.stderr)
            print(
                f"generated schemas differ from botocore {botocore.__version__}'s batch model; "
                "run `python -m batch_router.dev.schemagen` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"schemas are up to date with botocore {botocore.__version__}")
        return 0
    for path in write(out_dir, files):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
