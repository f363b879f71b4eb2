"""Plans of a route table dict with a table-wide policy, and the requests or refusals they make."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from batch_router.config.routes import parse_route_table
from batch_router.errors import ExecConfigError
from batch_router.plan.model import BuiltJob, TaskIdentity
from batch_router.plan.planner import Plan

IDENTITY = TaskIdentity("etl", "load", "manual__1", try_number=1, try_id="t-1")


class PolicyKit:
    def __init__(self, table: Mapping[str, Any]):
        self.table = table

    def plan_with(self, **policy: Any) -> Plan:
        data = copy.deepcopy(dict(self.table))
        if policy:
            data["policy"] = policy
        return Plan(parse_route_table(data, "routes.yaml"))

    def build(self, executor_config: dict[str, Any], plan: Plan | None = None) -> BuiltJob:
        return (plan or self.plan_with()).build(
            identity=IDENTITY, executor_config=executor_config, queue=None
        )

    def refusal(self, executor_config: dict[str, Any], plan: Plan | None = None) -> str:
        with pytest.raises(ExecConfigError) as caught:
            self.build(executor_config, plan)
        return str(caught.value)
