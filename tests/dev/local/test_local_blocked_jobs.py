"""The local Batch blocks a RUNNABLE job with AWS's documented reason where its queue cannot run it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from batch_router.dev.local import LocalBatch
from batch_router.dev.local.blocking import NO_CAPACITY, TOO_BIG, blocked_reason, job_vcpus

Wait = Callable[..., dict[str, Any]]


def _submit(batch: Any, **overrides: Any) -> str:
    job_id: str = batch.submit_job(
        jobName="waits",
        jobQueue="local-fargate",
        jobDefinition="local-fargate-def",
        containerOverrides={"command": ["python", "-c", "print('ran')"], **overrides},
    )["jobId"]
    return job_id


def _reason_while_runnable(batch: Any, job_id: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] == "RUNNABLE" and job.get("statusReason"):
            return str(job["statusReason"])
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never blocked")


def test_a_job_asking_for_more_vcpus_than_its_queue_may_run_blocks_until_cancelled(
    batch: Any, wait_for: Wait
) -> None:
    job_id = _submit(batch, resourceRequirements=[{"type": "VCPU", "value": "1024"}])

    assert _reason_while_runnable(batch, job_id) == TOO_BIG
    batch.cancel_job(jobId=job_id, reason="it can never run")
    job = wait_for(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "it can never run")


def test_a_queue_without_capacity_blocks_its_jobs_until_it_is_given_back(
    local_batch: LocalBatch, batch: Any, wait_for: Wait
) -> None:
    local_batch.hold_capacity("local-fargate")
    try:
        job_id = _submit(batch)
        assert _reason_while_runnable(batch, job_id) == NO_CAPACITY
    finally:
        local_batch.hold_capacity("local-fargate", held=False)

    assert wait_for(batch, job_id)["status"] == "SUCCEEDED"


def test_a_job_that_fits_is_not_blocked() -> None:
    assert blocked_reason(4, [16, None], has_capacity=True) is None


def test_the_vcpus_of_a_request_override_those_of_its_definition() -> None:
    definition = {"resourceRequirements": [{"type": "VCPU", "value": "1"}]}

    assert job_vcpus(definition, {"resourceRequirements": [{"type": "VCPU", "value": "8"}]}) == 8
    assert job_vcpus(definition, None) == 1
    assert job_vcpus({"vcpus": 2}, {}) == 2
