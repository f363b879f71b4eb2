"""The local Batch throttles SubmitJob as AWS does, when asked: 429 TooManyRequestsException, no job."""

from __future__ import annotations

import pytest

from batch_router.aws.errors import BatchApiError, ErrorKind
from batch_router.config.model import Route, RouteTable
from batch_router.dev.local import LocalBatch
from batch_router.dev.local.clients import local_batch_client

TABLE = RouteTable(routes=(Route("small", "fargate", "local-q", "local-def"),), default_route="small")
REQUEST = {"jobName": "throttled", "jobQueue": "local-q", "jobDefinition": "local-def"}


def test_the_first_submits_are_throttled_like_aws_and_make_no_job_then_submits_go_through() -> None:
    with LocalBatch(TABLE, transition_seconds=0.02, kill_grace_seconds=1.0, throttle_submits=2) as batch:
        client = local_batch_client(batch.env())
        errors = []
        for _ in range(2):
            with pytest.raises(BatchApiError) as raised:
                client.submit_job(REQUEST)
            errors.append(raised.value)
        job_id = client.submit_job(REQUEST)

        assert [e.kind for e in errors] == [ErrorKind.THROTTLED, ErrorKind.THROTTLED]
        assert all(e.code == "TooManyRequestsException" for e in errors)
        listed, _, _ = client.list_job_summaries("local-q", created_after_ms=0)
        assert [s["jobId"] for s in listed] == [job_id]
