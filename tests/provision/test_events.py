"""``provision --events`` and ``iam-policy --events-queue``: the job events path in the account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_router import examples
from batch_router.aws import job_events
from batch_router.cli import main
from batch_router.config.routes import parse_route_table, read_route_file
from batch_router.provision import ArnScope, ProvisionOptions, build_template, scheduler_statements
from batch_router.provision import events as provisioned_events


def _table(*queues: str) -> Any:
    routes = [
        {"name": f"r{i}", "compute": "fargate", "job_queue": queue, "job_definition": "def"}
        for i, queue in enumerate(queues)
    ]
    return parse_route_table({"version": 1, "routes": routes}, "routes.yaml")


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_the_rule_matches_the_job_state_changes_and_blocked_queue_events_of_every_queue_of_the_table() -> (
    None
):
    queue_arn = "arn:aws:batch:us-east-1:123456789012:job-queue/existing"
    template = build_template(_table("made-here", queue_arn, "made-here"), ProvisionOptions(events=True))

    (rule,) = _resources(template, "AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.batch"]
    assert pattern["detail-type"] == ["Batch Job State Change", "Batch Job Queue Blocked"]
    made_here = {
        "Ref": next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::Batch::JobQueue")
    }
    assert pattern["detail"]["jobQueue"] == [made_here, queue_arn]
    assert rule["Properties"]["Targets"] == [
        {"Id": "batch-router-job-events", "Arn": {"Fn::GetAtt": ["JobEventsQueue", "Arn"]}}
    ]


def test_the_events_queue_keeps_events_for_days_and_sends_what_no_reader_takes_to_a_dead_letter_queue() -> (
    None
):
    template = build_template(_table("q"), ProvisionOptions(events=True))

    queue = template["Resources"]["JobEventsQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] >= 4 * 24 * 3600
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["JobEventsDeadLetterQueue", "Arn"]
    }
    assert template["Outputs"]["JobEventsQueueUrl"]["Value"] == {"Ref": "JobEventsQueue"}


def test_only_the_events_rule_may_send_to_the_events_queue() -> None:
    template = build_template(_table("q"), ProvisionOptions(events=True))

    (policy,) = _resources(template, "AWS::SQS::QueuePolicy")
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["JobEventsRule", "Arn"]}}
    }


def test_without_events_there_is_no_event_resource_and_no_sqs_permission() -> None:
    template = build_template(_table("q"), ProvisionOptions())

    assert not [
        r for r in template["Resources"].values() if r["Type"].startswith(("AWS::SQS", "AWS::Events"))
    ]
    assert "sqs:" not in json.dumps(template["Resources"]["SchedulerPolicy"])


def test_the_scheduler_may_only_receive_delete_release_and_find_on_the_events_queue() -> None:
    scope = ArnScope("aws", "us-east-1", "123456789012")
    queue = "arn:aws:sqs:us-east-1:123456789012:events"

    statements = scheduler_statements(_table("q"), scope, [], events_queue=queue)

    sqs = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
    assert sqs == [
        {
            "Sid": "ReadJobEvents",
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
            ],
            "Resource": [queue],
        }
    ]


@pytest.mark.parametrize(
    "given",
    ["https://sqs.eu-west-1.amazonaws.com/111122223333/events", "arn:aws:sqs:eu-west-1:111122223333:events"],
)
def test_iam_policy_grants_the_event_reader_on_the_queue_its_url_or_arn_names(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["iam-policy", "--routes", str(examples.ROUTES_FILE), "--region", "eu-west-1",
         "--account-id", "111122223333", "--events-queue", given]
    )  # fmt: skip

    document = json.loads(capsys.readouterr().out)
    (statement,) = [s for s in document["Statement"] if s["Sid"] == "ReadJobEvents"]
    assert code == 0 and statement["Resource"] == ["arn:aws:sqs:eu-west-1:111122223333:events"]


def test_the_rule_matches_what_the_reader_reads() -> None:
    assert (provisioned_events.SOURCE, provisioned_events.DETAIL_TYPE) == (
        job_events.SOURCE,
        job_events.DETAIL_TYPE,
    )


def test_every_example_table_with_events_names_its_queues_in_the_rule() -> None:
    table = read_route_file(examples.ROUTES_FILE)
    template = build_template(
        table, ProvisionOptions(events=True, eks_cluster_arn="arn:aws:eks:us-east-1:1:cluster/c")
    )

    (rule,) = _resources(template, "AWS::Events::Rule")
    assert len(rule["Properties"]["EventPattern"]["detail"]["jobQueue"]) == len(
        {r.job_queue for r in table.routes}
    )
