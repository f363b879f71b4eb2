"""The local Batch runs ECS Managed Instances routes: their compute environment, ecsProperties job
definition and ecsPropertiesOverride requests, described as AWS Batch describes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.health import check_routes
from batch_router.config.model import Route, RouteTable
from batch_router.dev.local import LocalBatch
from batch_router.dev.local.clients import local_batch_client
from batch_router.plan.planner import Plan

TABLE = RouteTable(
    routes=(Route("managed", "ecs-managed-instances", "local-mi", "local-mi-def", max_vcpu=8),),
    default_route="managed",
)


@pytest.fixture(scope="module")
def managed() -> Iterator[LocalBatch]:
    with LocalBatch(TABLE, transition_seconds=0.02, kill_grace_seconds=1.0) as batch:
        yield batch


def _wait(batch: Any, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_the_compute_environment_and_job_definition_describe_as_on_aws(managed: LocalBatch) -> None:
    batch = managed.client("batch")

    (environment,) = batch.describe_compute_environments()["computeEnvironments"]
    (definition,) = batch.describe_job_definitions(jobDefinitionName="local-mi-def")["jobDefinitions"]

    assert environment["computeResources"]["type"] == "ECS_MANAGED_INSTANCES"
    assert (
        definition["platformCapabilities"] == ["MANAGED_INSTANCES"]
        and "containerProperties" not in definition
    )
    assert definition["ecsProperties"]["taskProperties"][0]["containers"][0]["name"] == "main"


def test_the_start_up_health_check_passes_a_managed_instances_route(managed: LocalBatch) -> None:
    client: BatchClient = local_batch_client(managed.env())

    facts = check_routes(client, TABLE, Plan(TABLE))

    assert facts["local-mi-def"].compute == "ecs-managed-instances"


def test_a_job_runs_its_task_containers_command_and_is_described_as_a_task(managed: LocalBatch) -> None:
    batch = managed.client("batch")
    override = {
        "taskProperties": [
            {"containers": [{"command": ["python", "-c", "import sys; sys.exit(3)"], "environment": []}]}
        ]
    }

    submitted = batch.submit_job(
        jobName="mi", jobQueue="local-mi", jobDefinition="local-mi-def", ecsPropertiesOverride=override
    )
    job = _wait(batch, submitted["jobId"])

    assert job["status"] == "FAILED" and "container" not in job
    (container,) = job["ecsProperties"]["taskProperties"][0]["containers"]
    assert container["exitCode"] == 3 and container["logStreamName"]
    assert job["attempts"][-1]["taskProperties"][0]["containers"][0]["exitCode"] == 3
