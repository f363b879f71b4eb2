"""What a poll hands back to the scheduler thread: only the jobs whose status changed, already read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import BatchClient
from batch_router.aws.brief_answers import brief_jobs_body
from batch_router.executor import calls
from batch_router.executor.outcomes import Polled, StatusChanged


class Described:
    """Stands in for BatchClient.describe_job_statuses with fixed answers, given as they are answered."""

    def __init__(self, *jobs: dict[str, Any]) -> None:
        self.jobs = {job["jobId"]: job for job in jobs}

    def describe_job_statuses(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [self.jobs[job_id] for job_id in job_ids if job_id in self.jobs]


def poll(client: Described, known: dict[str, str | None]) -> Polled:
    fake: BatchClient = client  # type: ignore[assignment]
    return calls.poll(fake, known, "/aws/batch/job")


def test_jobs_whose_status_did_not_change_are_left_out() -> None:
    client = Described(*({"jobId": f"j{i}", "status": "RUNNING"} for i in range(100)))

    result = poll(client, {f"j{i}": "RUNNING" for i in range(100)})

    assert (result.updates, result.missing, result.error) == ((), (), None)


def test_a_changed_status_comes_back_with_its_phase() -> None:
    client = Described({"jobId": "a", "status": "RUNNING"}, {"jobId": "b", "status": "RUNNABLE"})

    result = poll(client, {"a": "STARTING", "b": "RUNNABLE"})

    assert result.updates == (StatusChanged("a", "RUNNING", states.Phase.RUNNING),)


def test_a_failed_job_comes_back_with_its_reason_and_whether_the_task_started() -> None:
    never_started = {
        "jobId": "a",
        "jobName": "n",
        "status": "FAILED",
        "statusReason": "CannotPullContainerError",
    }
    ran = {
        "jobId": "b",
        "jobName": "m",
        "status": "FAILED",
        "startedAt": 1,
        "statusReason": "Essential container in task exited",
        "container": {"exitCode": 1, "logStreamName": "s/b"},
    }

    updates = {
        u.job_id: u for u in poll(Described(never_started, ran), {"a": "RUNNABLE", "b": "RUNNING"}).updates
    }

    assert updates["a"].failed_before_start and "CannotPullContainerError" in str(updates["a"].info)
    assert not updates["b"].failed_before_start
    assert "exit code 1" in str(updates["b"].info) and "/aws/batch/job/s/b" in str(updates["b"].info)


def test_jobs_batch_did_not_return_are_listed_as_missing() -> None:
    result = poll(Described({"jobId": "a", "status": "RUNNING"}), {"a": "RUNNING", "gone": "RUNNING"})

    assert result.missing == ("gone",)


def test_an_unknown_status_is_always_a_change() -> None:
    result = poll(Described({"jobId": "a", "status": "RUNNING"}), {"a": None})

    assert [u.status for u in result.updates] == ["RUNNING"]


def test_a_blocked_reason_that_comes_is_a_change_though_the_status_is_not() -> None:
    reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested"
    job = {"jobId": "a", "status": "RUNNABLE", "statusReason": reason}

    (update,) = poll(Described(job), {"a": "RUNNABLE"}).updates

    assert update.blocked is not None and update.blocked.code == "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"


def test_a_blocked_reason_the_executor_knows_is_no_change() -> None:
    reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested"
    job = {"jobId": "a", "status": "RUNNABLE", "statusReason": reason}

    assert poll(Described(job), {"a": "RUNNABLE CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"}).updates == ()


def test_a_blocked_reason_that_goes_is_a_change() -> None:
    job = {"jobId": "a", "status": "RUNNABLE"}

    (update,) = poll(Described(job), {"a": "RUNNABLE CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"}).updates

    assert (update.status, update.blocked) == ("RUNNABLE", None)


def test_a_job_a_wait_limit_cancelled_names_the_reason_and_carries_no_workload_to_submit_again() -> None:
    job = {
        "jobId": "a",
        "jobName": "n",
        "status": "FAILED",
        "statusReason": "Canceled by JobStateTimeLimit action due to reason: "
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    }

    (update,) = poll(Described(job), {"a": "RUNNABLE"}).updates

    assert update.wait_limit_reason == "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
    assert update.workload is None


STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED", "NEW"]
REASONS = [
    "CannotPullContainerError",
    "Essential container in task exited",
    "Host EC2 i-1 terminated",
    "",
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is higher",
    "Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
]
container = st.fixed_dictionaries(
    {},
    optional={
        "exitCode": st.integers(0, 255),
        "reason": st.sampled_from(REASONS),
        "logStreamName": st.text(min_size=1, max_size=8),
        "command": st.lists(st.text(max_size=8), max_size=3),
        "logConfiguration": st.just({"options": {"awslogs-group": "/custom"}}),
    },
)
job_description = st.fixed_dictionaries(
    {"status": st.sampled_from(STATUSES)},
    optional={
        "jobName": st.text(min_size=1, max_size=8),
        "statusReason": st.sampled_from(REASONS),
        "startedAt": st.integers(0, 10),
        "container": container,
        "attempts": st.lists(st.fixed_dictionaries({}, optional={"container": container}), max_size=2),
        "tags": st.just({"batch-router:try": "t"}),
    },
)


@given(
    jobs=st.lists(job_description, max_size=6),
    known=st.lists(
        st.sampled_from([None, *STATUSES, "RUNNABLE CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"]),
        min_size=6,
        max_size=6,
    ),
)
def test_a_poll_over_brief_answers_finds_what_it_finds_over_full_ones(
    jobs: list[dict[str, Any]], known: list[str | None]
) -> None:
    """The brief answers drop every field of a job that has not failed: the poll must read none of them."""
    full = [{"jobId": f"j{i}", **job} for i, job in enumerate(jobs)]
    ask = {f"j{i}": status for i, status in enumerate(known)}
    brief_body = brief_jobs_body(json.dumps({"jobs": full}).encode())
    assert brief_body is not None

    assert poll(Described(*json.loads(brief_body)["jobs"]), ask) == poll(Described(*full), ask)
