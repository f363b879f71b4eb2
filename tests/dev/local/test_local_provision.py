"""Provisioning: every route's compute environment, job queue and job definition exist, once."""

from __future__ import annotations

from typing import Any

import pytest

from batch_router.config.model import Route, RouteTable
from batch_router.dev.local import provision

EXPECTED_CE_TYPE = {"fargate": "FARGATE", "ec2": "EC2", "eks": "EC2"}


def _route(table: RouteTable, compute: str) -> Route:
    return next(r for r in table.routes if r.compute == compute)


def _queue(batch: Any, name: str) -> dict[str, Any]:
    queues = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    assert len(queues) == 1, f"queue {name}: {queues}"
    queue: dict[str, Any] = queues[0]
    return queue


def _definitions(batch: Any, name: str) -> list[dict[str, Any]]:
    response = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
    found: list[dict[str, Any]] = response["jobDefinitions"]
    return found


@pytest.mark.parametrize("compute", ["fargate", "ec2", "eks"])
def test_each_route_gets_an_enabled_valid_queue_of_its_name(
    batch: Any, route_table: RouteTable, compute: str
) -> None:
    queue = _queue(batch, _route(route_table, compute).job_queue)
    assert (queue["state"], queue["status"]) == ("ENABLED", "VALID")


@pytest.mark.parametrize("compute", ["fargate", "ec2", "eks"])
def test_each_queue_is_backed_by_a_managed_environment_of_the_routes_compute(
    batch: Any, route_table: RouteTable, compute: str
) -> None:
    queue = _queue(batch, _route(route_table, compute).job_queue)
    ce_name = queue["computeEnvironmentOrder"][0]["computeEnvironment"]
    (ce,) = batch.describe_compute_environments(computeEnvironments=[ce_name])["computeEnvironments"]
    assert (ce["type"], ce["computeResources"]["type"]) == ("MANAGED", EXPECTED_CE_TYPE[compute])


@pytest.mark.parametrize("compute", ["fargate", "ec2"])
def test_container_routes_get_a_definition_for_their_platform(
    batch: Any, route_table: RouteTable, compute: str
) -> None:
    (definition,) = _definitions(batch, _route(route_table, compute).job_definition)
    assert definition["platformCapabilities"] == [compute.upper()]
    assert "containerProperties" in definition


def test_eks_route_gets_a_definition_with_eks_properties(batch: Any, route_table: RouteTable) -> None:
    (definition,) = _definitions(batch, _route(route_table, "eks").job_definition)
    assert "containerProperties" not in definition
    assert len(definition["eksProperties"]["podProperties"]["containers"]) == 1


def test_provisioning_twice_creates_nothing_new(batch: Any, route_table: RouteTable) -> None:
    def inventory() -> tuple[int, int, int]:
        return (
            len(batch.describe_compute_environments()["computeEnvironments"]),
            len(batch.describe_job_queues()["jobQueues"]),
            sum(len(_definitions(batch, r.job_definition)) for r in route_table.routes),
        )

    before = inventory()
    provision(route_table, batch)
    assert inventory() == before


def test_a_pinned_revision_is_registered_up_to_that_revision(batch: Any) -> None:
    route = Route(name="pinned", compute="ec2", job_queue="pinned-q", job_definition="pinned-def:3")
    provision(RouteTable(routes=(route,), default_route="pinned"), batch)
    assert sorted(d["revision"] for d in _definitions(batch, "pinned-def")) == [1, 2, 3]


def test_a_pinned_revision_is_found_by_name_and_revision_as_aws_finds_it(batch: Any) -> None:
    route = Route(name="pinned", compute="ec2", job_queue="pinned-q", job_definition="pinned-def:2")
    provision(RouteTable(routes=(route,), default_route="pinned"), batch)

    [found] = batch.describe_job_definitions(jobDefinitions=["pinned-def:2"])["jobDefinitions"]

    assert (found["jobDefinitionName"], found["revision"]) == ("pinned-def", 2)


def test_routes_given_as_arns_are_submittable_by_the_same_arns(local_batch: Any, batch: Any) -> None:
    prefix = f"arn:aws:batch:{local_batch.region}:123456789012"
    route = Route(
        name="by-arn",
        compute="fargate",
        job_queue=f"{prefix}:job-queue/arn-q",
        job_definition=f"{prefix}:job-definition/arn-def:1",
    )
    provision(RouteTable(routes=(route,), default_route="by-arn"), batch)
    submitted = batch.submit_job(
        jobName="by-arn",
        jobQueue=route.job_queue,
        jobDefinition=route.job_definition,
        containerOverrides={"command": ["true"]},
    )
    assert submitted["jobId"]
