"""On a route table, a task that names a job queue (or job definition) a route owns goes to that route,
as a DAG written for AwsBatchExecutor sends its GPU work: the route's policy still applies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from batch_router.config.model import Route, RouteTable
from batch_router.errors import ExecConfigError, RoutingError
from batch_router.plan.model import BuiltJob, TaskIdentity
from batch_router.plan.planner import Plan

GPU_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/q-gpu"
TABLE = RouteTable(
    routes=(
        Route("fargate-small", "fargate", "q-fargate", "jd-fargate", max_vcpu=4),
        Route("ec2-gpu", "ec2", "q-gpu", "jd-gpu", max_gpu=8),
        Route("ec2-gpu-big", "ec2", "q-gpu", "jd-gpu-big", max_gpu=16),
    ),
    default_route="fargate-small",
    source="routes.yaml",
)
IDENTITY = TaskIdentity("train", "fit", "manual__1", try_number=1, try_id="try-1")


def build(executor_config: Mapping[str, Any]) -> BuiltJob:
    return Plan(TABLE).build(identity=IDENTITY, executor_config=executor_config, queue="default")


def test_a_task_naming_a_routes_job_queue_goes_to_that_route() -> None:
    built = build({"jobQueue": "q-gpu", "gpu": 1})

    assert built.route.name == "ec2-gpu"
    assert built.kwargs["jobQueue"] == "q-gpu"
    assert "exec_config jobQueue 'q-gpu' is route 'ec2-gpu''s" in built.reason


def test_a_job_queue_named_by_its_arn_is_the_same_queue() -> None:
    assert build({"jobQueue": GPU_ARN}).route.name == "ec2-gpu"


def test_of_routes_sharing_a_queue_the_first_that_holds_the_task_is_taken() -> None:
    assert build({"jobQueue": "q-gpu", "gpu": 12}).route.name == "ec2-gpu-big"


def test_a_job_queue_and_job_definition_pick_the_route_that_has_both() -> None:
    built = build({"jobQueue": "q-gpu", "jobDefinition": "jd-gpu-big"})

    assert built.route.name == "ec2-gpu-big"
    assert built.kwargs["jobDefinition"] == "jd-gpu-big"


def test_a_job_definition_alone_picks_its_route() -> None:
    assert build({"jobDefinition": "jd-gpu-big"}).route.name == "ec2-gpu-big"


def test_a_job_queue_no_route_owns_is_still_refused() -> None:
    with pytest.raises(ExecConfigError, match="executor_config may not set jobQueue"):
        build({"jobQueue": "someone-elses-queue"})


def test_a_queue_and_definition_no_route_has_together_are_refused() -> None:
    with pytest.raises(ExecConfigError, match="may not set"):
        build({"jobQueue": "q-gpu", "jobDefinition": "jd-fargate"})


def test_the_owning_route_still_holds_the_task_to_its_caps() -> None:
    with pytest.raises(RoutingError, match="allows at most 8 GPU, task asks for 32"):
        build({"jobQueue": "q-gpu", "gpu": 32})


def test_a_route_hint_and_the_same_routes_queue_agree() -> None:
    assert build({"route": "ec2-gpu", "jobQueue": "q-gpu"}).route.name == "ec2-gpu"


def test_a_route_hint_with_another_routes_queue_is_refused_by_the_policy() -> None:
    with pytest.raises(ExecConfigError, match="may not set jobQueue"):
        build({"route": "fargate-small", "jobQueue": "q-gpu"})
