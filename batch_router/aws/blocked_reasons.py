"""Why a RUNNABLE job waits, as AWS Batch says it, and whether waiting can ever end it.

When a RUNNABLE job blocks the head of its job queue, AWS Batch writes one of a documented set of
reasons into the job's ``statusReason`` (ListJobs, DescribeJobs) and sends a "Batch Job Queue
Blocked" event whose detail is the job's description. A queue's ``jobStateTimeLimitActions`` may
cancel such a job after a time, for four of the reasons; the job then fails with a status reason that
names the reason. Sources (AWS Batch user guide): "Jobs stuck in a RUNNABLE status", "Jobs stuck in
RUNNABLE due to capacity", "... due to misconfiguration", "... due to invalid compute environments",
"Automatic remediation with jobStateTimeLimitActions", "Job queue blocked events"; API reference:
API_JobStateTimeLimitAction (600 to 86,400 seconds, state RUNNABLE, action CANCEL on ECS, Fargate and
EKS queues).

Pure: no AWS call, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_router.errors import MAX_AWS_TEXT, shorten

__all__ = [
    "BLOCKED_EVENT_DETAIL_TYPE",
    "LIMITABLE",
    "REASONS",
    "WAIT_LIMIT_MAX_SECONDS",
    "WAIT_LIMIT_MIN_SECONDS",
    "Blocked",
    "BlockedReason",
    "blocked",
    "cancelled_by_wait_limit",
]

BLOCKED_EVENT_DETAIL_TYPE = "Batch Job Queue Blocked"
# API_JobStateTimeLimitAction.maxTimeSeconds: "The minimum value is 600 (10 minutes) and the maximum
# value is 86,400 (24 hours)."
WAIT_LIMIT_MIN_SECONDS = 600
WAIT_LIMIT_MAX_SECONDS = 86_400


@dataclass(frozen=True)
class BlockedReason:
    """One documented reason.

    ``clears_by_waiting`` is decided per reason from the user guide's text (quoted in ``REASONS``):
    False only where the job itself can never be placed on the queue's compute environments as they
    are (it asks for more than any instance type, or any compute environment's maxvCpus, offers), so
    no amount of waiting runs it and each minute it waits it also blocks every job behind it. A reason
    about the queue as a whole (capacity, the service role, invalid compute environments, an unknown
    cause) would block the next job too: the job waits, and the platform team is told.
    """

    code: str
    clears_by_waiting: bool
    limitable: bool  # the queue's jobStateTimeLimitActions can cancel a job waiting for it
    fix: str  # what to change, for docs/troubleshooting.md and the messages


REASONS: Mapping[str, BlockedReason] = {
    r.code: r
    for r in (
        # "All connected compute environments have insufficient capacity errors" (capacity comes back).
        BlockedReason(
            "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
            clears_by_waiting=True,
            limitable=True,
            fix="wait, or widen the route's instance_types, add Spot or another compute environment, "
            "or set a wait limit for this reason",
        ),
        # "All compute environments have a maxvCpus parameter that is smaller than the job
        # requirements ... you can increase the maxvCpus parameter": only a change of the
        # compute environment ends it.
        BlockedReason(
            "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
            clears_by_waiting=False,
            limitable=True,
            fix="lower the route's max_vcpu (or the task's vcpu hint) to fit, "
            "or raise the compute environments' maxvCpus (provision: max_vcpus)",
        ),
        # "None of the compute environments have instances that meet the job requirements ... you can
        # redefine the compute environment's allowed instance types".
        BlockedReason(
            "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
            clears_by_waiting=False,
            limitable=True,
            fix="lower the route's max_vcpu / max_memory_mib / max_gpu to what its instance types hold, "
            "or add larger instance types (provision: instance_types)",
        ),
        # "Your compute environment has an unsupported instance type configuration" (Availability
        # Zones, launch template): the compute environment's, so the next job would wait as well.
        BlockedReason(
            "MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED",
            clears_by_waiting=True,
            limitable=True,
            fix="check the instance types against the Region's Availability Zones and the launch "
            "template; prefer newer instance generations",
        ),
        # "All compute environments have service role issues ... the next job will also be blocked".
        BlockedReason(
            "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS",
            clears_by_waiting=True,
            limitable=False,
            fix="compare the service role with AWSBatchServiceRole, or use the service-linked role",
        ),
        # "All compute environments are invalid" (INVALID compute environment).
        BlockedReason(
            "ACTION_REQUIRED",
            clears_by_waiting=True,
            limitable=False,
            fix="read the compute environments' statusReason (DescribeComputeEnvironments) and fix them",
        ),
        # "AWS Batch has detected a blocked queue, but is unable to determine the reason."
        BlockedReason(
            "UNDETERMINED",
            clears_by_waiting=True,
            limitable=False,
            fix="see the user guide's common causes (awslogs driver, ECS agent, network, EC2 quotas)",
        ),
    )
}
LIMITABLE: tuple[str, ...] = tuple(code for code, r in REASONS.items() if r.limitable)

# A reason's code leads the statusReason, then " - " (the service-role reason is written with an en
# dash in the user guide); ACTION_REQUIRED and UNDETERMINED have no colon.
_LEADING_CODE = re.compile(r"\s*([A-Z_]+(?::[A-Z0-9_]+)?)(?:\s*[-\u2013\u2014]|\s*$)")
# "Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
_CANCELLED = re.compile(r"JobStateTimeLimit action due to reason:\s*([A-Z_]+(?::[A-Z0-9_]+)?)")


@dataclass(frozen=True)
class Blocked:
    """A RUNNABLE job's documented blocked reason, and AWS's whole message (shortened)."""

    reason: BlockedReason
    message: str

    @property
    def code(self) -> str:
        return self.reason.code


def blocked(job: Mapping[str, Any]) -> Blocked | None:
    """The documented reason a RUNNABLE job blocks its queue, or None (not RUNNABLE, no reason, or a
    status reason that is not one of the documented ones)."""
    if job.get("status") != "RUNNABLE":
        return None
    text = job.get("statusReason")
    if not isinstance(text, str):
        return None
    found = _LEADING_CODE.match(text)
    reason = REASONS.get(found.group(1)) if found else None
    if reason is None:
        return None
    return Blocked(reason, shorten(text, MAX_AWS_TEXT))


def cancelled_by_wait_limit(job: Mapping[str, Any]) -> str | None:
    """The reason code when the queue's jobStateTimeLimitActions cancelled the job, else None."""
    text = job.get("statusReason")
    if job.get("status") != "FAILED" or not isinstance(text, str):
        return None
    found = _CANCELLED.search(text)
    return found.group(1) if found else None
