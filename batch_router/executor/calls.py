"""The work that runs on the API thread pool: submit or find a try's job, poll jobs, stop a job.

Each function takes an immutable ticket and returns an outcome value (``outcomes``); none raises and
none touches the executor's state, so the scheduler thread can hand work over and pick results up
without locks. The CPU work around a call (reading the planned request, reading 100 job descriptions)
is done here too, so the scheduler thread only applies what changed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import BatchClient
from batch_router.aws.blocked_reasons import blocked, cancelled_by_wait_limit
from batch_router.aws.errors import ErrorKind, classify
from batch_router.aws.pacing import Pacing
from batch_router.aws.try_jobs import WarningLog, find_in_places
from batch_router.executor.outcomes import (
    CallFailed,
    Described,
    Found,
    NotFound,
    Polled,
    StatusChanged,
    SubmitOutcome,
    Submitted,
    SubmitTicket,
)
from batch_router.executor.planning import InfoLog
from batch_router.executor.workloads import workload_from_job


class CallLog(InfoLog, WarningLog, Protocol):
    """What submit_or_find says: a job made (info), a job found that is not the try's (warning)."""


# A throttled SubmitJob made no job, so the API thread sends it again itself, up to this many times,
# after 0.1, 0.2 and 0.4 s (jittered; the submit pacer paces it too), before handing the try back
# to wait for the next heartbeat.
THROTTLED_RESENDS = 3
_RESEND_PACING = Pacing(base_seconds=0.1, max_seconds=0.4)


def submit_or_find(client: BatchClient, ticket: SubmitTicket, log: CallLog) -> SubmitOutcome:
    """Look for the try's job when an earlier submit may have made it, else send the planned request once."""
    try:
        if ticket.look_first:
            try:
                job = find_in_places(
                    client, ticket.places, ticket.match_ids, ticket.exclude, ticket.claim, log
                )
            except Exception as exc:
                error = classify("ListJobs", exc)
                return CallFailed(ticket, error, int(error.kind is ErrorKind.THROTTLED), looking_up=True)
            if job is not None:
                return Found(ticket, job)
        if ticket.request is None:
            return NotFound(ticket)
        request = json.loads(ticket.request)
    except Exception as exc:
        error = classify("SubmitJob", exc)
        return CallFailed(ticket, error, throttled=int(error.kind is ErrorKind.THROTTLED))
    outcome = _submit(client, ticket, request)
    if isinstance(outcome, Submitted):
        with contextlib.suppress(Exception):  # the job exists: a broken log handler must not hide it
            log.info(
                "batch-router: submitted %s to route %r as job %s", ticket.key, ticket.route, outcome.job_id
            )
    return outcome


def _submit(client: BatchClient, ticket: SubmitTicket, request: Mapping[str, Any]) -> Submitted | CallFailed:
    """SubmitJob, sent again by this thread after a throttled answer (which made no job)."""
    throttled = 0
    while True:
        try:
            return Submitted(ticket, client.submit_job(request), throttled=throttled)
        except Exception as exc:
            error = classify("SubmitJob", exc)
            if error.kind is not ErrorKind.THROTTLED or throttled == THROTTLED_RESENDS:
                return CallFailed(ticket, error, throttled=throttled + (error.kind is ErrorKind.THROTTLED))
            throttled += 1
            time.sleep(_RESEND_PACING.backoff(throttled))


def describe(client: BatchClient, asked: tuple[tuple[str, Any, int], ...]) -> Described:
    """Adoption's one DescribeJobs call for at most 100 ids (the ids the scheduler had), answered in full."""
    job_ids = list(dict.fromkeys(ext for ext, _, _ in asked))
    try:
        return Described(asked, tuple(client.describe_jobs(job_ids)))
    except Exception as exc:
        return Described(asked, error=classify("DescribeJobs", exc))


def poll(client: BatchClient, known: Mapping[str, str | None], log_group: str) -> Polled:
    """One DescribeJobs call for at most 100 ids; ``known`` is each job's status as the executor has it.

    Only changes come back: with 5,000 jobs running, a poll that finds them all still RUNNING hands
    the scheduler thread nothing to do.
    """
    job_ids = tuple(known)
    try:
        jobs = client.describe_job_statuses(job_ids)
    except Exception as exc:
        return Polled(job_ids, error=classify("DescribeJobs", exc))
    updates: list[StatusChanged] = []
    seen: set[str] = set()
    for job in jobs:
        job_id = str(job.get("jobId"))
        seen.add(job_id)
        try:
            update = status_change(job, job_id, known.get(job_id), log_group)
        except Exception as exc:  # one job's description the executor cannot read fails that try only
            reason = f"batch-router cannot read job {job_id[:128]}'s description ({type(exc).__name__})"
            update = StatusChanged(job_id, "FAILED", states.Phase.FAILED, info=reason)
        if update is not None:
            updates.append(update)
    missing = tuple(job_id for job_id in job_ids if job_id not in seen)
    return Polled(job_ids, tuple(updates), missing)


def status_change(
    job: Mapping[str, Any], job_id: str, known: str | None, log_group: str
) -> StatusChanged | None:
    """What changed for one job (described by DescribeJobs or by an event), or None when nothing did.

    ``known`` is the job's state as the executor has it (``job_states.state_key``): its status, and for
    a RUNNABLE job the documented reason it blocks its queue, so a reason that comes, changes or goes
    is a change too.
    """
    status = str(job.get("status"))
    phase = states.phase_of(job)
    why = blocked(job)
    if (
        states.state_key(status, why.code if why is not None else None) == known
        and phase not in states.FINISHED_PHASES
    ):
        return None
    if phase is not states.Phase.FAILED:
        return StatusChanged(job_id, status, phase, blocked=why)
    wait_limit = cancelled_by_wait_limit(job)
    before_start = states.failed_before_start(job, seen_running=False)
    return StatusChanged(
        job_id,
        status,
        phase,
        info=states.failure_info(job, log_group),
        failed_before_start=before_start,
        lost_capacity=states.lost_capacity(job),
        workload=workload_from_job(job) if before_start and wait_limit is None else None,
        wait_limit_reason=wait_limit,
    )
