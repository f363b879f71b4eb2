"""The local Batch sends AWS Batch's job state change events through EventBridge into an SQS queue."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from batch_router.dev.local import LocalBatch
from batch_router.dev.local.job_events import EVENTS_QUEUE_NAME

Run = Callable[..., dict[str, Any]]


def _events_of(local_batch: LocalBatch, job_id: str) -> list[dict[str, Any]]:
    sqs = local_batch.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=local_batch.events_queue, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return [event for event in found if event["detail"]["jobId"] == job_id]
        found += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=local_batch.events_queue,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def test_every_status_after_submission_is_sent_as_a_batch_job_state_change(
    local_batch: LocalBatch, run_job: Run
) -> None:
    job = run_job([sys.executable, "-c", "pass"])

    events = _events_of(local_batch, job["jobId"])

    assert [e["detail"]["status"] for e in events] == [
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    assert {(e["source"], e["detail-type"]) for e in events} == {("aws.batch", "Batch Job State Change")}
    assert events[-1]["resources"] == [job["jobArn"]]
    assert events[-1]["detail"]["container"]["exitCode"] == 0


def test_the_executor_is_pointed_at_the_events_queue(local_batch: LocalBatch) -> None:
    variable = local_batch.env()["AIRFLOW__AWS_BATCH_EXECUTOR__JOB_EVENTS_QUEUE"]

    assert variable == local_batch.events_queue and variable.endswith(f"/{EVENTS_QUEUE_NAME}")
