"""What a poll hands back to the scheduler thread: only the jobs whose status changed, already read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import BatchClient
from batch_router.executor import calls


class Described:
    """Stands in for BatchClient.describe_jobs with fixed answers."""

    def __init__(self, *jobs: dict[str, Any]) -> None:
        self.jobs = {job["jobId"]: job for job in jobs}

    def describe_jobs(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [self.jobs[job_id] for job_id in job_ids if job_id in self.jobs]


def poll(client: Described, known: dict[str, str | None]) -> calls.PollResult:
    fake: BatchClient = client  # type: ignore[assignment]
    return calls.poll(fake, known, "/aws/batch/job")


def test_jobs_whose_status_did_not_change_are_left_out() -> None:
    client = Described(*({"jobId": f"j{i}", "status": "RUNNING"} for i in range(100)))

    result = poll(client, {f"j{i}": "RUNNING" for i in range(100)})

    assert (result.updates, result.missing, result.error) == ((), (), None)


def test_a_changed_status_comes_back_with_its_phase() -> None:
    client = Described({"jobId": "a", "status": "RUNNING"}, {"jobId": "b", "status": "RUNNABLE"})

    result = poll(client, {"a": "STARTING", "b": "RUNNABLE"})

    assert result.updates == (calls.JobUpdate("a", "RUNNING", states.Phase.RUNNING),)


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
