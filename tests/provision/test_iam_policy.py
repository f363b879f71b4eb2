"""``batch-router iam-policy``: exactly the actions and resources the executor needs, nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_router import examples
from batch_router.cli import main
from batch_router.config.routes import parse_route_table, read_route_file
from batch_router.provision import ArnScope, routes_that_send_elsewhere, scheduler_statements
from batch_router.provision.arns import job_definition_arns
from batch_router.provision.iam_policy import execution_role_statements, job_role_statements
from batch_router.provision.iam_resources import ecr_repository_arn

SCOPE = ArnScope("aws", "eu-west-1", "111122223333")
ARN = "arn:aws:batch:eu-west-1:111122223333"


def by_sid(statements: list[dict[str, Any]]) -> dict[str, tuple[set[str], set[str]]]:
    return {s["Sid"]: (set(s["Action"]), set(s["Resource"])) for s in statements}


def test_the_scheduler_policy_for_the_example_table_is_exactly_this() -> None:
    statements = scheduler_statements(read_route_file(examples.ROUTES_FILE), SCOPE, ["/aws/batch/job"])

    queues = {f"{ARN}:job-queue/airflow-{q}" for q in ("fargate", "ec2", "gpu", "eks")}
    names = ("fargate", "ec2", "gpu", "eks")
    definitions = {f"{ARN}:job-definition/airflow-worker-{n}{rev}" for n in names for rev in ("", ":*")}
    assert by_sid(statements) == {
        "SubmitToTheRouteTable": ({"batch:SubmitJob"}, queues | definitions),
        "TagJobsAtSubmit": ({"batch:TagResource"}, {f"{ARN}:job/*"}),
        "StopOnlyJobsItSubmitted": ({"batch:CancelJob", "batch:TerminateJob"}, {f"{ARN}:job/*"}),
        "PollAndAdopt": ({"batch:DescribeJobs", "batch:ListJobs"}, {"*"}),
        "StartupHealthCheck": (
            {"batch:DescribeComputeEnvironments", "batch:DescribeJobDefinitions", "batch:DescribeJobQueues"},
            {"*"},
        ),
        "ReadTaskLogs": (
            {"logs:GetLogEvents"},
            {"arn:aws:logs:eu-west-1:111122223333:log-group:/aws/batch/job:log-stream:*"},
        ),
    }


def test_stopping_jobs_is_limited_to_this_deployments_jobs_carrying_the_try_id_tag() -> None:
    statements = scheduler_statements(read_route_file(examples.ROUTES_FILE), SCOPE, [], "team-a-prod")

    (stop,) = [s for s in statements if s["Sid"] == "StopOnlyJobsItSubmitted"]
    assert stop["Condition"] == {
        "StringEquals": {"aws:ResourceTag/batch-router:deployment": "team-a-prod"},
        "Null": {"aws:ResourceTag/batch-router:try-id": "false"},
    }


def test_tagging_needs_this_deployments_tag_and_a_job_without_one() -> None:
    statements = scheduler_statements(read_route_file(examples.ROUTES_FILE), SCOPE, [], "team-a-prod")

    (tag,) = [s for s in statements if s["Sid"] == "TagJobsAtSubmit"]
    assert tag["Condition"] == {
        "StringEquals": {"aws:RequestTag/batch-router:deployment": "team-a-prod"},
        "Null": {"aws:ResourceTag/batch-router:deployment": "true"},
    }


def test_the_iam_policy_command_takes_the_deployment(capsys: Any) -> None:
    from batch_router.cli import main

    main(["iam-policy", "--routes", str(examples.ROUTES_FILE), "--region", "eu-west-1",
          "--account-id", "111122223333", "--deployment", "team-b"])  # fmt: skip

    statements = json.loads(capsys.readouterr().out)["Statement"]
    (stop,) = [s for s in statements if s["Sid"] == "StopOnlyJobsItSubmitted"]
    assert stop["Condition"]["StringEquals"] == {"aws:ResourceTag/batch-router:deployment": "team-b"}


def test_without_log_groups_no_log_permission_is_granted() -> None:
    statements = scheduler_statements(read_route_file(examples.ROUTES_FILE), SCOPE, [])

    assert not any(a.startswith("logs:") for s in statements for a in s["Action"])


@pytest.mark.parametrize(
    ("ref", "arns"),
    [
        ("worker", [f"{ARN}:job-definition/worker", f"{ARN}:job-definition/worker:*"]),
        ("worker:3", [f"{ARN}:job-definition/worker:3"]),
        (f"{ARN}:job-definition/worker:9", [f"{ARN}:job-definition/worker:9"]),
    ],
)
def test_a_job_definition_is_granted_as_the_route_names_it(ref: str, arns: list[str]) -> None:
    assert job_definition_arns(SCOPE, ref) == arns


def test_a_queue_given_by_arn_is_granted_as_it_is() -> None:
    queue = "arn:aws:batch:us-west-2:444455556666:job-queue/shared"
    table = parse_route_table(
        {
            "version": 1,
            "routes": [{"name": "a", "compute": "ec2", "job_queue": queue, "job_definition": "d"}],
        },
        "t",
    )

    (submit, *_) = scheduler_statements(table, SCOPE, [])
    assert queue in submit["Resource"]


def test_routes_that_let_dag_authors_pick_the_queue_are_named() -> None:
    table = parse_route_table(
        {
            "version": 1,
            "routes": [
                {
                    "name": "open",
                    "compute": "ec2",
                    "job_queue": "q",
                    "job_definition": "d",
                    "policy": {"executor_config_keys": ["jobQueue"]},
                },
                {"name": "closed", "compute": "ec2", "job_queue": "q2", "job_definition": "d"},
            ],
        },
        "t",
    )

    assert routes_that_send_elsewhere(table) == ["open"]


def test_the_execution_role_pulls_only_the_worker_repository() -> None:
    repository = ecr_repository_arn("111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/airflow-worker:3.3.2")
    statements = execution_role_statements(SCOPE, ["/jobs"], [repository] if repository else [])

    assert repository == "arn:aws:ecr:eu-west-1:111122223333:repository/team/airflow-worker"
    assert by_sid(statements)["PullTheWorkerImage"][1] == {repository}


def test_an_image_outside_ecr_needs_no_ecr_repository() -> None:
    assert ecr_repository_arn("apache/airflow:3.3.2") is None


def test_the_job_role_needs_nothing_without_remote_logging() -> None:
    assert job_role_statements(SCOPE, []) == []


def test_iam_policy_prints_the_scheduler_policy_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "iam-policy",
            "--routes",
            str(examples.ROUTES_FILE),
            "--region",
            "eu-west-1",
            "--account-id",
            "111122223333",
        ]
    )

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["Version"] == "2012-10-17"
    assert {s["Sid"] for s in document["Statement"]} >= {"SubmitToTheRouteTable", "ReadTaskLogs"}


def test_iam_policy_uses_the_partition_of_the_region(capsys: pytest.CaptureFixture[str]) -> None:
    main(["iam-policy", "--routes", str(examples.ROUTES_FILE), "--region", "cn-north-1", "--account-id", "1"])

    assert '"arn:aws-cn:batch:cn-north-1:1:job/*"' in capsys.readouterr().out


def test_iam_policy_without_an_account_says_which_flag_to_add(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["iam-policy", "--routes", str(examples.ROUTES_FILE), "--region", "eu-west-1"])

    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--account-id" in err
