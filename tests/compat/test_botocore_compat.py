"""Answers parsed by botocore leave no cyclic garbage behind once the client's parsers are given defaults."""

from __future__ import annotations

import base64
import gc
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from batch_router.aws.batch_client import BatchClient
from batch_router.compat.botocore import without_parser_cycles

ANSWER = json.dumps({"jobs": [{"jobId": "a", "jobName": "n", "status": "RUNNING", "createdAt": 1}]})


class _Raw:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield ANSWER.encode()


def answer_locally(**_: Any) -> AWSResponse:
    """A ``before-send`` handler: botocore parses this answer as if AWS had sent it."""
    return AWSResponse("https://batch.us-east-1.amazonaws.com", 200, {}, _Raw())


@pytest.fixture
def batch(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.Session(region_name="us-east-1").client("batch")
    client.meta.events.register("before-send.batch.DescribeJobs", answer_locally)
    return client


def cyclic_garbage_of(calls: int, client: Any) -> int:
    client.describe_jobs(jobs=["a"])  # the first call loads what later calls reuse
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            assert client.describe_jobs(jobs=["a"])["jobs"][0]["jobId"] == "a"
        return gc.collect()
    finally:
        gc.enable()


def test_botocore_leaves_a_cycle_behind_every_answer_by_default(batch: Any) -> None:
    """What the module works around; if this fails, botocore fixed it and the module can go."""
    assert cyclic_garbage_of(20, batch) >= 20


def test_a_client_given_parser_defaults_leaves_none(batch: Any) -> None:
    assert without_parser_cycles(batch)

    assert cyclic_garbage_of(20, batch) == 0


def test_every_client_the_batch_client_makes_is_given_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    made: list[Any] = []

    def make(service: str, config: Any) -> Any:
        client = boto3.Session(region_name="us-east-1").client(service, config=config)
        made.append(client)
        return client

    BatchClient(aws_conn_id=None, region_name="us-east-1", make_client=make).prepare()

    assert len(made) == 3  # submit, read and poll
    for client in made:
        client.meta.events.register("before-send.batch.DescribeJobs", answer_locally)
        assert cyclic_garbage_of(5, client) == 0


def test_blobs_are_decoded_as_botocore_decodes_them() -> None:
    from botocore.parsers import RestJSONParser

    from batch_router.compat.botocore import _blob

    value = base64.b64encode(b"\x00\xffbinary").decode()
    assert _blob(value) == RestJSONParser()._default_blob_parser(value)


def test_botocore_still_keeps_each_validation_error_as_reason_name_and_details() -> None:
    """When this fails, botocore moved ``ValidationErrors._errors``: read the new place in
    ``compat.botocore.validation_errors`` (problems lose their JSON paths until then)."""
    from botocore.validate import ParamValidator

    from batch_router.compat.botocore import validation_errors
    from batch_router.plan.request_shape import _submit_job_shape

    report = ParamValidator().validate({"jobName": 3}, _submit_job_shape())

    errors = validation_errors(report)
    assert errors is not None
    assert ("missing required field", "jobQueue") in [
        (reason, details.get("required_name")) for reason, _, details in errors
    ]
