"""The executor with only what ``batch-router iam-policy`` grants: every call it makes must be allowed.

An allow-list on the API clients (a botocore ``before-call`` handler for every client the executor
makes) answers AccessDenied, as IAM would, to any action the policy does not list, to a SubmitJob
whose queue or job definition is not among its resources, and to a stop of a job without the try-id
tag its condition requires. The executor then runs a try through submit, poll, log read and terminate,
and its start-up health check; nothing may be denied.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from typing import Any

import botocore.handlers
import pytest
from batch_world import ACCOUNT, REGION, BatchWorld, _Raw
from botocore.awsrequest import AWSResponse
from executor_kit import drive, make_workload, queue_all, task_instance

from batch_router.config.routes import parse_route_table
from batch_router.executor import BatchRouterExecutor
from batch_router.provision import ArnScope, scheduler_statements

IAM_PREFIX = {"batch": "batch", "cloudwatch-logs": "logs"}
LOG_GROUP = "/aws/batch/job"


class AllowList:
    """What IAM would decide for the executor's calls under ``statements``; records every denial."""

    def __init__(self, statements: list[dict[str, Any]], world: BatchWorld):
        self.statements = statements
        self.world = world
        self.denied: list[str] = []
        self.allowed: list[str] = []

    def _resources(self, action: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (resource, statement.get("Condition", {}))
            for statement in self.statements
            if action in statement["Action"]
            for resource in statement["Resource"]
        ]

    def _arn(self, kind: str, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:batch:{REGION}:{ACCOUNT}:{kind}/{name}"

    def _allows(self, action: str, params: dict[str, Any]) -> bool:
        granted = self._resources(action)
        if action == "batch:SubmitJob":
            wanted = [
                self._arn("job-queue", params["jobQueue"]),
                self._arn("job-definition", params["jobDefinition"]),
            ]
            return all(any(fnmatch.fnmatchcase(arn, pattern) for pattern, _ in granted) for arn in wanted)
        if action in ("batch:CancelJob", "batch:TerminateJob"):
            tags = self.world.describe(params["jobId"]).get("tags") or {}
            job = self._arn("job", params["jobId"])
            return any(
                fnmatch.fnmatchcase(job, pattern) and _holds(condition, tags)
                for pattern, condition in granted
            )
        if action == "logs:GetLogEvents":
            group, stream_name = params["logGroupName"], params["logStreamName"]
            stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{stream_name}"
            return any(fnmatch.fnmatchcase(stream, pattern) for pattern, _ in granted)
        return bool(granted)

    def before_call(self, params: dict[str, Any], event_name: str, model: Any, **_: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        action = f"{IAM_PREFIX[service]}:{operation}"
        body = json.loads(params.get("body") or b"{}")
        if self._allows(action, body):
            self.allowed.append(action)
            return None
        self.denied.append(action)
        message = f"not authorized to perform: {action}"
        payload = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        headers = {"x-amzn-ErrorType": "AccessDeniedException", "Content-Type": "application/json"}
        parsed = {
            "Error": {"Code": "AccessDeniedException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return AWSResponse("https://batch.invalid/", 403, headers, _Raw(payload)), parsed


def _holds(condition: dict[str, Any], tags: dict[str, str]) -> bool:
    """IAM's StringEquals and Null on aws:ResourceTag/KEY, as AWS evaluates them on a job's tags."""
    prefix = "aws:ResourceTag/"
    for key, wanted in condition.get("StringEquals", {}).items():
        if tags.get(key.removeprefix(prefix)) != wanted:
            return False
    for key, null in condition.get("Null", {}).items():
        if (key.removeprefix(prefix) not in tags) != (null == "true"):
            return False
    return set(condition) <= {"StringEquals", "Null"}  # anything else: not understood, so not granted


@pytest.fixture
def table_json(world: BatchWorld) -> str:
    routes = {
        "version": 1,
        "routes": [
            {
                "name": "small",
                "compute": "fargate",
                "job_queue": world.queue("lp-fargate"),
                "job_definition": world.job_definition("lp-def"),
            },
            {
                "name": "big",
                "compute": "ec2",
                "job_queue": world.queue("lp-ec2", compute="EC2"),
                "job_definition": world.job_definition("lp-ec2-def", fargate=False),
                "queues": ["heavy"],
            },
        ],
    }
    return json.dumps(routes)


@pytest.fixture
def allow_list(world: BatchWorld, table_json: str, monkeypatch: pytest.MonkeyPatch) -> AllowList:
    table = parse_route_table(json.loads(table_json), "test")
    allow = AllowList(scheduler_statements(table, ArnScope("aws", REGION, ACCOUNT), [LOG_GROUP]), world)
    handlers = [("before-call.batch", allow.before_call), ("before-call.cloudwatch-logs", allow.before_call)]
    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, *handlers]
    )
    return allow


@pytest.fixture
def limited(allow_list: AllowList, table_json: str, set_option: Callable[..., None]) -> BatchRouterExecutor:
    set_option(routes=table_json, region_name=REGION, poll_interval=0.02, check_health_on_startup=True)
    executor = BatchRouterExecutor()
    executor.start()
    return executor


def test_the_allow_list_denies_what_the_policy_does_not_grant(
    allow_list: AllowList, world: BatchWorld
) -> None:
    import boto3

    batch = boto3.client("batch", region_name=REGION)
    with pytest.raises(batch.exceptions.ClientError, match="AccessDenied"):
        batch.submit_job(jobName="x", jobQueue="not-a-route-queue", jobDefinition="lp-def")
    with pytest.raises(batch.exceptions.ClientError, match="AccessDenied"):
        batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[])

    assert allow_list.denied == ["batch:SubmitJob", "batch:CreateJobQueue"]


def test_start_up_and_its_health_check_need_nothing_the_policy_leaves_out(
    allow_list: AllowList, limited: BatchRouterExecutor
) -> None:
    limited.end()

    assert allow_list.denied == []
    assert {
        "batch:DescribeJobQueues",
        "batch:DescribeComputeEnvironments",
        "batch:DescribeJobDefinitions",
    } <= set(allow_list.allowed)


def test_submit_poll_log_read_and_finish_need_nothing_the_policy_leaves_out(
    allow_list: AllowList, limited: BatchRouterExecutor, world: BatchWorld
) -> None:
    workloads = [make_workload(task_id="light"), make_workload(task_id="heavy", queue="heavy")]
    queue_all(limited, *workloads)
    job_ids = drive(limited, lambda: len(world.job_ids()) == 2 and world.job_ids())
    for job_id in job_ids:
        world.run(job_id, ["hello"])
    _, lines = limited.get_task_log(task_instance(workloads[0], external_executor_id=job_ids[0]), 1)
    for job_id in job_ids:
        world.succeed(job_id)
    drive(limited, lambda: all(w.ti.key in limited.event_buffer for w in workloads))
    limited.end()

    assert allow_list.denied == []
    assert lines == ["hello"]
    assert {"batch:SubmitJob", "batch:DescribeJobs", "logs:GetLogEvents"} <= set(allow_list.allowed)


def test_revoking_and_terminating_stop_jobs_within_the_policy(
    allow_list: AllowList, limited: BatchRouterExecutor, world: BatchWorld
) -> None:
    workloads = [make_workload(task_id="revoked"), make_workload(task_id="terminated")]
    queue_all(limited, *workloads)
    job_ids = drive(limited, lambda: len(world.job_ids()) == 2 and world.job_ids())
    for job_id in job_ids:
        world.run(job_id)
    revoked = next(j for j in job_ids if world.describe(j)["jobName"].find("revoked") >= 0)
    limited.revoke_task(ti=task_instance(workloads[0], external_executor_id=revoked))
    limited.terminate()

    assert allow_list.denied == []
    assert all(world.stopped(job_id) for job_id in job_ids)
    assert {"batch:TerminateJob"} <= set(allow_list.allowed)
