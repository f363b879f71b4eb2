"""Following each try's job: one DescribeJobs sweep per POLL_INTERVAL, and what it changed, to Airflow.

The API threads read each answer down to the jobs whose status changed, so a sweep that finds 5,000
jobs still RUNNING hands the scheduler thread nothing to do. A job AWS no longer returns is given up
after a few sweeps in a row; a job that failed before its task started is submitted again.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import DESCRIBE_JOBS_MAX
from batch_router.aws.blocked_reasons import Blocked
from batch_router.aws.errors import ErrorKind
from batch_router.executor import calls
from batch_router.executor.hub import Hub
from batch_router.executor.job_events import JobEvents, is_news
from batch_router.executor.outcomes import EventChanged, Polled, StatusChanged
from batch_router.executor.submitting import Submitter
from batch_router.executor.try_record import Stage, TryRecord
from batch_router.executor.workloads import restored, workload_from_payload

__all__ = ["Poller", "SweepPacer"]


class SweepPacer:
    """How many DescribeJobs calls a sweep may send now: ``rate`` a second on average, at most one
    second's worth at once; a rate of 0 sends them all. Pure: the caller passes the clock."""

    def __init__(self, rate: float, now: float = 0.0):
        self.rate = rate
        self._tokens = max(rate, 1.0)
        self._at = now

    def take(self, now: float, wanted: int) -> int:
        if self.rate <= 0:
            return wanted
        self._tokens = min(max(self.rate, 1.0), self._tokens + (now - self._at) * self.rate)
        self._at = now
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted


class Poller:
    """One sweep asks about every unfinished job once, 100 ids a call. A sweep starts POLL_INTERVAL
    after the last one started, once the last one is answered; its calls go out at DESCRIBE_RATE_LIMIT a
    second at most, so with many jobs a sweep takes longer and the interval grows with it, rather than
    a burst of calls being throttled. Every job of a sweep is asked about before the next sweep begins.
    """

    def __init__(self, hub: Hub, submitter: Submitter, events: JobEvents):
        self._hub = hub
        self._submitter = submitter
        self._events = events
        self._in_flight = 0
        self._last_sweep_at = float("-inf")
        self._last_full_sweep_at = float("-inf")
        self._missing_job_ids: set[str] = set()  # jobs the last sweeps did not return
        # The job ids this sweep has not asked about yet, last first (taken from the end, 100 at a time).
        # Each call's ids and known statuses are read from the tracker as it is sent, so a sweep over
        # 20,000 jobs costs its heartbeat one list copy, and each later heartbeat only the calls it sends.
        self._unsent: list[str] = []
        self._pacer: SweepPacer | None = None
        hub.channel.on(Polled, self._on_poll)
        hub.channel.on(StatusChanged, self._on_job)
        hub.channel.on(EventChanged, self._on_event)

    def dispatch(self, now: float) -> None:
        hub, runtime = self._hub, self._hub.loaded
        if runtime is None or hub.pacing.paused(now):
            return
        if self._pacer is None:
            self._pacer = SweepPacer(runtime.settings.describe_rate_limit, now)
        if not self._unsent:
            if self._in_flight or now - self._last_sweep_at < runtime.settings.poll_interval:
                return
            job_ids = self._sweep(now)
            if not job_ids:
                return
            self._last_sweep_at = now
            job_ids.reverse()
            self._unsent = job_ids
        calls_left = -(-len(self._unsent) // DESCRIBE_JOBS_MAX)
        count = self._pacer.take(now, calls_left)
        log_group = runtime.settings.log_group
        while count > 0 and self._unsent:
            ids = self._unsent[-DESCRIBE_JOBS_MAX:]
            del self._unsent[-DESCRIBE_JOBS_MAX:]
            chunk = hub.tracker.statuses_to_poll(reversed(ids))
            if not chunk:  # every one of them finished since the sweep began: no call, no token spent
                continue
            count -= 1
            run = functools.partial(calls.poll, runtime.client, chunk, log_group)
            crashed = functools.partial(Polled.crashed, tuple(chunk))
            if hub.channel.send(hub.poll, run, crashed):
                self._in_flight += 1
            else:  # shutting down: what is not sent now is asked for by the next sweep, if any
                self._unsent += ids
                return

    def _sweep(self, now: float) -> list[str]:
        """The jobs the next sweep asks about: every one, unless job events flow; then every one each
        RECONCILE_INTERVAL, and in between only those no event has been heard of for too long."""
        settings = self._hub.runtime().settings
        events = self._events
        if not events.flowing or now - self._last_full_sweep_at >= settings.reconcile_interval:
            job_ids = self._hub.tracker.job_ids()
            if job_ids:  # a sweep of nothing reconciles nothing: the first job is asked about at once
                self._last_full_sweep_at = now
            return job_ids
        return events.late(now, settings.event_grace_seconds)

    def _on_poll(self, result: Polled) -> None:
        hub = self._hub
        self._in_flight = max(self._in_flight - 1, 0)
        now = time.monotonic()
        if result.error is not None:
            if result.error.kind is ErrorKind.THROTTLED:
                hub.throttled(now)
            elif result.error.kind is ErrorKind.CREDENTIALS:
                hub.credentials_failed(now, result.error)
            else:
                hub.log.warning(
                    "batch-router: DescribeJobs failed, polling again later: %s", result.error.reason
                )
            return
        hub.pacing.recovered()
        if self._missing_job_ids:
            for job_id in self._missing_job_ids.intersection(result.job_ids).difference(result.missing):
                self._missing_job_ids.discard(job_id)
                record = hub.tracker.by_job(job_id)
                if record is not None:
                    hub.tracker.seen(record)
        for job_id in result.missing:
            self._job_missing(job_id)
        for update in result.updates:  # each on its own: one that cannot be handled costs only its try
            hub.channel.queue(update)
        if not self._unsent and not self._in_flight:  # the sweep's last answer: how long a sweep takes
            hub.metrics.lag("poll.sweep_seconds", now - self._last_sweep_at)

    def _job_missing(self, job_id: str) -> None:
        record = self._hub.tracker.by_job(job_id)
        if record is None or record.stage is not Stage.TRACKED:
            self._missing_job_ids.discard(job_id)
            return
        rounds = self._hub.tracker.missed(record)
        self._missing_job_ids.add(job_id)
        if rounds >= self._hub.tunables.vanished_after_polls:
            self._missing_job_ids.discard(job_id)
            self._hub.finish_failed(
                record,
                "batch-router: job vanished",
                f"AWS Batch no longer knows job {job_id} ({record.job_name}): DescribeJobs did not "
                f"return it in {record.missing_rounds} polls in a row "
                "(deleted, expired or in another region)",
            )

    def _on_event(self, event: EventChanged) -> None:
        """A change from a job event: applied as the poll's, unless its job has moved past it since."""
        if event.sent_at is not None:  # how late the executor hears of a change (docs/metrics.md)
            self._hub.metrics.lag("events.lag_seconds", time.time() - event.sent_at)
        record = self._hub.tracker.by_job(event.update.job_id)
        if record is not None and is_news(record, event.update, queue_blocked=event.queue_blocked):
            self._on_job(event.update)

    def _on_job(self, update: StatusChanged) -> None:
        hub = self._hub
        record = hub.tracker.by_job(update.job_id)
        if record is None or record.stage is not Stage.TRACKED:
            return  # finished, revoked or resubmitted since the poll was sent
        was_blocked = record.blocked
        hub.tracker.set_status(record, update.status, update.blocked.code if update.blocked else None)
        if update.phase is states.Phase.QUEUED:
            if update.blocked is not None and update.blocked.code != was_blocked:
                self._blocked(record, update.blocked)
            return
        if update.phase is states.Phase.RUNNING:
            if hub.tracker.running(record):
                hub.airflow.running_state(record.key, record.job_id)
                hub.count("running", record)
            return
        if update.phase is states.Phase.SUCCEEDED:
            hub.tracker.remove(record)
            hub.airflow.success(record.key)
            hub.count("succeeded", record)
            return
        info = update.info or f"AWS Batch job {update.job_id} {update.status}"
        if update.wait_limit_reason is not None:
            hub.finish_failed(record, "batch-router: wait limit reached", self._wait_limited(record, update))
            return
        before_start = update.failed_before_start and not record.seen_running
        # The job's command holds the workload; an adopted try whose command was unreadable kept its own.
        workload = update.workload
        if workload is None and record.payload is not None:
            workload = workload_from_payload(record.payload)
        if workload is not None:
            workload = restored(workload, str(record.identity.try_id), record.executor_config)
        if before_start and workload is not None and self._submitter.can_resubmit(record):
            self._submitter.resubmit(record, info, workload, lost_capacity=update.lost_capacity)
        else:
            if before_start:
                info += f" (the task never started; {self._submitter.why_not_resubmitted(workload)})"
            hub.finish_failed(record, "batch-router: job failed", info)

    def _blocked(self, record: TryRecord, why: Blocked) -> None:
        """AWS Batch says the try's job blocks its queue: a reason waiting can end is told where people
        look (the task's event log, the scheduler log, the route's gauge); one it cannot fails the try
        now and cancels the job, which would otherwise hold the queue until task_queued_timeout revokes
        the try, only for the next try to block it again."""
        hub = self._hub
        where = f"route {record.route!r} (job queue {record.job_queue})"
        if why.reason.clears_by_waiting:
            seen = datetime.now(UTC).strftime("%H:%M:%S UTC")
            text = (
                f"AWS Batch job {record.job_name} ({record.job_id}) waits in RUNNABLE, blocking {where} "
                f"(seen at {seen}): {why.message}. What to change: {why.reason.fix}"
            )
            hub.log.warning("batch-router: %s: %s", record.key, text)
            hub.airflow.log_task_event(event="batch-router: job waiting", extra=text, ti_key=record.key)
            hub.note(record.identity, text)
            return
        text = (
            f"AWS Batch job {record.job_name} ({record.job_id}) can never run on {where}: {why.message}. "
            f"Waiting cannot end it; batch-router cancelled the job. What to change: {why.reason.fix}"
        )
        if record.job_id is not None:
            hub.stop(record.job_id, reason=f"batch-router: {why.code}: the job can never run on this queue")
        hub.finish_failed(record, "batch-router: job cannot run", text)

    def _wait_limited(self, record: TryRecord, update: StatusChanged) -> str:
        """The failure info of a job the queue's jobStateTimeLimitActions cancelled: not the task's own
        failure (it never started), and not submitted again (it would wait as long once more)."""
        runtime = self._hub.runtime()
        route = runtime.plan.table.get(record.route)
        reason = str(update.wait_limit_reason)
        limit = route.wait_limits.get(reason) if route is not None else None
        said = f"route {record.route!r}'s wait limit of {limit} s" if limit else "its job queue's wait limit"
        return (
            f"AWS Batch cancelled job {record.job_name} ({update.job_id}) after it waited in RUNNABLE "
            f"longer than {said} for {reason}; the task never started. {update.info or ''}".rstrip()
        )
