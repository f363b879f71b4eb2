"""What the job events path needs in the account: the EventBridge rule for the route table's job queues,
the SQS queue it sends to (with a dead-letter queue), and the queue policy letting only that rule send.

The rule matches AWS Batch's "Batch Job State Change" and "Batch Job Queue Blocked" events (source
``aws.batch``; user guide, "Job queue blocked events": the job that blocks, with its reason) whose
``detail.jobQueue`` is one of the table's queues, by ARN as the event names it (AWS Batch user guide,
"Job state change events"; EventBridge user guide, "Event patterns": a list matches any of its values).
Pure: plain dicts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from batch_router.provision.cfn import get_att, ref

__all__ = [
    "DEAD_LETTER_QUEUE",
    "EVENTS_QUEUE",
    "EVENTS_RULE",
    "MAX_RECEIVE_COUNT",
    "RETENTION_SECONDS",
    "event_pattern",
    "event_resources",
]

SOURCE = "aws.batch"
DETAIL_TYPE = "Batch Job State Change"
BLOCKED_DETAIL_TYPE = "Batch Job Queue Blocked"
EVENTS_QUEUE = "JobEventsQueue"
DEAD_LETTER_QUEUE = "JobEventsDeadLetterQueue"
EVENTS_RULE = "JobEventsRule"
EVENTS_QUEUE_POLICY = "JobEventsQueuePolicy"
# Four days (SQS's default, 1 minute to 14 days): events outlive a scheduler outage of a long weekend
# and are still there for the scheduler that adopts the tries (SQS developer guide, "Message retention").
RETENTION_SECONDS = 345_600
DEAD_LETTER_RETENTION_SECONDS = 1_209_600  # the maximum, 14 days: time to look at what landed there
# A message is received again each time a scheduler releases it for another (EVENTS_HOLD_SECONDS over
# RELEASE_SECONDS, 40 times by default, more with several schedulers); only one received far more often
# than that, which no reader could take, is moved to the dead-letter queue.
MAX_RECEIVE_COUNT = 500


def event_pattern(job_queue_arns: Sequence[Any]) -> dict[str, Any]:
    """The EventBridge pattern of the job state change events of these job queues."""
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE, BLOCKED_DETAIL_TYPE],
        "detail": {"jobQueue": list(job_queue_arns)},
    }


def event_resources(job_queue_arns: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """The rule, the queue, its dead-letter queue and the queue policy, as CloudFormation resources."""
    return {
        DEAD_LETTER_QUEUE: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        },
        EVENTS_QUEUE: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "MessageRetentionPeriod": RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": get_att(DEAD_LETTER_QUEUE, "Arn"),
                    "maxReceiveCount": MAX_RECEIVE_COUNT,
                },
            },
        },
        EVENTS_RULE: {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "AWS Batch job state changes of the route table's queues, for batch-router",
                "EventPattern": event_pattern(job_queue_arns),
                "State": "ENABLED",
                "Targets": [{"Id": "batch-router-job-events", "Arn": get_att(EVENTS_QUEUE, "Arn")}],
            },
        },
        # Only this rule may send (EventBridge user guide, "Permissions for Amazon SQS": the
        # events.amazonaws.com principal, with aws:SourceArn the rule's ARN).
        EVENTS_QUEUE_POLICY: {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [ref(EVENTS_QUEUE)],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "EventBridgeRuleSends",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": get_att(EVENTS_QUEUE, "Arn"),
                            "Condition": {"ArnEquals": {"aws:SourceArn": get_att(EVENTS_RULE, "Arn")}},
                        }
                    ],
                },
            },
        },
    }
