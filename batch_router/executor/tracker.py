"""Bookkeeping of every task try the executor owns, from planned to finished. No I/O, no clock.

The scheduler thread is the only one that reads or changes a ``Tracker``; calls running on the thread
pools get immutable tickets and hand back results, so nothing here needs a lock.

Every question the executor asks on each heartbeat (which tries are due, how many calls are in flight,
how many tries each route has in each state) is answered from indexes kept up to date as records
change, never by scanning every record: a scheduler with 50,000 tries in flight pays the same per
heartbeat as one with 50. So a record's stage, status and next attempt change only through the
``Tracker``.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from batch_router.aws.job_states import state_key
from batch_router.executor.metrics import BLOCKED
from batch_router.executor.try_record import (
    GAUGE_BUCKETS,
    HEARD,
    LOOKUP_FIRST,
    NO_SUBMIT,
    ON_RETRY_ROUTE,
    REPORTED_RUNNING,
    SEEN_RUNNING,
    Stage,
    TryRecord,
    gauge_bucket,
)

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey

__all__ = ["Tracker"]

# A frozen record's fields are set here and nowhere else (``tests/executor/test_tracker.py`` reads every
# module for another ``object.__setattr__``).
_set = object.__setattr__


def _change(record: TryRecord, **fields: Any) -> None:
    for name, value in fields.items():
        _set(record, name, value)


def _flags(record: TryRecord, *, on: int = 0, off: int = 0) -> None:
    _set(record, "flags", (record.flags | on) & ~off)


class Tracker:
    """Every ``TryRecord`` by workload key and by Batch job id, with the indexes a heartbeat reads."""

    def __init__(self) -> None:
        self._by_key: dict[WorkloadKey, TryRecord] = {}
        self._by_job: dict[str, TryRecord] = {}
        # Pending records by next attempt; an entry is stale (skipped) once its record moved on.
        self._due: list[tuple[float, int, TryRecord]] = []
        self._in_flight = 0
        self._buckets: Counter[tuple[str, str]] = Counter()
        self._blocked: Counter[tuple[str, str]] = Counter()  # (route, reason code): blocked jobs
        # The ids of jobs whose try finished here, newest last, kept only while job events are read
        # (``remember_finished``): a late event about one of them is known to be no one else's.
        self._finished: dict[str, None] = {}
        self._finished_max = 0

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[TryRecord]:
        return iter(list(self._by_key.values()))

    # -- membership ------------------------------------------------------------------------------------

    def add(self, record: TryRecord, *, key: WorkloadKey | None = None, now: float | None = None) -> None:
        """Track ``record`` (in place of the key's record, if any). ``key`` is the scheduler's own key
        object, kept instead of the equal tuple planning made, so a tracked try holds one key, not two;
        ``now`` makes a pending record due at once."""
        if key is not None:
            _set(record, "key", key)
        if now is not None:
            _set(record, "next_attempt_at", now)
        old = self._by_key.get(record.key)
        if old is not None:
            self.remove(old)
        self._by_key[record.key] = record
        self._count(record, +1)
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
        if self._by_key.get(record.key) is not record:
            return
        del self._by_key[record.key]
        self._count(record, -1)
        if record.job_id is not None and self._by_job.get(record.job_id) is record:
            del self._by_job[record.job_id]
            if self._finished_max:
                self._finished[record.job_id] = None
                if len(self._finished) > self._finished_max:
                    del self._finished[next(iter(self._finished))]

    # -- what the job events reader reads --------------------------------------------------------------
    # The one exception to "only the scheduler thread reads a Tracker": the event reader's thread looks
    # up single job ids in these two read-only views. A single-key read of a dict is atomic in CPython,
    # and a stale answer is harmless: what the reader hands over is checked again on the scheduler
    # thread (``job_events``), and what it holds back comes again from the queue or the sweep.

    def jobs_view(self) -> Mapping[str, TryRecord]:
        """Every tracked try by its job id, read-only and live."""
        return MappingProxyType(self._by_job)

    def remember_finished(self, count: int) -> Container[str]:
        """Keep the ids of the last ``count`` jobs whose try finished here; a live read-only view."""
        self._finished_max = count
        return self._finished.keys()

    # -- changes: the only code that changes a record --------------------------------------------------

    def start_call(self, record: TryRecord) -> None:
        """A SubmitJob or look-up for the try was handed to the pool."""
        live = self._unindex(record)
        _set(record, "stage", Stage.IN_FLIGHT)
        self._reindex(record, live)

    def call_failed(self, record: TryRecord, *, next_attempt_at: float, look_first: bool = False) -> None:
        """The call made no job and cost the try no attempt: it waits for its next one. ``look_first``:
        a job may exist all the same (an answer that could not be read), so it is looked for first."""
        live = self._unindex(record)
        _change(record, stage=Stage.PENDING, next_attempt_at=next_attempt_at)
        if look_first:
            _flags(record, on=LOOKUP_FIRST)
        self._reindex(record, live)

    def submit_failed(
        self, record: TryRecord, error: str, *, outcome_unknown: bool, next_attempt_at: float
    ) -> None:
        """A SubmitJob failed and counts as an attempt; if its outcome is unknown it may have made a
        job, which is looked for before the next one."""
        _change(record, attempts=record.attempts + 1, last_error=error)
        self.call_failed(record, next_attempt_at=next_attempt_at, look_first=outcome_unknown)

    def last_look(self, record: TryRecord, *, now: float) -> None:
        """Out of attempts, but the last one may have made a job: look once more, submit no more."""
        _flags(record, on=NO_SUBMIT)
        self.call_failed(record, next_attempt_at=now)

    def attach_job(
        self, record: TryRecord, job_id: str, status: str | None = None, *, submitted: bool = False
    ) -> None:
        """The try now has a job (``submitted``: one this SubmitJob made, which counts as an attempt):
        poll it. The job's command holds the workload now: neither request nor payload is kept."""
        if record.job_id is not None and self._by_job.get(record.job_id) is record:
            del self._by_job[record.job_id]
        live = self._unindex(record)
        _change(
            record,
            stage=Stage.TRACKED,
            job_id=job_id,
            status=None if status is None else sys.intern(status),
            blocked=None,
            request=None,
            payload=None,
            attempts=record.attempts + submitted,
            missing_rounds=0,
        )
        _flags(record, off=LOOKUP_FIRST | SEEN_RUNNING | REPORTED_RUNNING | HEARD)
        self._reindex(record, live)
        if self._by_key.get(record.key) is record:
            self._by_job[job_id] = record

    def detach_job(self, record: TryRecord, *, payload: str, next_attempt_at: float) -> None:
        """The try's job died before the task ran: remember it, and plan the try again from ``payload``
        (its workload with a fresh token); it is submitted at ``next_attempt_at`` once planned."""
        if record.job_id is not None:
            _set(record, "old_job_ids", (*record.old_job_ids, record.job_id))
            if self._by_job.get(record.job_id) is record:
                del self._by_job[record.job_id]
        live = self._unindex(record)
        _change(
            record,
            stage=Stage.PLANNING,
            status=None,
            blocked=None,
            job_id=None,
            payload=payload,
            next_attempt_at=next_attempt_at,
        )
        _flags(record, off=NO_SUBMIT | LOOKUP_FIRST)
        self._reindex(record, live)

    def plan_again(self, record: TryRecord, *, now: float) -> None:
        """Looked and found no job, and the try has a workload of its own (adopted): plan it now."""
        live = self._unindex(record)
        _change(record, stage=Stage.PLANNING, next_attempt_at=now)
        _flags(record, off=LOOKUP_FIRST)
        self._reindex(record, live)

    def planned(self, record: TryRecord, *, request: str) -> None:
        """Planned again: the try waits for its SubmitJob with this request."""
        live = self._unindex(record)
        _change(record, stage=Stage.PENDING, request=request, payload=None)
        self._reindex(record, live)

    def move_route(self, record: TryRecord, *, route: str, job_queue: str, job_definition: str) -> None:
        """The try's next jobs go to another route (its retry_route): counted there from now on."""
        live = self._unindex(record)
        _change(record, route=route, job_queue=job_queue, job_definition=job_definition)
        _flags(record, on=ON_RETRY_ROUTE)
        self._reindex(record, live)

    def set_status(self, record: TryRecord, status: str | None, blocked: str | None = None) -> None:
        """The job's status as a poll or event read it, and the documented reason it blocks its queue
        (RUNNABLE only); None forgets both, so the next poll reports the job again."""
        if status != record.status or blocked != record.blocked:
            live = self._unindex(record)
            # a handful of values: one string each, not one per try
            _set(record, "status", None if status is None else sys.intern(status))
            _set(record, "blocked", None if blocked is None else sys.intern(blocked))
            self._reindex(record, live)

    def running(self, record: TryRecord) -> bool:
        """The job was seen running; True the first time (to be reported to Airflow)."""
        first = not record.reported_running
        _flags(record, on=SEEN_RUNNING | REPORTED_RUNNING)
        return first

    def put_back(self, record: TryRecord, *, next_attempt_at: float) -> bool:
        """A handler failed on an outcome about the try: put it where it can make progress. A try that
        was waiting for a call's answer looks for its job (the call may have made one) and goes on from
        there; a tracked one forgets its job's status, so the next poll reports it again. True if moved."""
        if record.stage is Stage.TRACKED:
            self.set_status(record, None)
            return True
        if record.stage is Stage.PENDING:
            return False
        self.call_failed(record, next_attempt_at=next_attempt_at, look_first=True)
        return True

    def heard(self, record: TryRecord) -> None:
        """An event about the try's job came: it is followed by events now."""
        if not record.heard:
            _flags(record, on=HEARD)

    def unheard(self) -> set[str]:
        """Jobs no event has been heard of since the executor began following them (a scan, meant for
        once every EVENT_GRACE_SECONDS)."""
        return {job_id for job_id, r in self._by_job.items() if not r.heard and r.stage is Stage.TRACKED}

    def missed(self, record: TryRecord) -> int:
        """A sweep did not return the try's job: how many sweeps in a row have not."""
        _set(record, "missing_rounds", record.missing_rounds + 1)
        return record.missing_rounds

    def seen(self, record: TryRecord) -> None:
        _set(record, "missing_rounds", 0)

    # A live record is taken out of the indexes before it changes and put back in after. Two calls, not
    # a context manager: a generator-based one costs about 1.5 us a change on the scheduler thread (a
    # plain call 0.04), and every try changes three or four times on its way to RUNNING.
    def _unindex(self, record: TryRecord) -> bool:
        live = self._by_key.get(record.key) is record
        if live:
            self._count(record, -1)
        return live

    def _reindex(self, record: TryRecord, live: bool) -> None:
        if live:
            self._count(record, +1)

    def _count(self, record: TryRecord, sign: int) -> None:
        bucket = (record.route, gauge_bucket(record))
        self._buckets[bucket] += sign
        if self._buckets[bucket] <= 0:
            del self._buckets[bucket]
        if record.blocked is not None:
            why = (record.route, record.blocked)
            self._blocked[why] += sign
            if self._blocked[why] <= 0:
                del self._blocked[why]
        if record.stage is Stage.IN_FLIGHT:
            self._in_flight += sign
        elif record.stage is Stage.PENDING and sign > 0:
            self._push_due(record)

    def _push_due(self, record: TryRecord) -> None:
        heapq.heappush(self._due, (record.next_attempt_at, record.serial, record))

    # -- what a heartbeat asks -------------------------------------------------------------------------

    def pop_due(self, now: float) -> TryRecord | None:
        """The pending try waiting longest whose next attempt is due, taken off the due heap; None if
        there is none. One at a time, so a heartbeat whose budget runs out pops no more than it starts."""
        while self._due and self._due[0][0] <= now:
            at, _, record = heapq.heappop(self._due)
            if (
                self._by_key.get(record.key) is record
                and record.stage is Stage.PENDING
                and record.next_attempt_at == at
            ):
                return record
        return None

    def in_flight(self) -> int:
        return self._in_flight

    def job_ids(self) -> list[str]:
        """Every job id the tracker knows: a sweep's list (a copy made in C, cheap at 20,000)."""
        return list(self._by_job)

    def statuses_to_poll(self, job_ids: Iterable[str]) -> dict[str, str | None]:
        """Those of ``job_ids`` still unfinished (the only ones DescribeJobs is asked about), and the
        status a poll compares against; a RUNNING job not yet reported to Airflow counts as unknown, so
        it comes back."""
        statuses: dict[str, str | None] = {}
        for job_id in job_ids:
            r = self._by_job.get(job_id)
            if r is not None and r.stage is Stage.TRACKED:
                unreported = r.status == "RUNNING" and not r.reported_running
                statuses[job_id] = None if unreported else state_key(r.status, r.blocked)
        return statuses

    def counts_by_route(self) -> dict[str, dict[str, int]]:
        """Per route: tries not yet in Batch, jobs waiting in Batch and jobs running; and of the jobs
        waiting, those blocking their queue, per documented reason (``blocked:<reason>``)."""
        counts: dict[str, dict[str, int]] = {}
        for (route, bucket), n in self._buckets.items():
            counts.setdefault(route, dict.fromkeys(GAUGE_BUCKETS, 0))[bucket] = n
        for (route, reason), n in self._blocked.items():
            counts.setdefault(route, dict.fromkeys(GAUGE_BUCKETS, 0))[f"{BLOCKED}:{reason}"] = n
        return counts
