"""Bookkeeping of every task try the executor owns, from accepted to finished. No I/O, no clock.

The scheduler thread is the only one that reads or changes a ``Tracker``; calls running on the API
thread pool get immutable tickets and hand back results, so nothing here needs a lock.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batch_router.executor.workloads import Workload
from batch_router.model import TaskIdentity

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey

_serials = itertools.count(1)


class Stage(enum.Enum):
    PENDING = "pending"  # waiting for its next SubmitJob (or look-up) call
    IN_FLIGHT = "in flight"  # a SubmitJob or look-up call is under way on the pool
    TRACKED = "tracked"  # has a Batch job; polled with DescribeJobs until it finishes


@dataclass(eq=False)
class TryRecord:
    """One Airflow task try (or callback) and the Batch job that runs it."""

    key: WorkloadKey
    identity: TaskIdentity
    route: str
    job_queue: str
    job_name: str
    workload: Workload | None  # None when adopted from a job whose command could not be read
    request: Mapping[str, Any] | None  # the SubmitJob request to send next
    executor_config: Mapping[str, Any] | None = None
    queue: str | None = None
    stage: Stage = Stage.PENDING
    job_id: str | None = None
    status: str | None = None  # the job's last known Batch status
    attempts: int = 0  # submit attempts used: failed calls that may count and jobs that died before start
    next_attempt_at: float = 0.0
    lookup_first: bool = False  # an earlier SubmitJob may have made a job: look for it before submitting
    submit_if_missing: bool = True  # False for adopted tries: there is nothing of ours to submit
    seen_running: bool = False
    reported_running: bool = False
    last_error: str | None = None  # why the last SubmitJob failed, for the failure info
    missing_rounds: int = 0  # DescribeJobs rounds in a row that did not return the job
    old_job_ids: set[str] = field(default_factory=set)  # this try's earlier jobs, which died before start
    serial: int = field(default_factory=lambda: next(_serials))


class Tracker:
    """Every ``TryRecord`` by workload key and by Batch job id."""

    def __init__(self) -> None:
        self._by_key: dict[WorkloadKey, TryRecord] = {}
        self._by_job: dict[str, TryRecord] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[TryRecord]:
        return iter(list(self._by_key.values()))

    def add(self, record: TryRecord) -> None:
        old = self._by_key.get(record.key)
        if old is not None:
            self.remove(old)
        self._by_key[record.key] = record
        if record.job_id is not None:
            self._by_job[record.job_id] = record

    def get(self, key: WorkloadKey) -> TryRecord | None:
        return self._by_key.get(key)

    def current(self, key: WorkloadKey, serial: int) -> TryRecord | None:
        """The record for ``key`` if it is still the one a call was made for."""
        record = self._by_key.get(key)
        return record if record is not None and record.serial == serial else None

    def by_job(self, job_id: str) -> TryRecord | None:
        return self._by_job.get(job_id)

    def remove(self, record: TryRecord) -> None:
        if self._by_key.get(record.key) is record:
            del self._by_key[record.key]
        if record.job_id is not None and self._by_job.get(record.job_id) is record:
            del self._by_job[record.job_id]

    def attach_job(self, record: TryRecord, job_id: str, status: str | None = None) -> None:
        """The try now has a job: poll it."""
        if record.job_id is not None and self._by_job.get(record.job_id) is record:
            del self._by_job[record.job_id]
        record.job_id = job_id
        record.status = status
        record.stage = Stage.TRACKED
        record.lookup_first = False
        record.missing_rounds = 0
        record.seen_running = False
        record.reported_running = False
        self._by_job[job_id] = record

    def detach_job(self, record: TryRecord, *, next_attempt_at: float) -> None:
        """The try's job died before the task ran: remember it and wait for the next submit."""
        if record.job_id is not None:
            record.old_job_ids.add(record.job_id)
            if self._by_job.get(record.job_id) is record:
                del self._by_job[record.job_id]
        record.job_id = None
        record.status = None
        record.stage = Stage.PENDING
        record.next_attempt_at = next_attempt_at

    def due(self, now: float, limit: int) -> list[TryRecord]:
        """Pending tries whose next attempt is due, the longest waiting first."""
        ready = [r for r in self._by_key.values() if r.stage is Stage.PENDING and r.next_attempt_at <= now]
        ready.sort(key=lambda r: (r.next_attempt_at, r.serial))
        return ready[: max(limit, 0)]

    def in_flight(self) -> int:
        return sum(1 for r in self._by_key.values() if r.stage is Stage.IN_FLIGHT)

    def job_ids_to_poll(self) -> list[str]:
        """Ids of every job that has not finished; the only ones DescribeJobs is asked about."""
        return [job_id for job_id, r in self._by_job.items() if r.stage is Stage.TRACKED]

    def counts_by_route(self) -> dict[str, dict[str, int]]:
        """Per route: tries not yet in Batch, jobs waiting in Batch and jobs running."""
        counts: dict[str, dict[str, int]] = {}
        for r in self._by_key.values():
            bucket = counts.setdefault(r.route, {"pending": 0, "queued": 0, "running": 0})
            if r.stage is not Stage.TRACKED:
                bucket["pending"] += 1
            elif r.status == "RUNNING":
                bucket["running"] += 1
            else:
                bucket["queued"] += 1
        return counts
