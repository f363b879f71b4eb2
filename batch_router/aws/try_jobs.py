"""Finding a try's job by its name and stopping a job: what AWS Batch's ListJobs, CancelJob and
TerminateJob mean for a try, with no executor state (the API threads call these).

A try's job name is deterministic and its try-id is in its tags, so a SubmitJob whose answer was lost,
or a job a dead scheduler made, can be found again; anyone who may submit to the queue can make a job
with that name and tag, so a found job must also satisfy the caller's ``Claim`` (executor/belief.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError, classify
from batch_router.aws.job_states import CANCELLABLE_STATUSES, FINISHED_STATUSES
from batch_router.plan.naming import TRY_ID_TAG

__all__ = ["Claim", "find_in_places", "find_try_job", "stop_job", "stop_try_jobs", "terminate"]


class WarningLog(Protocol):
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class Claim(Protocol):
    """What a found job must show to be the try's: ``foreign`` says why it is not, or None."""

    def foreign(self, job: Any) -> str | None: ...


def find_try_job(
    client: BatchClient,
    job_queue: str,
    job_name: str,
    match_ids: frozenset[str],
    exclude: frozenset[str] = frozenset(),
    claim: Claim | None = None,
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
    claim: Claim | None = None,
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
    claim: Claim | None = None,
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
