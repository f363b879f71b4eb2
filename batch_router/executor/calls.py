"""The work that runs on the API thread pool: submit or find a try's job, poll jobs, stop a job.

Each function takes an immutable ticket and returns a result value; none raises and none touches the
executor's state, so the scheduler thread can hand work over and pick results up without locks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from batch_router.batch_client import BatchApiError, BatchClient, classify
from batch_router.executor.states import CANCELLABLE_STATUSES, FINISHED_STATUSES

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey

TRY_ID_TAG = "batch-router:try-id"  # written by naming.job_tags on every job


@dataclass(frozen=True)
class SubmitTicket:
    """One SubmitJob (or look-up) for one try, as the record stood when it was handed over."""

    key: WorkloadKey
    serial: int
    request: Mapping[str, Any] | None
    job_queue: str
    job_name: str
    match_ids: frozenset[str]  # a job whose id or try-id tag is one of these belongs to the try
    exclude: frozenset[str] = frozenset()  # the try's earlier jobs, which died before start
    look_first: bool = False
    submit: bool = True


@dataclass(frozen=True)
class SubmitOutcome:
    ticket: SubmitTicket
    job_id: str | None = None
    job: Mapping[str, Any] | None = None  # set when an existing job was found instead of submitting
    error: BatchApiError | None = None


@dataclass(frozen=True)
class PollResult:
    job_ids: tuple[str, ...]
    jobs: tuple[Mapping[str, Any], ...] = ()
    error: BatchApiError | None = None


def find_try_job(
    client: BatchClient,
    job_queue: str,
    job_name: str,
    match_ids: frozenset[str],
    exclude: frozenset[str] = frozenset(),
) -> dict[str, Any] | None:
    """The try's job in ``job_queue``, found by its deterministic name and its id or try-id tag.

    Several can match (earlier jobs of the try that died before start); a live one wins, then the newest.
    """
    jobs = [
        job
        for job in client.find_jobs_named(job_queue, job_name)
        if job.get("jobId") not in exclude
        and (job.get("jobId") in match_ids or (job.get("tags") or {}).get(TRY_ID_TAG) in match_ids)
    ]
    if not jobs:
        return None
    return max(jobs, key=lambda job: (job.get("status") not in FINISHED_STATUSES, job.get("createdAt") or 0))


def submit_or_find(client: BatchClient, ticket: SubmitTicket) -> SubmitOutcome:
    """Look for the try's job when an earlier submit may have made it, else submit once."""
    try:
        if ticket.look_first:
            job = find_try_job(client, ticket.job_queue, ticket.job_name, ticket.match_ids, ticket.exclude)
            if job is not None:
                return SubmitOutcome(ticket, job_id=str(job["jobId"]), job=job)
        if not ticket.submit or ticket.request is None:
            return SubmitOutcome(ticket)
        return SubmitOutcome(ticket, job_id=client.submit_job(ticket.request))
    except Exception as exc:
        return SubmitOutcome(ticket, error=classify("SubmitJob", exc))


def poll(client: BatchClient, job_ids: Sequence[str]) -> PollResult:
    """One DescribeJobs call for at most 100 ids."""
    try:
        return PollResult(tuple(job_ids), tuple(client.describe_jobs(job_ids)))
    except Exception as exc:
        return PollResult(tuple(job_ids), error=classify("DescribeJobs", exc))


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


@dataclass(frozen=True)
class LookupResult:
    job: Mapping[str, Any] | None = None
    error: BatchApiError | None = None


def look_up(
    client: BatchClient, places: Sequence[tuple[str, str]], match_ids: frozenset[str]
) -> LookupResult:
    """The try's job in any of ``places`` (job queue, job name); used when adopting by try id."""
    try:
        found = [job for queue, name in places if (job := find_try_job(client, queue, name, match_ids))]
    except Exception as exc:
        return LookupResult(error=classify("ListJobs", exc))
    if not found:
        return LookupResult()
    return LookupResult(max(found, key=lambda job: job.get("createdAt") or 0))


def stop_try_jobs(
    client: BatchClient, job_queue: str, job_name: str, match_ids: frozenset[str], reason: str
) -> BatchApiError | None:
    """Stop the try's job if an earlier SubmitJob whose answer was lost made one."""
    try:
        job = find_try_job(client, job_queue, job_name, match_ids)
    except Exception as exc:
        return classify("ListJobs", exc)
    return stop_job(client, str(job["jobId"]), reason) if job is not None else None


def terminate(client: BatchClient, job_id: str, reason: str) -> BatchApiError | None:
    try:
        client.terminate_job(job_id, reason)
        return None
    except Exception as exc:
        return classify("TerminateJob", exc)
