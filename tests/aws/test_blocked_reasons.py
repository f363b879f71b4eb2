"""AWS Batch's documented reasons a RUNNABLE job blocks its queue, read from its statusReason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_router.aws.blocked_reasons import (
    LIMITABLE,
    REASONS,
    WAIT_LIMIT_MAX_SECONDS,
    WAIT_LIMIT_MIN_SECONDS,
    blocked,
    cancelled_by_wait_limit,
)

# The statusReason messages as the user guide writes them ("Jobs stuck in a RUNNABLE status").
DOCUMENTED = {
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot "
    "fulfill the capacity requested for instance type [m5.large]",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
    " - CE(s) associated with the job queue cannot meet the CPU requirement of the job.",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job "
    "resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the "
    "job queue.",
    "MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED": "MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION"
    "_UNSUPPORTED - Your compute environment associated with this job queue has an unsupported instance "
    "type configuration.",
    "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS": "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS \u2013 Batch "
    "service role has a permission issue.",
    "ACTION_REQUIRED": "ACTION_REQUIRED - CE(s) associated with the job queue are invalid.",
    "UNDETERMINED": "UNDETERMINED - Batch job is blocked, root cause is undetermined.",
}
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "routes.schema.json"


@pytest.mark.parametrize("code", sorted(DOCUMENTED))
def test_every_documented_message_is_read_as_its_reason(code: str) -> None:
    found = blocked({"status": "RUNNABLE", "statusReason": DOCUMENTED[code]})

    assert found is not None and found.code == code and found.message == DOCUMENTED[code]


def test_every_documented_reason_is_in_the_table_and_no_other() -> None:
    assert set(REASONS) == set(DOCUMENTED)


def test_only_reasons_about_the_job_itself_fail_it_at_once() -> None:
    assert {code for code, r in REASONS.items() if not r.clears_by_waiting} == {
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    }


def test_a_reason_on_a_job_that_is_not_runnable_is_not_a_blocked_reason() -> None:
    text = DOCUMENTED["CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"]

    assert blocked({"status": "STARTING", "statusReason": text}) is None


@pytest.mark.parametrize(
    "text",
    ["", "Waiting for capacity", "CAPACITY:SOMETHING_NEW - later", "capacity:insufficient_instance_capacity"],
)
def test_a_status_reason_that_names_no_documented_reason_is_none(text: str) -> None:
    assert blocked({"status": "RUNNABLE", "statusReason": text}) is None


@given(st.text(max_size=300))
def test_any_status_reason_reads_without_raising(text: str) -> None:
    found = blocked({"status": "RUNNABLE", "statusReason": text})

    assert found is None or found.code in REASONS


def test_a_very_long_message_is_shortened() -> None:
    found = blocked({"status": "RUNNABLE", "statusReason": "UNDETERMINED - " + "x" * 100_000})

    assert found is not None and len(found.message) < 5_000


def test_a_job_the_wait_limit_cancelled_names_the_reason() -> None:
    job = {
        "status": "FAILED",
        "statusReason": "Canceled by JobStateTimeLimit action due to reason: "
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    }

    assert cancelled_by_wait_limit(job) == "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"


def test_a_job_that_failed_otherwise_was_not_cancelled_by_a_wait_limit() -> None:
    assert cancelled_by_wait_limit({"status": "FAILED", "statusReason": "CannotPullContainerError"}) is None


def test_the_route_schema_allows_wait_limits_for_exactly_the_reasons_aws_can_act_on_within_its_bounds() -> (
    None
):
    limits = json.loads(SCHEMA.read_text())["$defs"]["route"]["properties"]["wait_limits"]

    assert limits["propertyNames"]["enum"] == list(LIMITABLE)
    assert (limits["additionalProperties"]["minimum"], limits["additionalProperties"]["maximum"]) == (
        WAIT_LIMIT_MIN_SECONDS,
        WAIT_LIMIT_MAX_SECONDS,
    )
