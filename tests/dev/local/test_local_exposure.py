"""The local Batch answers only what an SDK on this machine sends: a job is a command run as the user."""

from __future__ import annotations

import http.client
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from batch_router.dev.local import LocalBatch, credentials

SUBMIT = json.dumps({"jobName": "x", "jobQueue": "local-fargate", "jobDefinition": "local-fargate-def"})


def _post(local_batch: LocalBatch, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", local_batch.port, timeout=10)
    try:
        connection.request("POST", "/v1/submitjob", body=SUBMIT, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_a_request_naming_another_host_is_refused(local_batch: LocalBatch, batch: Any) -> None:
    before = len(batch.list_jobs(jobQueue="local-fargate", jobStatus="SUCCEEDED")["jobSummaryList"])

    status, _ = _post(local_batch, {"Host": f"attacker.example:{local_batch.port}"})

    assert status == 403
    assert len(batch.list_jobs(jobQueue="local-fargate", jobStatus="SUCCEEDED")["jobSummaryList"]) == before


def test_a_request_from_a_web_browser_is_refused_even_for_the_right_host(local_batch: LocalBatch) -> None:
    headers = {"Host": f"127.0.0.1:{local_batch.port}", "Origin": "http://attacker.example"}

    status, answer = _post(local_batch, headers)

    assert status == 403
    assert "access-control-allow-origin" not in answer


def test_moto_itself_no_longer_reflects_a_foreign_origin(local_batch: LocalBatch) -> None:
    from moto.moto_server.werkzeug_app import create_backend_app
    from werkzeug.test import Client

    app = Client(create_backend_app("batch"))  # the Batch app itself, behind the guard
    credentials.release()  # an unsigned call straight to moto's app, for its CORS headers alone
    try:
        answer = app.post("/v1/describejobqueues", data="{}", headers={"Origin": "http://attacker.example"})
    finally:
        credentials.require_signed_requests()

    assert answer.headers.get("Access-Control-Allow-Origin") is None


def test_an_unsigned_request_is_refused(local_batch: LocalBatch) -> None:
    status, _ = _post(local_batch, {"Host": f"127.0.0.1:{local_batch.port}"})

    assert status == 403


def test_a_request_signed_with_another_key_is_refused(local_batch: LocalBatch) -> None:
    stranger = boto3.client(
        "batch",
        endpoint_url=local_batch.endpoint_url,
        region_name=local_batch.region,
        aws_access_key_id="AKIAOTHERUSER0000000",
        aws_secret_access_key="not-the-printed-secret",
    )

    with pytest.raises(ClientError) as refused:
        stranger.describe_job_queues()

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_each_run_has_a_key_pair_of_its_own(local_batch: LocalBatch) -> None:
    assert local_batch.key.access_key_id != "batch-router-local"
    assert local_batch.env()["AWS_SECRET_ACCESS_KEY"] == local_batch.key.secret_access_key
