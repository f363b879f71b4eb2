"""The job events queue: the SQS calls the event reader makes, and nothing else.

The limits are SQS's (Amazon SQS API reference): ReceiveMessage returns 1 to 10 messages and waits
0 to 20 seconds (``MaxNumberOfMessages``, ``WaitTimeSeconds``,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html); a
visibility timeout is 0 to 43,200 seconds; DeleteMessageBatch and ChangeMessageVisibilityBatch take at
most 10 entries (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
API_DeleteMessageBatch.html). The scheduler's IAM policy grants exactly these actions on this queue
(``iam-policy``): sqs:GetQueueUrl, sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from airflow.utils.helpers import chunks

from batch_router.aws.batch_client import BatchClient

__all__ = ["BATCH_MAX", "RECEIVE_MAX", "VISIBILITY_MAX_SECONDS", "EventQueue", "queue_arn_parts"]

RECEIVE_MAX = 10
BATCH_MAX = 10
VISIBILITY_MAX_SECONDS = 43_200


def _call(method: str, client: Any, **kwargs: Any) -> Any:
    return getattr(client, method)(**kwargs)


def queue_arn_parts(arn: str) -> tuple[str, str, str]:
    """``arn:PARTITION:sqs:REGION:ACCOUNT:NAME`` -> (region, account, name)."""
    parts = arn.split(":", 5)
    return parts[3], parts[4], parts[5]


class EventQueue:
    """One SQS queue, named by URL or ARN (an ARN is turned into the URL on first use)."""

    def __init__(self, client: BatchClient, queue: str):
        self._client = client
        self.queue = queue
        self._url: str | None = None if queue.startswith("arn:") else queue

    def url(self) -> str:
        if self._url is None:
            _, account, name = queue_arn_parts(self.queue)
            response = self._client.sqs(
                "GetQueueUrl", lambda c: c.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
            )
            self._url = str(response["QueueUrl"])
        return self._url

    def receive(self, *, wait_seconds: int, visibility_seconds: int) -> list[dict[str, Any]]:
        """Up to 10 messages, waiting up to ``wait_seconds`` for the first; each hidden from every other
        reader for ``visibility_seconds`` unless deleted or released before."""
        url = self.url()
        response = self._client.sqs(
            "ReceiveMessage",
            lambda c: c.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=RECEIVE_MAX,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=min(visibility_seconds, VISIBILITY_MAX_SECONDS),
                MessageSystemAttributeNames=["SentTimestamp"],
            ),
        )
        return list(response.get("Messages", []))

    def delete(self, receipts: Sequence[str]) -> int:
        """Delete these messages, 10 a call; how many SQS did not delete (they come back, harmlessly)."""
        url, failed = self.url(), 0
        for chunk in chunks(list(receipts), BATCH_MAX):
            entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)]
            response: dict[str, Any] = self._client.sqs(
                "DeleteMessageBatch",
                functools.partial(_call, "delete_message_batch", QueueUrl=url, Entries=entries),
            )
            failed += len(response.get("Failed", []))
        return failed

    def release(self, receipts: Sequence[str], seconds: int) -> None:
        """Make these messages visible again in ``seconds``, for another reader (or this one) to take."""
        url = self.url()
        for chunk in chunks(list(receipts), BATCH_MAX):
            entries = [
                {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": min(seconds, VISIBILITY_MAX_SECONDS)}
                for i, r in enumerate(chunk)
            ]
            self._client.sqs(
                "ChangeMessageVisibilityBatch",
                functools.partial(_call, "change_message_visibility_batch", QueueUrl=url, Entries=entries),
            )
