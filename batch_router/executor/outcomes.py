"""What goes to the other threads and what comes back: tickets out, outcomes in, all immutable values.

A call on the API, poll or planning threads takes a ticket and returns one outcome; a call that raises
is stood in for by its ticket's ``crashed`` outcome, so the scheduler thread handles every call's end
the same way (``channel.Channel``). Each outcome says which tries it is about (``about``): if its handler
raises, those tries are put back where they can make progress instead of being left mid-call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from batch_router.aws import job_states as states
from batch_router.aws.blocked_reasons import Blocked
from batch_router.aws.errors import BatchApiError, ErrorKind
from batch_router.executor.belief import TryClaim
from batch_router.executor.try_record import TryRecord
from batch_router.plan.model import TaskIdentity

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey

    from batch_router.executor.workloads import Workload

__all__ = [
    "About",
    "CallFailed",
    "Described",
    "EventChanged",
    "EventsApplied",
    "EventsRead",
    "Found",
    "NotFound",
    "Outcome",
    "PlanChunk",
    "Planned",
    "Polled",
    "Refused",
    "ReplanTicket",
    "Replanned",
    "StatusChanged",
    "StopTicket",
    "Stopped",
    "SubmitOutcome",
    "SubmitTicket",
    "Submitted",
    "Unplannable",
    "crashed_call",
]

TryRef = tuple["WorkloadKey", int]  # a record's key and serial: the record a call was made for


@dataclass(frozen=True, slots=True)
class About:
    """The tries an outcome concerns: by record (key, serial) and by Batch job id."""

    tries: tuple[TryRef, ...] = ()
    jobs: tuple[str, ...] = ()


class Outcome(Protocol):
    def about(self) -> About: ...


def crashed_call(operation: str, exc: BaseException, kind: ErrorKind = ErrorKind.TRANSIENT) -> BatchApiError:
    """A call that raised, as the error its handler expects (``kind`` says what may have happened)."""
    return BatchApiError(kind, operation, type(exc).__name__, str(exc) or type(exc).__name__)


# -- planning ------------------------------------------------------------------------------------------


# A try routed and its request built and checked, once: its record, made on the planning thread (so the
# scheduler thread only adds it to the tracker), its ``request`` what SubmitJob sends.
Planned = TryRecord


@dataclass(frozen=True, slots=True)
class Unplannable:
    """A newly arrived try that cannot be submitted, and why (bad exec_config, no route, a bug)."""

    key: WorkloadKey
    error: str


@dataclass(frozen=True, slots=True)
class PlanChunk:
    """Tries the planning thread planned (handed back as it goes), or those a crashed call could not."""

    items: tuple[Planned | Unplannable, ...]

    def about(self) -> About:
        return About()  # not tracked yet: the handler takes each item on its own


@dataclass(frozen=True, slots=True)
class ReplanTicket:
    """A tracked try to plan again: its job died before start (a fresh token, maybe the retry route),
    or it was adopted and has no job."""

    key: WorkloadKey
    serial: int
    identity: TaskIdentity
    executor_config: Mapping[str, Any] | None
    queue: str | None
    payload: str  # the workload as JSON, with a fresh token
    lost_capacity: bool = False
    why: str = ""  # what happened to its last job, for the task's event log

    def crashed(self, exc: BaseException) -> Refused:
        return Refused(self.key, self.serial, f"could not plan the task: {type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class Replanned:
    ticket: ReplanTicket
    route: str
    job_queue: str
    job_definition: str
    request: str

    def about(self) -> About:
        return About(((self.ticket.key, self.ticket.serial),))


@dataclass(frozen=True, slots=True)
class Refused:
    """The request could not be built (bad exec_config, no route); nothing was sent."""

    key: WorkloadKey
    serial: int
    reason: str

    def about(self) -> About:
        return About(((self.key, self.serial),))


# -- SubmitJob and look-ups ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitTicket:
    """One SubmitJob (or look-up) for one try, as the record stood when it was handed over."""

    key: WorkloadKey
    serial: int
    route: str
    request: str | None  # the planned request (JSON); None when there is nothing of ours to submit
    job_queue: str
    job_name: str
    match_ids: frozenset[str]  # a job whose id or try-id tag is one of these belongs to the try
    exclude: frozenset[str] = frozenset()  # the try's earlier jobs, which died before start
    look_first: bool = False
    elsewhere: tuple[tuple[str, str], ...] = ()  # other (job queue, job name) places to look in
    claim: TryClaim | None = None  # what a found job must show to be taken as the try's (belief.py)

    @property
    def places(self) -> tuple[tuple[str, str], ...]:
        return ((self.job_queue, self.job_name), *self.elsewhere)

    def crashed(self, exc: BaseException) -> CallFailed:
        # A call that raised may have made a job before it did: look before submitting again.
        return CallFailed(self, crashed_call("SubmitJob", exc, ErrorKind.OUTCOME_UNKNOWN))


class _AboutTicket:
    __slots__ = ()
    ticket: SubmitTicket

    def about(self) -> About:
        return About(((self.ticket.key, self.ticket.serial),))


# One small type per case, so the scheduler thread dispatches on the type. ``throttled`` counts the
# "slow down" answers on the way (each made no job).


@dataclass(frozen=True, slots=True)
class Submitted(_AboutTicket):
    """SubmitJob made a new job."""

    ticket: SubmitTicket
    job_id: str
    throttled: int = 0


@dataclass(frozen=True, slots=True)
class Found(_AboutTicket):
    """The try's job already existed (an earlier SubmitJob whose answer was lost made it)."""

    ticket: SubmitTicket
    job: Mapping[str, Any]

    @property
    def job_id(self) -> str:
        return str(self.job["jobId"])


@dataclass(frozen=True, slots=True)
class NotFound(_AboutTicket):
    """Looked for the try's job, found none, and had no request to send."""

    ticket: SubmitTicket


@dataclass(frozen=True, slots=True)
class CallFailed(_AboutTicket):
    """The look-up or SubmitJob failed; whether to retry depends on the error's kind."""

    ticket: SubmitTicket
    error: BatchApiError
    throttled: int = 0
    looking_up: bool = False  # the look-up failed, before any SubmitJob: it costs the task no attempt


SubmitOutcome = Submitted | Found | NotFound | CallFailed


# -- following jobs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """What a poll learned about one job whose status changed, already read for the executor."""

    job_id: str
    status: str
    phase: states.Phase
    info: str | None = None  # failed jobs: reason, exit code and log stream, for the task
    failed_before_start: bool = False  # failed jobs: the task did not run (unless it was seen RUNNING)
    lost_capacity: bool = False  # ... because its Spot capacity or host went away
    # ... and the workload read back from its command, to submit it again: a tracked try keeps none
    workload: Workload | None = None
    blocked: Blocked | None = None  # a RUNNABLE job: the documented reason it blocks its queue
    wait_limit_reason: str | None = None  # failed: the queue's jobStateTimeLimitActions cancelled it

    def about(self) -> About:
        return About(jobs=(self.job_id,))


@dataclass(frozen=True, slots=True)
class Polled:
    """One DescribeJobs call of a sweep: the jobs whose status changed, and those AWS did not return."""

    job_ids: tuple[str, ...]
    updates: tuple[StatusChanged, ...] = ()  # only jobs whose status differs from what the executor knew
    missing: tuple[str, ...] = ()  # asked about, not returned
    error: BatchApiError | None = None

    @classmethod
    def crashed(cls, job_ids: tuple[str, ...], exc: BaseException) -> Polled:
        return cls(job_ids, error=crashed_call("DescribeJobs", exc))

    def about(self) -> About:
        return About()  # the next sweep asks about every job again


@dataclass(frozen=True, slots=True)
class Described:
    """Adoption's DescribeJobs: the jobs found by the ids the scheduler had, for the tries in ``asked``."""

    asked: tuple[tuple[str, WorkloadKey, int], ...]  # (the id the scheduler had, key, serial)
    jobs: tuple[Mapping[str, Any], ...] = ()
    error: BatchApiError | None = None

    @classmethod
    def crashed(cls, asked: tuple[tuple[str, WorkloadKey, int], ...], exc: BaseException) -> Described:
        return cls(asked, error=crashed_call("DescribeJobs", exc))

    def about(self) -> About:
        return About(tuple((key, serial) for _, key, serial in self.asked))


@dataclass(frozen=True, slots=True)
class EventsRead:
    """One ReceiveMessage of the job events queue, read on the reader's thread: the changes of jobs
    this executor follows (in the poll's form), every followed job an event was about, and the receipts
    of the messages to delete once those changes are applied. ``error``: the queue could not be read."""

    changes: tuple[EventChanged, ...] = ()
    heard: tuple[str, ...] = ()  # job ids
    receipts: tuple[str, ...] = ()
    error: BatchApiError | None = None
    asked_at: float = 0.0  # when the ReceiveMessage was sent (monotonic): an answer older than a failure
    # does not say the queue is readable again

    def about(self) -> About:
        return About()  # its changes are queued one by one, each with its own handler


@dataclass(frozen=True, slots=True)
class EventChanged:
    """A job's status change from an event: applied as the poll's, if it still moves the job forward."""

    update: StatusChanged
    queue_blocked: bool = False  # from a "Batch Job Queue Blocked" event (the job blocks its queue)
    sent_at: float | None = None  # when SQS got the event (epoch seconds): the event path's lag

    def about(self) -> About:
        return About(jobs=(self.update.job_id,))


@dataclass(frozen=True, slots=True)
class EventsApplied:
    """Queued after an ``EventsRead``'s changes: once handled, its messages are deleted."""

    receipts: tuple[str, ...]

    def about(self) -> About:
        return About()


@dataclass(frozen=True, slots=True)
class StopTicket:
    """A stop of a job that must not run the task: by its id, or found by name for the try ``serial``."""

    job_id: str | None = None
    serial: int | None = None

    def stopped(self, error: BatchApiError | None) -> Stopped:
        return Stopped(self.job_id, self.serial, error)

    def crashed(self, exc: BaseException) -> Stopped:
        return self.stopped(crashed_call("TerminateJob" if self.job_id else "ListJobs", exc))


@dataclass(frozen=True, slots=True)
class Stopped:
    """A stop (CancelJob or TerminateJob) answered: of a job by id, or of a try's job found by name."""

    job_id: str | None
    serial: int | None
    error: BatchApiError | None = None

    def about(self) -> About:
        return About()
