"""What an SQS message from AWS Batch's EventBridge rule says: one job's new status, or nothing usable.

AWS Batch sends a "Batch Job State Change" event (source ``aws.batch``) each time a job that was
submitted changes status, none for the submission itself; its ``detail`` is the job as DescribeJobs
describes it (AWS Batch user guide, "Job state change events",
https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html). When a RUNNABLE job blocks
the head of its queue it sends a "Batch Job Queue Blocked" event, whose ``detail`` is the job too, its
``statusReason`` the reason (user guide, "Job queue blocked events"; ``blocked_reasons``). An
EventBridge rule whose target is an SQS queue puts the whole event, as JSON, in the message body.
AWS says more properties may come
(https://docs.aws.amazon.com/batch/latest/userguide/batch_cwe_events.html), so only the fields read here
are required. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_router.aws.blocked_reasons import BLOCKED_EVENT_DETAIL_TYPE
from batch_router.config.model import resource_name
from batch_router.plan.naming import DEPLOYMENT_TAG

__all__ = [
    "DETAIL_TYPE",
    "DETAIL_TYPES",
    "MESSAGE_BYTES_MAX",
    "SOURCE",
    "JobEvent",
    "Unreadable",
    "advances",
    "read_message",
]

SOURCE = "aws.batch"
DETAIL_TYPE = "Batch Job State Change"
DETAIL_TYPES = (DETAIL_TYPE, BLOCKED_EVENT_DETAIL_TYPE)  # what the rule sends and the reader reads
# SQS messages are at most 256 KiB (SQS developer guide, "Amazon SQS message quotas"); a body larger
# than that did not come from SQS as written and is not parsed.
MESSAGE_BYTES_MAX = 262_144
# A job's statuses in the order it passes them (AWS Batch user guide, "Job states"): an event for a
# status at or before the one the executor knows is a duplicate or came late, and changes nothing.
_PROGRESSION = {
    "SUBMITTED": 0,
    "PENDING": 1,
    "RUNNABLE": 2,
    "STARTING": 3,
    "RUNNING": 4,
    "SUCCEEDED": 5,
    "FAILED": 5,
}


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One job's status change, as read from one message."""

    message_id: str
    receipt: str  # the receipt handle: what DeleteMessage and ChangeMessageVisibility take
    job_id: str
    status: str
    job_queue: str  # the queue's name (the event names it by ARN)
    deployment: str | None  # the job's batch-router:deployment tag, when the event carries its tags
    sent_at: float | None  # when SQS got the message (epoch seconds), for how long it may be held
    detail: Mapping[str, Any]  # the job, as DescribeJobs describes it
    queue_blocked: bool = False  # a "Batch Job Queue Blocked" event: the job is RUNNABLE and blocks


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A message that is not a Batch job state change the executor can read, and why."""

    message_id: str
    receipt: str
    reason: str


def advances(known: str | None, status: str, *, new_reason: bool = False) -> bool:
    """Whether an event for ``status`` moves a job the executor knows at ``known`` forward.

    ``new_reason``: the event is a queue-blocked event whose reason differs from the one the executor
    has; for a job still RUNNABLE that is news although its status is not. A plain state change event
    for the status the job is at never is (a late duplicate must not clear a reason).
    """
    if known is None:
        return True
    if new_reason and status == known == "RUNNABLE":
        return True
    return _PROGRESSION.get(status, -1) > _PROGRESSION.get(known, -1)


def read_message(message: Mapping[str, Any]) -> JobEvent | Unreadable:
    """One ReceiveMessage entry as a ``JobEvent``, or ``Unreadable`` saying what is wrong with it."""
    message_id = str(message.get("MessageId", ""))[:128]
    receipt = str(message.get("ReceiptHandle", ""))
    body = message.get("Body")
    if not isinstance(body, str) or len(body) > MESSAGE_BYTES_MAX:
        return Unreadable(message_id, receipt, "the body is missing or larger than an SQS message")
    try:
        event = json.loads(body)
    except ValueError:
        return Unreadable(message_id, receipt, "the body is not JSON")
    if not isinstance(event, dict):
        return Unreadable(message_id, receipt, "the body is not a JSON object")
    if event.get("source") != SOURCE or event.get("detail-type") not in DETAIL_TYPES:
        return Unreadable(
            message_id,
            receipt,
            f'not a "{DETAIL_TYPE}" or "{BLOCKED_EVENT_DETAIL_TYPE}" event from {SOURCE} (the rule\'s '
            "pattern is wider?)",
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return Unreadable(message_id, receipt, "the event has no detail object")
    job_id, status, queue = detail.get("jobId"), detail.get("status"), detail.get("jobQueue")
    if not isinstance(job_id, str) or not job_id or status not in _PROGRESSION:
        return Unreadable(
            message_id, receipt, "the event's detail has no jobId or a status AWS Batch does not use"
        )
    tags = detail.get("tags")
    deployment = tags.get(DEPLOYMENT_TAG) if isinstance(tags, dict) else None
    return JobEvent(
        message_id=message_id,
        receipt=receipt,
        job_id=job_id,
        status=str(status),
        job_queue=resource_name(queue) if isinstance(queue, str) else "",
        deployment=deployment if isinstance(deployment, str) else None,
        sent_at=_sent_at(message),
        detail=detail,
        queue_blocked=event.get("detail-type") == BLOCKED_EVENT_DETAIL_TYPE,
    )


def _sent_at(message: Mapping[str, Any]) -> float | None:
    attributes = message.get("Attributes")
    raw = attributes.get("SentTimestamp") if isinstance(attributes, dict) else None
    try:
        return int(raw) / 1000 if raw is not None else None  # epoch milliseconds
    except (TypeError, ValueError):
        return None
