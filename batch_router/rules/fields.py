"""Rules on single fields of SubmitJob, whatever the compute: ranges, patterns, tags, names, size.

botocore's model knows the types and a few maxima (checked in ``plan.request_shape``); these are the
limits the API reference states in words, which neither botocore nor moto check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from batch_router.config.model import MIN_TIMEOUT_SECONDS
from batch_router.rules.request_parts import ecs_containers, env_entries
from batch_router.rules.rule import API, GUIDE, Context, Violation, rule

__all__ = ["MAX_PAYLOAD_BYTES"]

_SUBMIT_JOB = f"{API}/API_SubmitJob.html"
_RETRY = f"{API}/API_RetryStrategy.html"
_ON_EXIT = f"{API}/API_EvaluateOnExit.html"

# "Maximum job payload size (for SubmitJob API operations): 30 KiB" (service quotas page).
MAX_PAYLOAD_BYTES = 30 * 1024


@rule("retry-attempts", "retryStrategy.attempts is between 1 and 10", source=_RETRY)
def _retry_attempts(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    strategy = request.get("retryStrategy")
    if not isinstance(strategy, Mapping):
        return
    attempts = strategy.get("attempts")
    if attempts is None:
        if strategy.get("evaluateOnExit"):
            yield Violation(
                ("retryStrategy", "attempts"),
                "evaluateOnExit is given without attempts",
                "set retryStrategy.attempts (1 to 10) with evaluateOnExit",
            )
        return
    if isinstance(attempts, int) and not 1 <= attempts <= 10:
        yield Violation(("retryStrategy", "attempts"), f"attempts {attempts} is outside 1-10", "use 1 to 10")


# onStatusReason / onReason: "letters, numbers, periods (.), colons (:), and white spaces ... It can
# optionally end with an asterisk (*)". Letters are read as Unicode letters, so no real status reason
# is refused for an accent.
_REASON = re.compile(r"^[\w.:\s]*\*?$")
_EXIT_CODE = re.compile(r"^[0-9]*\*?$")
_ACTIONS = frozenset({"retry", "exit"})


@rule(
    "evaluate-on-exit",
    "at most 5 evaluateOnExit entries; glob patterns of at most 512 characters; action RETRY or EXIT",
    source=_ON_EXIT,
)
def _evaluate_on_exit(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    entries = (request.get("retryStrategy") or {}).get("evaluateOnExit")
    if not isinstance(entries, list):
        return
    if len(entries) > 5:
        yield Violation(
            ("retryStrategy", "evaluateOnExit"),
            f"has {len(entries)} entries; Batch takes at most 5",
            "merge conditions with glob patterns",
        )
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        at = ("retryStrategy", "evaluateOnExit", i)
        for key, pattern, allowed in (
            ("onStatusReason", _REASON, "letters, digits, '.', ':' and spaces"),
            ("onReason", _REASON, "letters, digits, '.', ':' and spaces"),
            ("onExitCode", _EXIT_CODE, "digits"),
        ):
            value = entry.get(key)
            if not isinstance(value, str):
                continue
            if len(value) > 512:
                yield Violation((*at, key), f"is {len(value)} characters long", "use at most 512")
            elif not pattern.match(value):
                yield Violation(
                    (*at, key),
                    f"{value!r} is not a pattern Batch accepts",
                    f"use {allowed}, optionally ending with '*'",
                )
        action = entry.get("action")
        if isinstance(action, str) and action.lower() not in _ACTIONS:
            yield Violation(
                (*at, "action"), f"action {action!r} is neither RETRY nor EXIT", "use RETRY or EXIT"
            )


@rule(
    "scheduling-priority",
    "schedulingPriorityOverride is between 0 and 9999",
    source=_SUBMIT_JOB,
)
def _scheduling_priority(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    priority = request.get("schedulingPriorityOverride")
    if isinstance(priority, int) and not 0 <= priority <= 9999:
        yield Violation(("schedulingPriorityOverride",), f"{priority} is outside 0-9999", "use 0 to 9999")


_SHARE = re.compile(r"^[A-Za-z0-9]{1,255}\*?$")


@rule(
    "share-identifier",
    "shareIdentifier is up to 255 letters and digits (optionally ending in '*'), "
    "given exactly when the queue has a fair-share policy",
    source=_SUBMIT_JOB,
)
def _share_identifier(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    share = request.get("shareIdentifier")
    if share is not None and not (isinstance(share, str) and _SHARE.match(share)):
        yield Violation(
            ("shareIdentifier",), f"{share!r} is not a share identifier", "use letters and digits"
        )
    # Whether the queue is fair-share is only known when the route says so (``fair_share``).
    if context.fair_share is True and share is None:
        yield Violation(
            ("shareIdentifier",),
            f"route {context.route!r} is on a fair-share queue, and the request has no shareIdentifier",
            "set shareIdentifier in the route (or the task's executor_config, if the policy allows)",
        )
    elif context.fair_share is False and share is not None:
        yield Violation(
            ("shareIdentifier",),
            f"route {context.route!r} is not on a fair-share queue",
            "remove shareIdentifier, or mark the route fair_share: true",
        )


@rule(
    "timeout-minimum",
    f"timeout.attemptDurationSeconds is at least {MIN_TIMEOUT_SECONDS}",
    source=f"{API}/API_JobTimeout.html",
)
def _timeout(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    timeout = (request.get("timeout") or {}).get("attemptDurationSeconds")
    if isinstance(timeout, int) and timeout < MIN_TIMEOUT_SECONDS:
        yield Violation(
            ("timeout", "attemptDurationSeconds"),
            f"must be at least {MIN_TIMEOUT_SECONDS} seconds, got {timeout}",
            f"Batch refuses shorter timeouts; use timeout_seconds: {MIN_TIMEOUT_SECONDS} or more",
        )


@rule(
    "tag-reserved-prefix",
    "tag keys do not start with 'aws:' (any case)",
    source=f"{GUIDE}/tag-restrictions.html",
)
def _tag_prefix(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    # The page says not to use the prefix for keys or values. Values are let through: the reserved
    # prefix is about tags AWS itself applies, which are told apart by key.
    tags = request.get("tags")
    if isinstance(tags, Mapping):
        for key in tags:
            if isinstance(key, str) and key.lower().startswith("aws:"):
                yield Violation(
                    ("tags", key), f"tag key {key!r} uses the reserved 'aws:' prefix", "rename it"
                )


@rule(
    "env-reserved-prefix",
    "environment variable names do not start with AWS_BATCH",
    source=f"{API}/API_ContainerOverrides.html",
)
def _env_prefix(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    for path, name in env_entries(request):
        if name.startswith("AWS_BATCH"):
            yield Violation(
                path, f"{name!r} starts with AWS_BATCH, which Batch reserves", "rename the variable"
            )


@rule(
    "command-no-empty-string",
    "a container command has no empty string",
    source=f"{API}/API_ContainerOverrides.html",
)
def _command(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    for path, container in ecs_containers(request):
        command = container.get("command")
        if isinstance(command, list) and "" in command:
            yield Violation((*path, "command", command.index("")), "is an empty string", "remove it")


@rule(
    "payload-size",
    "the SubmitJob request is at most 30 KiB",
    source=f"{GUIDE}/service_limits.html",
)
def _payload(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    # The quotas page does not define "job payload"; the request body as botocore sends it (compact
    # JSON) is the most a payload can be, so a request under the limit here is under it at AWS too.
    # Measured on the request the executor really sends: the command holds the whole workload, token
    # included (see plan.Plan.build).
    size = len(json.dumps(request, separators=(",", ":"), default=str).encode())
    if size > MAX_PAYLOAD_BYTES:
        yield Violation(
            (),
            f"the request is {size:,} bytes; SubmitJob takes at most {MAX_PAYLOAD_BYTES:,}",
            "move large values out of executor_config and tags (e.g. into S3 or a job definition)",
        )
