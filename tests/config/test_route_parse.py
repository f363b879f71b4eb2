"""The route file is parsed once into typed values, each default written in one place (config/model.py)."""

from __future__ import annotations

import json
from pathlib import Path

import batch_router
from batch_router.config import routes
from batch_router.config.model import DEFAULT_POLICY, DEFAULT_PROVISIONING, Route
from batch_router.config.routes import parse_route_table

SCHEMA = json.loads(
    (Path(batch_router.__file__).parent.parent / "schemas" / "routes.schema.json").read_text()
)


def test_a_route_that_gives_only_what_is_required_gets_the_models_defaults() -> None:
    table = parse_route_table(
        {"version": 1, "routes": [{"name": "r", "compute": "ec2", "job_queue": "q", "job_definition": "jd"}]},
        "test",
    )

    assert table.routes[0] == Route("r", "ec2", "q", "jd")
    assert table.routes[0].policy == DEFAULT_POLICY
    assert table.routes[0].provision == DEFAULT_PROVISIONING


def test_every_field_the_schema_allows_is_parsed_into_the_model() -> None:
    """A field added to the schema but not to the parse would be accepted and silently ignored."""
    defs = SCHEMA["$defs"]

    assert set(defs["route"]["properties"]) == set(routes._ROUTE_FIELDS) | {"policy", "provision"}
    assert set(defs["provision"]["properties"]) == set(routes._PROVISION_FIELDS)
    assert set(defs["policy"]["properties"]) == set(routes._POLICY_FIELDS)
