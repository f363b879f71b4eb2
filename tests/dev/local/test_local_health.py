"""The local Batch answers like AWS where the executor's start-up health check looks."""

from __future__ import annotations

from typing import Any

import pytest

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.health import check_routes
from batch_router.config.model import RouteTable
from batch_router.dev.local import LocalBatch


def test_an_eks_compute_environment_is_described_as_eks(batch: Any, route_table: RouteTable) -> None:
    eks_queue = next(r.job_queue for r in route_table.routes if r.compute == "eks")
    [queue] = batch.describe_job_queues(jobQueues=[eks_queue])["jobQueues"]
    names = [o["computeEnvironment"] for o in queue["computeEnvironmentOrder"]]
    [env] = batch.describe_compute_environments(computeEnvironments=names)["computeEnvironments"]
    assert env["containerOrchestrationType"] == "EKS"
    assert env["eksConfiguration"]["kubernetesNamespace"] == "default"


def test_ecs_compute_environments_stay_ecs(batch: Any, route_table: RouteTable) -> None:
    envs = batch.describe_compute_environments()["computeEnvironments"]
    kinds = {e["containerOrchestrationType"] for e in envs}
    assert kinds == {"ECS", "EKS"}


def test_the_executor_health_check_passes_on_a_provisioned_local_batch(
    local_batch: LocalBatch, route_table: RouteTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in local_batch.env().items():
        monkeypatch.setenv(name, value)
    check_routes(BatchClient(aws_conn_id=None, region_name=local_batch.region), route_table)
