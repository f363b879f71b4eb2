"""Each field rule on both sides of its boundary."""

from __future__ import annotations

from typing import Any

import pytest

from batch_router.rules import MAX_PAYLOAD_BYTES, Context, check_request, registered


def broken(request: dict[str, Any], **context: Any) -> set[str]:
    return {v.rule for v in check_request(request, Context(compute="ec2", route="r", **context))}


@pytest.mark.parametrize(("attempts", "ok"), [(1, True), (10, True), (0, False), (11, False)])
def test_retry_attempts_are_between_1_and_10(attempts: int, ok: bool) -> None:
    assert broken({"retryStrategy": {"attempts": attempts}}) == (set() if ok else {"retry-attempts"})


def test_evaluate_on_exit_needs_attempts() -> None:
    request = {"retryStrategy": {"evaluateOnExit": [{"onExitCode": "1", "action": "RETRY"}]}}
    assert broken(request) == {"retry-attempts"}


def on_exit(*entries: dict[str, str]) -> dict[str, Any]:
    return {"retryStrategy": {"attempts": 3, "evaluateOnExit": list(entries)}}


def test_evaluate_on_exit_takes_at_most_five_entries() -> None:
    assert broken(on_exit(*[{"onExitCode": "1", "action": "exit"}] * 5)) == set()
    assert broken(on_exit(*[{"onExitCode": "1", "action": "exit"}] * 6)) == {"evaluate-on-exit"}


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        ({"onStatusReason": "Host EC2*", "action": "RETRY"}, True),
        ({"onReason": "CannotPullContainerError:*", "action": "retry"}, True),
        ({"onExitCode": "13*", "action": "EXIT"}, True),
        ({"onExitCode": "1" * 512, "action": "EXIT"}, True),
        ({"onExitCode": "1" * 513, "action": "EXIT"}, False),
        ({"onExitCode": "1?", "action": "EXIT"}, False),
        ({"onStatusReason": "a*b", "action": "EXIT"}, False),
        ({"onExitCode": "1", "action": "RESTART"}, False),
    ],
)
def test_evaluate_on_exit_patterns_follow_the_documented_form(entry: dict[str, str], ok: bool) -> None:
    assert broken(on_exit(entry)) == (set() if ok else {"evaluate-on-exit"})


@pytest.mark.parametrize(("priority", "ok"), [(0, True), (9999, True), (-1, False), (10000, False)])
def test_scheduling_priority_is_between_0_and_9999(priority: int, ok: bool) -> None:
    assert broken({"schedulingPriorityOverride": priority}) == (set() if ok else {"scheduling-priority"})


@pytest.mark.parametrize(
    ("share", "ok"),
    [("teamA", True), ("a" * 255, True), ("team*", True), ("a" * 256, False), ("team-a", False), ("", False)],
)
def test_share_identifiers_are_letters_and_digits(share: str, ok: bool) -> None:
    assert broken({"shareIdentifier": share}) == (set() if ok else {"share-identifier"})


def test_a_fair_share_route_needs_a_share_identifier_and_only_it() -> None:
    assert broken({}, fair_share=True) == {"share-identifier"}
    assert broken({"shareIdentifier": "a"}, fair_share=True) == set()
    assert broken({"shareIdentifier": "a"}, fair_share=False) == {"share-identifier"}
    assert broken({"shareIdentifier": "a"}) == set()  # the route does not say: not checked


@pytest.mark.parametrize(("seconds", "ok"), [(60, True), (59, False)])
def test_timeouts_are_at_least_60_seconds(seconds: int, ok: bool) -> None:
    assert broken({"timeout": {"attemptDurationSeconds": seconds}}) == (set() if ok else {"timeout-minimum"})


@pytest.mark.parametrize(
    ("key", "ok"), [("team", True), ("aws-team", True), ("aws:team", False), ("AWS:x", False)]
)
def test_tag_keys_do_not_use_the_reserved_prefix(key: str, ok: bool) -> None:
    assert broken({"tags": {key: "v"}}) == (set() if ok else {"tag-reserved-prefix"})


@pytest.mark.parametrize(
    ("name", "ok"),
    [("MY_VAR", True), ("AWS_BATCHY", False), ("AWS_BATCH_JOB_ID", False), ("AWS_REGION", True)],
)
def test_environment_names_do_not_use_batch_s_prefix(name: str, ok: bool) -> None:
    request = {"containerOverrides": {"environment": [{"name": name, "value": "1"}]}}
    assert broken(request) == (set() if ok else {"env-reserved-prefix"})
    eks_request = {"eksPropertiesOverride": {"podProperties": {"containers": [{"env": [{"name": name}]}]}}}
    assert {v.rule for v in check_request(eks_request, Context(compute="eks", route="r"))} == (
        set() if ok else {"env-reserved-prefix"}
    )


def test_a_command_has_no_empty_string() -> None:
    assert broken({"containerOverrides": {"command": ["python", "-c", "1"]}}) == set()
    assert broken({"containerOverrides": {"command": ["python", ""]}}) == {"command-no-empty-string"}


def padded(total: int) -> dict[str, Any]:
    """A request whose compact JSON is exactly ``total`` bytes."""
    request = {"jobName": ""}
    request["jobName"] = "x" * (total - len('{"jobName":""}'))
    return request


def test_a_request_of_30_kib_is_accepted_and_one_byte_more_is_not() -> None:
    assert broken(padded(MAX_PAYLOAD_BYTES)) == set()
    assert broken(padded(MAX_PAYLOAD_BYTES + 1)) == {"payload-size"}


def test_every_rule_names_an_aws_documentation_page() -> None:
    assert all(rule.source.startswith("https://docs.aws.amazon.com/batch/") for rule in registered())
    assert len({rule.id for rule in registered()}) == len(registered())


def test_the_rules_page_lists_every_rule_with_its_source() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "request-rules.md").read_text(encoding="utf-8")
    missing = [r.id for r in registered() if f"| `{r.id}` |" not in page or r.source not in page]
    assert missing == []
