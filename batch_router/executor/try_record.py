"""One task try's record: which try it is, where it stands, and the yes/no facts about it.

Frozen, so only the ``Tracker`` changes one (its indexes change with it); kept small, as 20,000 tries
in flight keep 20,000 of them.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batch_router.plan.model import TaskIdentity

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey

__all__ = [
    "ADOPTED",
    "GAUGE_BUCKETS",
    "HEARD",
    "LOOKUP_FIRST",
    "NO_SUBMIT",
    "ON_RETRY_ROUTE",
    "REPORTED_RUNNING",
    "SEEN_RUNNING",
    "Stage",
    "TryRecord",
    "gauge_bucket",
]

_serials = itertools.count(1)


class Stage(enum.Enum):
    PLANNING = "planning"  # being planned again on the planning thread (a resubmit, an adopted try)
    PENDING = "pending"  # waiting for its next SubmitJob (or look-up) call
    IN_FLIGHT = "in flight"  # a SubmitJob or look-up call is under way on the pool
    TRACKED = "tracked"  # has a Batch job; polled with DescribeJobs until it finishes
    ADOPTING = "adopting"  # adopted; AWS is being asked for its job by the id the scheduler had


GAUGE_BUCKETS = ("pending", "queued", "running")

# A record's yes/no facts, as bits of ``TryRecord.flags``: seven fields of their own were 56 of the
# bytes every tracked try keeps (a slot is 8 bytes, whatever it holds); one int is 8.
LOOKUP_FIRST = 1
NO_SUBMIT = 2
SEEN_RUNNING = 4
REPORTED_RUNNING = 8
HEARD = 16
ON_RETRY_ROUTE = 32
ADOPTED = 64


@dataclass(frozen=True, eq=False, slots=True)
class TryRecord:
    """One Airflow task try (or callback) and the Batch job that runs it.

    Frozen: the fields from ``route`` down are the Tracker's, changed only by its methods (so its
    counts and indexes change with them); the others say which try it is and never change.
    """

    # -- which try (never changes once tracked) ----------------------------------------------------
    key: WorkloadKey  # the scheduler's own key object (see Tracker.add)
    identity: TaskIdentity
    # -- where it stands (the Tracker's) -----------------------------------------------------------
    route: str
    job_queue: str
    job_name: str
    # The checked SubmitJob request as JSON, planned once, until the job exists; None once it does
    # (the job's command holds the workload, read back if it must run again) and while planning again.
    request: str | None = None
    # The workload as JSON where no request or job holds it: an adopted try's fresh workload, submitted
    # only if it has no job; a try being planned again; an adopted job whose command could not be read.
    payload: str | None = None
    executor_config: Mapping[str, Any] | None = None
    queue: str | None = None
    job_definition: str = ""  # as sent (or as the adopted job names it); for metrics
    stage: Stage = Stage.PENDING
    job_id: str | None = None
    status: str | None = None  # the job's last known Batch status
    blocked: str | None = None  # RUNNABLE and blocking its queue: the documented reason's code
    attempts: int = 0  # submit attempts used: failed calls that may count and jobs that died before start
    next_attempt_at: float = 0.0
    flags: int = 0  # the yes/no facts below (LOOKUP_FIRST ... ADOPTED), one int for all seven
    last_error: str | None = None  # why the last SubmitJob failed, for the failure info
    missing_rounds: int = 0  # DescribeJobs rounds in a row that did not return the job
    old_job_ids: tuple[str, ...] = ()  # this try's earlier jobs, which died before start
    # Other (job queue, job name) places a look-up searches: an adopted try whose executor_config can no
    # longer be planned may have its job in any route's queue.
    elsewhere: tuple[tuple[str, str], ...] = ()
    serial: int = field(default_factory=lambda: next(_serials))

    @property
    def lookup_first(self) -> bool:
        """An earlier SubmitJob may have made a job: look for it before submitting."""
        return bool(self.flags & LOOKUP_FIRST)

    @property
    def submit_if_missing(self) -> bool:
        """False once out of attempts: look once more, never submit."""
        return not self.flags & NO_SUBMIT

    @property
    def seen_running(self) -> bool:
        return bool(self.flags & SEEN_RUNNING)

    @property
    def reported_running(self) -> bool:
        return bool(self.flags & REPORTED_RUNNING)

    @property
    def heard(self) -> bool:
        """An event about its job came (job events on): it need not be polled early."""
        return bool(self.flags & HEARD)

    @property
    def on_retry_route(self) -> bool:
        """An earlier job lost its capacity: later ones go to the retry route."""
        return bool(self.flags & ON_RETRY_ROUTE)

    @property
    def adopted(self) -> bool:
        """From a dead scheduler: a job found for it tells its route and workload."""
        return bool(self.flags & ADOPTED)

    @property
    def match_ids(self) -> frozenset[str]:
        """A job whose id or try-id tag is one of these belongs to the try."""
        return frozenset(i for i in (self.identity.try_id,) if i)

    @property
    def places(self) -> tuple[tuple[str, str], ...]:
        """Every (job queue, job name) the try's job may be in: where it is sent first."""
        return ((self.job_queue, self.job_name), *self.elsewhere)


def gauge_bucket(record: TryRecord) -> str:
    """pending: not in Batch yet; running: its job is RUNNING; queued: its job waits in Batch."""
    if record.stage is not Stage.TRACKED:
        return "pending"
    return "running" if record.status == "RUNNING" else "queued"
