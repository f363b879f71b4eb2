"""Reading AWS Batch's job state change events from SQS messages (pure), and the order of job states."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from batch_router.aws.job_events import MESSAGE_BYTES_MAX, JobEvent, Unreadable, advances, read_message
from batch_router.plan.naming import DEPLOYMENT_TAG

STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"]

# AWS Batch user guide, "Job state change events": the documented example, as EventBridge puts it in SQS.
DOCUMENTED: dict[str, Any] = {
    "version": "0",
    "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
    "detail-type": "Batch Job State Change",
    "source": "aws.batch",
    "account": "123456789012",
    "time": "2022-01-11T23:36:40Z",
    "region": "us-east-1",
    "resources": ["arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8"],
    "detail": {
        "jobArn": "arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "jobName": "event-test",
        "jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/PexjEHappyPathCanary2JobQueue",
        "status": "RUNNABLE",
        "attempts": [],
        "createdAt": 1641944200058,
        "tags": {
            "resourceArn": "arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8"
        },
        "propagateTags": False,
        "platformCapabilities": [],
    },
}


def _message(body: Any, **attributes: str) -> dict[str, Any]:
    return {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": body if isinstance(body, str) else json.dumps(body),
        "Attributes": attributes,
    }


def test_the_documented_event_reads_as_its_jobs_new_status_in_its_queue() -> None:
    event = read_message(_message(DOCUMENTED, SentTimestamp="1641944200500"))

    assert isinstance(event, JobEvent)
    assert (event.job_id, event.status, event.job_queue) == (
        "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "RUNNABLE",
        "PexjEHappyPathCanary2JobQueue",
    )
    assert event.deployment is None and event.sent_at == 1641944200.5 and event.receipt == "r-1"


def test_the_deployment_tag_is_read_from_the_jobs_tags() -> None:
    tagged = {**DOCUMENTED, "detail": {**DOCUMENTED["detail"], "tags": {DEPLOYMENT_TAG: "team-a"}}}

    event = read_message(_message(tagged))

    assert isinstance(event, JobEvent) and event.deployment == "team-a"


def test_properties_aws_may_add_later_are_ignored() -> None:
    more = {**DOCUMENTED, "new-field": 1, "detail": {**DOCUMENTED["detail"], "somethingNew": {"a": 1}}}

    assert isinstance(read_message(_message(more)), JobEvent)


def test_a_status_aws_batch_does_not_use_is_unreadable() -> None:
    odd = {**DOCUMENTED, "detail": {**DOCUMENTED["detail"], "status": "EXPLODED"}}

    assert isinstance(read_message(_message(odd)), Unreadable)


def test_an_event_of_another_source_is_unreadable() -> None:
    ecs = {**DOCUMENTED, "source": "aws.ecs", "detail-type": "ECS Task State Change"}

    assert isinstance(read_message(_message(ecs)), Unreadable)


def test_a_body_larger_than_an_sqs_message_is_not_parsed() -> None:
    assert isinstance(read_message(_message("x" * (MESSAGE_BYTES_MAX + 1))), Unreadable)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50).map(repr), st.none()))
def test_no_body_makes_the_reader_raise(body: str | None) -> None:
    result = read_message({"MessageId": "m", "ReceiptHandle": "r", "Body": body})

    assert isinstance(result, (JobEvent, Unreadable))


@given(st.sampled_from([None, *STATUSES]), st.sampled_from(STATUSES))
def test_an_event_advances_a_job_only_past_what_is_known(known: str | None, status: str) -> None:
    moved = advances(known, status)

    if known is None:
        assert moved
    elif known == status or known in ("SUCCEEDED", "FAILED"):
        assert not moved
    else:
        assert moved == (STATUSES.index(status) > STATUSES.index(known))


# AWS Batch user guide, "Job queue blocked events": the documented example (its detail shortened).
BLOCKED: dict[str, Any] = {
    **DOCUMENTED,
    "detail-type": "Batch Job Queue Blocked",
    "resources": [
        "arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "arn:aws:batch:us-east-1:123456789012:job-queue/PexjEHappyPathCanary2JobQueue",
    ],
    "detail": {**DOCUMENTED["detail"], "statusReason": "blocked-reason"},
}


def test_the_documented_queue_blocked_event_reads_as_its_job_blocking_its_queue() -> None:
    event = read_message(_message(BLOCKED))

    assert isinstance(event, JobEvent) and event.queue_blocked
    assert (event.status, event.job_queue) == ("RUNNABLE", "PexjEHappyPathCanary2JobQueue")


def test_a_state_change_event_is_not_a_queue_blocked_one() -> None:
    event = read_message(_message(DOCUMENTED))

    assert isinstance(event, JobEvent) and not event.queue_blocked


def test_a_new_reason_for_a_job_still_runnable_is_news_and_a_plain_runnable_event_is_not() -> None:
    assert advances("RUNNABLE", "RUNNABLE", new_reason=True)
    assert not advances("RUNNABLE", "RUNNABLE")
    assert not advances("RUNNING", "RUNNABLE", new_reason=True)
