"""The work that runs on the API thread pool: submit or find a try's job, poll jobs, stop a job.

Each function takes an immutable ticket and returns a result value; none raises and none touches the
executor's state, so the scheduler thread can hand work over and pick results up without locks. The
CPU work around a call (building the request, reading 100 job descriptions) is done here too, so the
scheduler thread only applies what changed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError, ErrorKind, classify
from batch_router.aws.job_states import CANCELLABLE_STATUSES, FINISHED_STATUSES
from batch_router.errors import BatchRouterError
from batch_router.executor.belief import TryClaim
from batch_router.executor.pacing import Pacing
from batch_router.executor.planning import InfoLog, JobSpec
from batch_router.executor.workloads import Workload, workload_from_job
from batch_router.plan.naming import TRY_ID_TAG

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey


class WarningLog(Protocol):
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class CallLog(InfoLog, WarningLog, Protocol):
    """What submit_or_find says: a job made (info), a job found that is not the try's (warning)."""


# A throttled SubmitJob made no job, so the API thread sends it again itself, up to this many times,
# after 0.1, 0.2 and 0.4 s (jittered; the submit pacer paces it too), before handing the try back
# to wait for the next heartbeat.
THROTTLED_RESENDS = 3
_RESEND_PACING = Pacing(base_seconds=0.1, max_seconds=0.4)


@dataclass(frozen=True)
class SubmitTicket:
    """One SubmitJob (or look-up) for one try, as the record stood when it was handed over."""

    key: WorkloadKey
    serial: int
    spec: JobSpec | None  # what to submit; None when there is nothing of ours to submit
    job_queue: str
    job_name: str
    match_ids: frozenset[str]  # a job whose id or try-id tag is one of these belongs to the try
    exclude: frozenset[str] = frozenset()  # the try's earlier jobs, which died before start
    look_first: bool = False
    submit: bool = True
    elsewhere: tuple[tuple[str, str], ...] = ()  # other (job queue, job name) places to look in
    claim: TryClaim | None = None  # what a found job must show to be taken as the try's (belief.py)

    @property
    def places(self) -> tuple[tuple[str, str], ...]:
        return ((self.job_queue, self.job_name), *self.elsewhere)


# What one submit-or-find call came to: one small type per case, so the scheduler thread dispatches on
# the type. ``throttled`` counts the "slow down" answers on the way (each made no job).


@dataclass(frozen=True, slots=True)
class Submitted:
    """SubmitJob made a new job."""

    ticket: SubmitTicket
    job_id: str
    throttled: int = 0


@dataclass(frozen=True, slots=True)
class Found:
    """The try's job already existed (an earlier SubmitJob whose answer was lost made it)."""

    ticket: SubmitTicket
    job: Mapping[str, Any]

    @property
    def job_id(self) -> str:
        return str(self.job["jobId"])


@dataclass(frozen=True, slots=True)
class Refused:
    """The request could not be built (bad exec_config, no route); nothing was sent."""

    ticket: SubmitTicket
    reason: str


@dataclass(frozen=True, slots=True)
class NotFound:
    """Looked for the try's job, found none, and there is nothing of ours to submit."""

    ticket: SubmitTicket


@dataclass(frozen=True, slots=True)
class CallFailed:
    """The look-up or SubmitJob failed; whether to retry depends on the error's kind."""

    ticket: SubmitTicket
    error: BatchApiError
    throttled: int = 0
    looking_up: bool = False  # the look-up failed, before any SubmitJob: it costs the task no attempt


SubmitOutcome = Submitted | Found | Refused | NotFound | CallFailed


@dataclass(frozen=True)
class JobUpdate:
    """What a poll learned about one job whose status changed, already read for the executor."""

    job_id: str
    status: str
    phase: states.Phase
    info: str | None = None  # failed jobs: reason, exit code and log stream, for the task
    failed_before_start: bool = False  # failed jobs: the task did not run (unless it was seen RUNNING)
    lost_capacity: bool = False  # ... because its Spot capacity or host went away
    # ... and the workload read back from its command, to submit it again: a tracked try keeps none
    workload: Workload | None = None


@dataclass(frozen=True)
class PollResult:
    job_ids: tuple[str, ...]
    updates: tuple[JobUpdate, ...] = ()  # only jobs whose status differs from what the executor knew
    missing: tuple[str, ...] = ()  # asked about, not returned
    error: BatchApiError | None = None


@dataclass(frozen=True)
class DescribeResult:
    job_ids: tuple[str, ...]
    jobs: tuple[Mapping[str, Any], ...] = ()
    error: BatchApiError | None = None


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
    """Look for the try's job when an earlier submit may have made it, else build and submit once."""
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
        if not ticket.submit or ticket.spec is None:
            return NotFound(ticket)
        try:
            built = ticket.spec.build()
        except BatchRouterError as exc:  # bad exec_config or no route: nothing was sent
            return Refused(ticket, str(exc))
    except Exception as exc:
        error = classify("SubmitJob", exc)
        return CallFailed(ticket, error, throttled=int(error.kind is ErrorKind.THROTTLED))
    outcome = _submit(client, ticket, built.kwargs)
    if isinstance(outcome, Submitted):
        with contextlib.suppress(Exception):  # the job exists: a broken log handler must not hide it
            log.info(
                "batch-router: submitted %s to route %r as job %s",
                ticket.key,
                built.route.name,
                outcome.job_id,
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


def describe(client: BatchClient, job_ids: Sequence[str]) -> DescribeResult:
    """One DescribeJobs call for at most 100 ids, answered in full."""
    try:
        return DescribeResult(tuple(job_ids), tuple(client.describe_jobs(job_ids)))
    except Exception as exc:
        return DescribeResult(tuple(job_ids), error=classify("DescribeJobs", exc))


def poll(client: BatchClient, known: Mapping[str, str | None], log_group: str) -> PollResult:
    """One DescribeJobs call for at most 100 ids; ``known`` is each job's status as the executor has it.

    Only changes come back: with 5,000 jobs running, a poll that finds them all still RUNNING hands
    the scheduler thread nothing to do.
    """
    job_ids = tuple(known)
    try:
        jobs = client.describe_job_statuses(job_ids)
    except Exception as exc:
        return PollResult(job_ids, error=classify("DescribeJobs", exc))
    updates: list[JobUpdate] = []
    seen: set[str] = set()
    for job in jobs:
        job_id = str(job.get("jobId"))
        seen.add(job_id)
        try:
            update = _update(job, job_id, known.get(job_id), log_group)
        except Exception as exc:  # one job's description the executor cannot read fails that try only
            reason = f"batch-router cannot read job {job_id[:128]}'s description ({type(exc).__name__})"
            update = JobUpdate(job_id, "FAILED", states.Phase.FAILED, info=reason)
        if update is not None:
            updates.append(update)
    missing = tuple(job_id for job_id in job_ids if job_id not in seen)
    return PollResult(job_ids, tuple(updates), missing)


def _update(job: Mapping[str, Any], job_id: str, known: str | None, log_group: str) -> JobUpdate | None:
    """What changed for one job, or None when nothing did."""
    status = str(job.get("status"))
    phase = states.phase_of(job)
    if status == known and phase not in (states.Phase.SUCCEEDED, states.Phase.FAILED):
        return None
    if phase is not states.Phase.FAILED:
        return JobUpdate(job_id, status, phase)
    before_start = states.failed_before_start(job, seen_running=False)
    return JobUpdate(
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
