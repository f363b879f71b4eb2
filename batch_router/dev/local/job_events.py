"""AWS Batch's job state change events, sent by the local Batch as AWS Batch sends them.

Each time a job that was submitted changes status, AWS Batch puts a "Batch Job State Change" event
(source ``aws.batch``, ``detail`` the job as DescribeJobs describes it, ``resources`` its ARN) on the
account's default event bus; none for the submission itself (AWS Batch user guide, "Job state change
events"). moto's EventBridge then does what EventBridge does: every rule whose pattern matches sends it
to its targets, an SQS queue among them. The event is put on moto's backend in this process, as the
service itself would, not through PutEvents (AWS refuses ``aws.*`` sources from callers).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from batch_router.aws.blocked_reasons import BLOCKED_EVENT_DETAIL_TYPE
from batch_router.aws.job_events import DETAIL_TYPE, SOURCE
from batch_router.config.model import resource_name
from batch_router.provision.events import event_pattern

__all__ = ["EVENTS_QUEUE_NAME", "emit", "make_events_queue"]

EVENTS_QUEUE_NAME = "batch-router-job-events"

logger = logging.getLogger(__name__)


def emit(job: Any, *, queue_blocked: bool = False) -> None:
    """Send ``job``'s (a moto Batch ``Job``) current status as its state change event, or with
    ``queue_blocked`` as the "Batch Job Queue Blocked" event AWS Batch sends for a RUNNABLE job that
    blocks its queue (user guide, "Job queue blocked events": the same detail)."""
    from moto.events.models import events_backends

    try:
        account, region = job.job_definition.backend.account_id, job.job_definition._region
        detail = json.dumps(job.describe(), default=str)
        events_backends[account][region].put_events(
            [
                {
                    "Source": SOURCE,
                    "DetailType": BLOCKED_EVENT_DETAIL_TYPE if queue_blocked else DETAIL_TYPE,
                    "Detail": detail,
                    "Resources": [job.arn, job.job_queue.arn] if queue_blocked else [job.arn],
                }
            ]
        )
    except Exception:  # an event the local Batch cannot send is lost, as one can be in AWS
        logger.exception("local Batch: could not send the state change event of job %s", job.job_id)


def make_events_queue(
    job_queues: Iterable[str], *, batch: Any, sqs: Any, events: Any, name: str = EVENTS_QUEUE_NAME
) -> str:
    """The SQS queue and the EventBridge rule ``provision --events`` makes, for these job queues (names
    or ARNs; they must exist); the queue's URL, the executor's JOB_EVENTS_QUEUE."""
    names = sorted({resource_name(queue) for queue in job_queues})
    queue_arns = [q["jobQueueArn"] for q in batch.describe_job_queues(jobQueues=names)["jobQueues"]]
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"{name}-rule"
    events.put_rule(Name=rule, EventPattern=json.dumps(event_pattern(queue_arns)))
    events.put_targets(Rule=rule, Targets=[{"Id": "batch-router-job-events", "Arn": arn}])
    return url
