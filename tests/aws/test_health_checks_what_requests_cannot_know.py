"""The start-up check holds each route to what only AWS knows: the queue's policy, the definition's tags."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from batch_router.aws.health import MAX_TAGS, fair_share_problem, propagated_tags_problem
from batch_router.config.model import Route, RouteTable
from batch_router.plan.model import TaskIdentity
from batch_router.plan.planner import Plan

ROUTE = Route("r", "ec2", "q", "jd")
FAIR_QUEUE: dict[str, Any] = {
    "jobQueueName": "q",
    "schedulingPolicyArn": "arn:aws:batch:::scheduling-policy/p",
}
PLAIN_QUEUE: dict[str, Any] = {"jobQueueName": "q"}
_ID = TaskIdentity("d", "t", "r", try_number=1, try_id="x")


@pytest.mark.parametrize(
    ("fair_share", "queue", "ok"),
    [(True, FAIR_QUEUE, True), (None, FAIR_QUEUE, True), (False, FAIR_QUEUE, False),
     (True, PLAIN_QUEUE, False), (None, PLAIN_QUEUE, True), (False, PLAIN_QUEUE, True)],
)  # fmt: skip
def test_a_route_s_fair_share_must_match_its_queue(
    fair_share: bool | None, queue: dict[str, Any], ok: bool
) -> None:
    route = dataclasses.replace(ROUTE, fair_share=fair_share)
    assert (fair_share_problem(route, queue) is None) is ok


def definition(tags: int) -> list[dict[str, Any]]:
    return [{"revision": 1, "status": "ACTIVE", "tags": {f"jd{i}": "x" for i in range(tags)}}]


def plan_for(route: Route) -> Plan:
    return Plan(RouteTable(routes=(route,), default_route=route.name))


def test_job_and_definition_tags_up_to_50_pass() -> None:
    built = plan_for(ROUTE).build(identity=_ID, executor_config=None, queue=None)
    room = MAX_TAGS - len(built.kwargs["tags"])
    assert propagated_tags_problem(ROUTE, definition(room), plan_for(ROUTE)) is None


def test_job_and_definition_tags_over_50_fail_start_up_when_propagated() -> None:
    built = plan_for(ROUTE).build(identity=_ID, executor_config=None, queue=None)
    room = MAX_TAGS - len(built.kwargs["tags"])
    problem = propagated_tags_problem(ROUTE, definition(room + 1), plan_for(ROUTE))
    assert problem is not None and "51 once propagated" in problem


def test_tags_that_are_not_propagated_are_not_counted_together() -> None:
    route = dataclasses.replace(ROUTE, submit_job_kwargs={"propagateTags": False})
    assert propagated_tags_problem(route, definition(60), plan_for(route)) is None
