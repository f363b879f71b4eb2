"""DescribeJobs answers cut down, before botocore parses them, to what the status poll reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_router.aws.brief_answers import brief_jobs_body, shrink_describe_jobs

RUNNING = {
    "jobId": "a",
    "jobName": "dag-task",
    "status": "RUNNING",
    "startedAt": 2,
    "container": {"command": ["x"], "environment": [{"name": "A", "value": "1"}]},
    "attempts": [],
}
FAILED = {"jobId": "b", "status": "FAILED", "statusReason": "CannotPullContainerError", "container": {}}


def brief(*jobs: dict[str, Any]) -> list[dict[str, Any]]:
    body = brief_jobs_body(json.dumps({"jobs": list(jobs)}).encode())
    assert body is not None
    return list(json.loads(body)["jobs"])


def test_a_job_that_has_not_failed_keeps_only_its_id_and_status() -> None:
    assert brief(RUNNING) == [{"jobId": "a", "status": "RUNNING"}]


def test_a_failed_job_is_kept_whole() -> None:
    assert brief(RUNNING, FAILED) == [{"jobId": "a", "status": "RUNNING"}, FAILED]


def test_a_runnable_job_keeps_its_status_reason_which_says_why_it_blocks_its_queue() -> None:
    blocked = {
        "jobId": "c",
        "status": "RUNNABLE",
        "statusReason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity",
        "container": {"command": ["x"]},
    }

    assert brief(blocked) == [{key: blocked[key] for key in ("jobId", "status", "statusReason")}]


def test_the_rest_of_the_answer_is_kept() -> None:
    body = brief_jobs_body(json.dumps({"jobs": [RUNNING], "nextToken": "t"}).encode())

    assert body is not None and json.loads(body)["nextToken"] == "t"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"jobs": 3}', b'{"jobs": [1]}', b""])
def test_a_body_that_is_not_a_describe_jobs_answer_is_not_rewritten(body: bytes) -> None:
    assert brief_jobs_body(body) is None


def test_the_handler_replaces_a_successful_answers_body() -> None:
    response: dict[str, Any] = {"status_code": 200, "body": json.dumps({"jobs": [RUNNING]}).encode()}

    shrink_describe_jobs(response_dict=response)

    assert json.loads(response["body"]) == {"jobs": [{"jobId": "a", "status": "RUNNING"}]}


def test_the_handler_leaves_an_error_answer_for_botocore() -> None:
    error = json.dumps({"__type": "ClientException", "message": "no", "jobs": [RUNNING]}).encode()
    response = {"status_code": 400, "body": error}

    shrink_describe_jobs(response_dict=response)

    assert response["body"] == error


def test_the_handler_leaves_a_body_that_is_not_bytes() -> None:
    stream = object()
    response = {"status_code": 200, "body": stream}

    shrink_describe_jobs(response_dict=response)

    assert response["body"] is stream
