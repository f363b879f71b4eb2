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
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError, ErrorKind, classify
from batch_router.aws.job_states import CANCELLABLE_STATUSES, FINISHED_STATUSES
from batch_router.executor.belief import TryClaim
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
from batch_router.executor.pacing import Pacing
from batch_router.executor.planning import InfoLog
from batch_router.executor.workloads import workload_from_job
from batch_router.plan.naming import TRY_ID_TAG


class WarningLog(Protocol):
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class CallLog(InfoLog, WarningLog, Protocol):
    """What submit_or_find says: a job made (info), a job found that is not the try's (warning)."""


# A throttled SubmitJob made no job, so the API thread sends it again itself, up to this many times,
# after 0.1, 0.2 and 0.4 s (jittered; the submit pacer paces it too), before handing the try back
# to wait for the next heartbeat.
THROTTLED_RESENDS = 3
_RESEND_PACING = Pacing(base_seconds=0.1, max_seconds=0.4)


def find_try_job(
    client: BatchClient,
    job_queue: str,
    job_name: str,
    match_ids: frozenset[str],
    exclude: frozenset[str] = frozenset(),
    claim: TryClaim | None = None,
    log: WarningLog | None = None,
) -> dict[str, Any] | None:
    """The try's job in ``job_queue``, found by its deterministic name and its id or try-id tag, and
    showing what ``claim`` asks (a job another principal made with that name and tag is foreign).

    Several can match (earlier jobs of the try that died before start); a live one wins, then the newest.
    """
    jobs = []
    for job in client.find_jobs_named(job_queue, job_name):
        if job.get("jobId") in exclude:
            continue
        if not (job.get("jobId") in match_ids or (job.get("tags") or {}).get(TRY_ID_TAG) in match_ids):
            continue
        why = claim.foreign(job) if claim is not None else None
        if why is not None:
            if log is not None:
                log.warning(
                    "batch-router: job %s in %s is not this try's (%s); left alone",
                    job.get("jobId"),
                    job_queue,
                    why,
                )
            continue
        jobs.append(job)
    if not jobs:
        return None
    return max(jobs, key=lambda job: (job.get("status") not in FINISHED_STATUSES, job.get("createdAt") or 0))


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
            update = _update(job, job_id, known.get(job_id), log_group)
        except Exception as exc:  # one job's description the executor cannot read fails that try only
            reason = f"batch-router cannot read job {job_id[:128]}'s description ({type(exc).__name__})"
            update = StatusChanged(job_id, "FAILED", states.Phase.FAILED, info=reason)
        if update is not None:
            updates.append(update)
    missing = tuple(job_id for job_id in job_ids if job_id not in seen)
    return Polled(job_ids, tuple(updates), missing)


def _update(job: Mapping[str, Any], job_id: str, known: str | None, log_group: str) -> StatusChanged | None:
    """What changed for one job, or None when nothing did."""
    status = str(job.get("status"))
    phase = states.phase_of(job)
    if status == known and phase not in (states.Phase.SUCCEEDED, states.Phase.FAILED):
        return None
    if phase is not states.Phase.FAILED:
        return StatusChanged(job_id, status, phase)
    before_start = states.failed_before_start(job, seen_running=False)
    return StatusChanged(
        job_id,
        status,
        phase,
        info=states.failure_info(job, log_group),
        failed_before_start=before_start,
        lost_capacity=states.lost_capacity(job),
        workload=workload_from_job(job) if before_start else None,
    )


def stop_job(client: BatchClient, job_id: str, reason: str) -> BatchApiError | None:
    """Make sure a job will not run the task: CancelJob while it waits, TerminateJob once it started.

    The status is read first because CancelJob silently leaves a STARTING or RUNNING job alone; if it
    cannot be read, TerminateJob is used, which stops a job in any state.
    """
    try:
        status: str | None = "UNKNOWN"
        try:
            described = client.describe_jobs([job_id])
            status = str(described[0].get("status")) if described else None
        except BatchApiError:
            pass
        if status is None or status in FINISHED_STATUSES:
            return None  # gone or finished: nothing left to stop
        if status in CANCELLABLE_STATUSES:
            client.cancel_job(job_id, reason)
        else:
            client.terminate_job(job_id, reason)
        return None
    except Exception as exc:
        return classify("TerminateJob", exc)


def find_in_places(
    client: BatchClient,
    places: Sequence[tuple[str, str]],
    match_ids: frozenset[str],
    exclude: frozenset[str] = frozenset(),
    claim: TryClaim | None = None,
    log: WarningLog | None = None,
) -> dict[str, Any] | None:
    """The try's job in any of ``places`` (job queue, job name): a live one wins, then the newest."""
    found = [
        job
        for queue, name in places
        if (job := find_try_job(client, queue, name, match_ids, exclude, claim, log))
    ]
    if not found:
        return None
    return max(found, key=lambda job: (job.get("status") not in FINISHED_STATUSES, job.get("createdAt") or 0))


def stop_try_jobs(
    client: BatchClient,
    places: Sequence[tuple[str, str]],
    match_ids: frozenset[str],
    reason: str,
    claim: TryClaim | None = None,
) -> BatchApiError | None:
    """Stop the try's job, found in any of ``places``: one an earlier SubmitJob whose answer was lost
    made, or the job of an adopted try not looked up yet. A foreign job is never stopped."""
    try:
        job = find_in_places(client, places, match_ids, claim=claim)
    except Exception as exc:
        return classify("ListJobs", exc)
    return stop_job(client, str(job["jobId"]), reason) if job is not None else None


def terminate(client: BatchClient, job_id: str, reason: str) -> BatchApiError | None:
    try:
        client.terminate_job(job_id, reason)
        return None
    except Exception as exc:
        return classify("TerminateJob", exc)
