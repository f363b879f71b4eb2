"""Least-privilege IAM for the scheduler and the worker roles, made from the route table.

The scheduler's policy lists exactly the calls ``BatchRouterExecutor`` makes (``aws/batch_client.py``):
SubmitJob to the table's queues and job definitions, the reads it polls and adopts with, CancelJob /
TerminateJob on the jobs it tagged, the Describe calls of the start-up health check, and GetLogEvents
on the log groups its tasks write to. ``batch-router iam-policy`` prints it and ``provision`` puts the
same statements in the template, so the two cannot drift.

Which actions take which resources comes from the AWS Batch User Guide, "Supported resource-level
permissions for AWS Batch API actions": SubmitJob (job queue and job definition), TagResource,
CancelJob and TerminateJob (job, with ``aws:ResourceTag`` conditions) support resource ARNs; an action
not listed there (DescribeJobs, ListJobs, Describe*) must be granted on ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from batch_router.config.model import RouteTable
from batch_router.config.settings import DEFAULT_DEPLOYMENT
from batch_router.plan.naming import DEPLOYMENT_TAG, TRY_ID_TAG
from batch_router.provision.arns import ArnScope, consumable_resource_arn, job_definition_arns, job_queue_arn

__all__ = [
    "POLICY_VERSION",
    "READ_ACTIONS",
    "execution_role_statements",
    "job_role_statements",
    "policy_document",
    "routes_that_send_elsewhere",
    "scheduler_statements",
    "ui_statements",
]

POLICY_VERSION = "2012-10-17"
READ_ACTIONS = ("batch:DescribeJobs", "batch:ListJobs")
HEALTH_CHECK_ACTIONS = (
    "batch:DescribeComputeEnvironments",
    "batch:DescribeJobDefinitions",
    "batch:DescribeJobQueues",
)


# What aws/event_queue.py calls: GetQueueUrl (a queue given by ARN), ReceiveMessage, and the batch forms
# of DeleteMessage and ChangeMessageVisibility, which IAM authorizes as the single actions (SQS developer
# guide, "Amazon SQS API permissions: Actions and resource reference").
EVENTS_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
)


def _unique(values: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(values))


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": list(resources), **extra}


def scheduler_statements(
    table: RouteTable,
    scope: ArnScope,
    log_groups: Sequence[str],
    deployment: str = DEFAULT_DEPLOYMENT,
    events_queue: str | None = None,
) -> list[dict[str, Any]]:
    """The scheduler's statements for ``table`` (and the retry routes it names, which are routes too).

    ``deployment`` is the executor's DEPLOYMENT: it may stop only jobs tagged with it, so deployments
    sharing an account cannot stop each other's jobs (and no job made by anyone else without the tag).
    ``events_queue`` is JOB_EVENTS_QUEUE's ARN: the event reader's SQS actions, on that queue only.
    """
    queues = _unique(job_queue_arn(scope, route.job_queue) for route in table.routes)
    definitions = _unique(
        arn for route in table.routes for arn in job_definition_arns(scope, route.job_definition)
    )
    # SubmitJob is authorized on the consumable resources a request names too (Service Authorization
    # Reference, AWS Batch: SubmitJob's resource types include consumable-resource).
    consumables = _unique(
        consumable_resource_arn(scope, name) for route in table.routes for name in route.consumable_resources
    )
    jobs = scope.batch("job/*")
    statements = [
        _statement("SubmitToTheRouteTable", ["batch:SubmitJob"], queues + definitions + consumables),
        # SubmitJob carries the try's tags; tagging on create is authorized as TagResource on the job
        # being made, whose id nobody knows beforehand. Only with this deployment's tag (every job of it
        # has one), and never on a job that has a deployment tag already: another deployment's jobs
        # cannot be re-tagged into this one's (and so stopped). AWS Batch documents no key that tells
        # tag-on-create from a later TagResource, so a job made outside batch-router stays taggable by
        # this role: docs/provisioning.md, "What this policy cannot prevent".
        _statement(
            "TagJobsAtSubmit",
            ["batch:TagResource"],
            [jobs],
            Condition={
                "StringEquals": {f"aws:RequestTag/{DEPLOYMENT_TAG}": deployment},
                "Null": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": "true"},
            },
        ),
        _statement(
            "StopOnlyJobsItSubmitted",
            ["batch:CancelJob", "batch:TerminateJob"],
            [jobs],
            Condition={
                "StringEquals": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": deployment},
                "Null": {f"aws:ResourceTag/{TRY_ID_TAG}": "false"},
            },
        ),
        _statement("PollAndAdopt", READ_ACTIONS, ["*"]),
        _statement("StartupHealthCheck", HEALTH_CHECK_ACTIONS, ["*"]),
    ]
    if events_queue is not None:
        statements.append(_statement("ReadJobEvents", EVENTS_ACTIONS, [events_queue]))
    if log_groups:
        streams = _unique(scope.logs(f"log-group:{group}:log-stream:*") for group in log_groups)
        statements.append(_statement("ReadTaskLogs", ["logs:GetLogEvents"], streams))
    return statements


# What the Batch routes page reads (ui/batch_view.py, ui/task_tries.py), and nothing else: no stop, no
# submit, no logs (the page links to the CloudWatch console instead of reading streams). They are on
# "*": the describes and ListJobs take no resource ARN (User Guide, "Supported resource-level
# permissions"), and GetJobQueueSnapshot is asked of every queue of the table.
UI_ACTIONS = (
    "batch:DescribeComputeEnvironments",
    "batch:DescribeJobQueues",
    "batch:DescribeJobs",
    "batch:GetJobQueueSnapshot",
    "batch:ListJobs",
)


def ui_statements() -> list[dict[str, Any]]:
    """The API server's statements for the Batch routes page: read-only Batch."""
    return [_statement("BatchRoutesPageReadsOnly", UI_ACTIONS, ["*"])]


def execution_role_statements(
    scope: ArnScope, log_groups: Sequence[str], repositories: Sequence[str]
) -> list[dict[str, Any]]:
    """What ECS needs to start a Fargate (or awslogs-on-EC2) job: pull the image, write its logs.

    The same as AWS's managed AmazonECSTaskExecutionRolePolicy, narrowed to the worker's ECR
    repositories and the route table's log groups.
    """
    statements = [_statement("EcrLogin", ["ecr:GetAuthorizationToken"], ["*"])]
    if repositories:
        pull = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        statements.append(_statement("PullTheWorkerImage", pull, _unique(repositories)))
    if log_groups:
        streams = _unique(scope.logs(f"log-group:{group}:log-stream:*") for group in log_groups)
        statements.append(_statement("WriteJobLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], streams))
    return statements


def job_role_statements(scope: ArnScope, remote_log_groups: Sequence[str]) -> list[dict[str, Any]]:
    """What the task process itself needs from AWS: nothing for batch-router (it talks to Airflow's
    Execution API over HTTP), and, with Airflow's CloudWatch remote logging, writing its log group."""
    if not remote_log_groups:
        return []
    groups = _unique(scope.logs(f"log-group:{group}") for group in remote_log_groups)
    streams = _unique(scope.logs(f"log-group:{group}:log-stream:*") for group in remote_log_groups)
    return [
        _statement("RemoteLogStreams", ["logs:CreateLogStream", "logs:DescribeLogStreams"], groups),
        _statement("RemoteLogEvents", ["logs:GetLogEvents", "logs:PutLogEvents"], streams),
    ]


def policy_document(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def routes_that_send_elsewhere(table: RouteTable) -> list[str]:
    """Routes whose policy lets executor_config pick the queue or job definition: this policy denies
    what those tasks pick outside the table, which is the second fence, but the platform should know."""
    return [
        route.name
        for route in table.routes
        if {"jobQueue", "jobDefinition"} & route.policy.executor_config_keys
    ]
