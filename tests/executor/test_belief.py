"""The executor takes a found job as a try's only if it could have made it for that try (issue 24,
part 3): a job definition the table allows, the try's airflow:* tags, the try's workload in its command."""

from __future__ import annotations

import dataclasses
from typing import Any

from executor_kit import make_workload

from batch_router.aws import try_jobs
from batch_router.aws.job_states import Phase
from batch_router.config.model import Policy, Route, RouteTable
from batch_router.executor import calls
from batch_router.executor.belief import TryClaim, claim_for
from batch_router.executor.workloads import workload_command
from batch_router.plan.model import TaskIdentity
from batch_router.plan.naming import TRY_ID_TAG, job_tags
from batch_router.plan.planner import Plan

WORKLOAD = make_workload()
KEY = WORKLOAD.ti.key
TABLE = RouteTable(
    routes=(Route("r", "ec2", "q", "airflow-worker"),), default_route="r", source="routes.yaml"
)
CLAIM = claim_for(KEY, Plan(TABLE, deployment="prod"))
IDENTITY = TaskIdentity(KEY.dag_id, KEY.task_id, KEY.run_id, KEY.try_number, KEY.map_index, try_id="try-1")


def job(**changes: Any) -> dict[str, Any]:
    """The try's own job, as DescribeJobs describes it; ``changes`` make it another's."""
    described: dict[str, Any] = {
        "jobId": "job-1",
        "jobName": "airflow-task-etl-extract-1-abc",
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/airflow-worker:3",
        "status": "RUNNING",
        "tags": {**job_tags(IDENTITY, "r", deployment="prod"), TRY_ID_TAG: "try-1"},
        "container": {"command": workload_command(WORKLOAD)},
    }
    described.update(changes)
    return described


def test_the_tries_own_job_is_taken() -> None:
    assert CLAIM is not None
    assert CLAIM.foreign(job()) is None


def test_a_job_of_a_definition_the_table_does_not_allow_is_foreign() -> None:
    other = job(jobDefinition="arn:aws:batch:us-east-1:123456789012:job-definition/admin-tools:1")

    assert "job definition 'admin-tools:1' is not one the route table allows" in (CLAIM.foreign(other) or "")


def test_a_job_whose_tags_name_another_try_is_foreign() -> None:
    tags = {**job()["tags"], "airflow:try_number": "7"}

    assert "airflow:try_number" in (CLAIM.foreign(job(tags=tags)) or "")


def test_a_job_without_this_tries_workload_in_its_command_is_foreign() -> None:
    assert "does not carry an Airflow workload" in (
        CLAIM.foreign(job(container={"command": ["sh", "-c", "x"]})) or ""
    )
    other = make_workload(task_id="load")
    assert "another try's workload" in (
        CLAIM.foreign(job(container={"command": workload_command(other)})) or ""
    )


def test_without_a_route_table_any_job_definition_may_be_the_tries() -> None:
    route = Route("default", None, "q", "jd", policy=Policy(open=True))
    seed = RouteTable(routes=(route,), default_route="default", implicit=True)
    claim = claim_for(KEY, Plan(seed, deployment="prod"))

    assert claim is not None
    assert claim.foreign(job(jobDefinition="any-definition:9")) is None


class _Listing:
    """A client whose ListJobs-by-name finds the given jobs."""

    def __init__(self, *jobs: dict[str, Any]):
        self.jobs = list(jobs)

    def find_jobs_named(self, job_queue: str, job_name: str) -> list[dict[str, Any]]:
        return self.jobs


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, event: str, *args: object, **_: object) -> None:
        self.warnings.append(event % args)


def test_a_lost_answer_look_up_leaves_a_foreign_job_with_the_tries_name_and_tag_alone() -> None:
    foreign = job(jobId="job-evil", container={"command": ["sh", "-c", "curl evil"]})
    log = _Log()

    found = try_jobs.find_try_job(_Listing(foreign), "q", "name", frozenset({"try-1"}), claim=CLAIM, log=log)  # type: ignore[arg-type]

    assert found is None
    assert log.warnings == [
        "batch-router: job job-evil in q is not this try's (its command does not carry an Airflow workload);"
        " left alone"
    ]


def test_a_lost_answer_look_up_takes_the_tries_own_job_beside_a_foreign_one() -> None:
    foreign = job(jobId="job-evil", container={"command": ["sh"]})

    found = try_jobs.find_try_job(_Listing(foreign, job()), "q", "name", frozenset({"try-1"}), claim=CLAIM)  # type: ignore[arg-type]

    assert found is not None and found["jobId"] == "job-1"


def test_a_revoke_never_stops_a_foreign_job() -> None:
    stopped: list[str] = []

    class Client(_Listing):
        def cancel_job(self, job_id: str, reason: str) -> None:
            stopped.append(job_id)

        def terminate_job(self, job_id: str, reason: str) -> None:
            stopped.append(job_id)

    foreign = job(jobId="job-evil", container={"command": ["sh"]})
    try_jobs.stop_try_jobs(Client(foreign), [("q", "name")], frozenset({"try-1"}), "revoked", CLAIM)  # type: ignore[arg-type]

    assert stopped == []


def test_a_malformed_job_description_fails_its_try_and_not_the_whole_poll() -> None:
    class Client:
        def describe_job_statuses(self, job_ids: list[str]) -> list[dict[str, Any]]:
            deep = "[" * 50_000
            bad = {
                "jobId": "bad",
                "status": "FAILED",
                "container": {"exitCode": "not-a-number", "command": [deep]},
            }
            return [{"jobId": "good", "status": "SUCCEEDED"}, bad]

    result = calls.poll(Client(), {"good": "RUNNING", "bad": "RUNNING"}, "/aws/batch/job")  # type: ignore[arg-type]

    updates = {u.job_id: u for u in result.updates}
    assert result.error is None
    assert updates["good"].phase is Phase.SUCCEEDED
    assert updates["bad"].phase is Phase.FAILED
    assert "cannot read job bad's description" in (updates["bad"].info or "")


def test_a_try_that_can_no_longer_be_planned_is_looked_for_under_the_job_name_it_used() -> None:
    plan = Plan(TABLE)
    refused = {"jobName": "nightly", "jobQueue": "q-gpu", "containerOverride": {}}  # no longer valid

    places = plan.places(dataclasses.replace(IDENTITY), refused, None)

    assert ("q-gpu", places[0][1]) == places[0]
    assert places[0][1].startswith("nightly-")


def test_a_try_claim_is_none_for_what_is_not_a_task_instance() -> None:
    assert claim_for("callback-key", Plan(TABLE)) is None
    assert isinstance(claim_for(KEY, Plan(TABLE)), TryClaim)


def test_a_job_of_another_deployment_is_foreign() -> None:
    tags = {**job()["tags"], "batch-router:deployment": "staging"}

    assert "belongs to deployment 'staging'" in (CLAIM.foreign(job(tags=tags)) or "")
