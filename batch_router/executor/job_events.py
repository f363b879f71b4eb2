"""Job state from AWS Batch's own events (EventBridge -> SQS), with the DescribeJobs sweep kept as the
safety net. Only when JOB_EVENTS_QUEUE is set; docs/job-events.md says how it works and costs.

Reader threads (``EventReader``, EVENTS_CONCURRENCY of them) long-poll the queue, 10 messages a call,
and read each message on their own time (an ``Acknowledger`` thread deletes and releases, 10 a call):
an unreadable one is logged once per reason and deleted; one about a job of no try of this
executor is deleted when it is known to be no one's here (another deployment's, another queue's, a job
whose try finished here, or one held longer than EVENTS_HOLD_SECONDS) and otherwise released for the
other schedulers sharing the queue; an event that does not move a followed job forward (a duplicate, or
late) is deleted. What is left, the changes of followed jobs, reaches the scheduler thread as one
``EventsRead`` in the poll's own form (``StatusChanged``), each applied only if it still moves its job
forward, and the messages are deleted once applied.

The scheduler thread's side (``JobEvents``) knows whether events flow, and so how often the poller must
sweep: a full sweep every RECONCILE_INTERVAL while they do, POLL_INTERVAL while the queue cannot be read,
and one early look at any job no event has been heard of for EVENT_GRACE_SECONDS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Mapping
from typing import TYPE_CHECKING

from batch_router.aws.errors import BatchApiError
from batch_router.aws.event_queue import EventQueue
from batch_router.aws.job_events import JobEvent, Unreadable, advances, read_message
from batch_router.aws.log import Log
from batch_router.aws.pacing import Pacing
from batch_router.config.model import resource_name
from batch_router.executor.calls import status_change
from batch_router.executor.hub import Hub
from batch_router.executor.outcomes import (
    EventChanged,
    EventsApplied,
    EventsRead,
    StatusChanged,
    crashed_call,
)
from batch_router.executor.try_record import TryRecord

if TYPE_CHECKING:
    from batch_router.executor.hub import Runtime

__all__ = ["RELEASE_SECONDS", "VISIBILITY_SECONDS", "EventReader", "JobEvents"]

# A message handed to the scheduler thread stays hidden this long: its deletion follows its apply, at the
# latest one long poll later.
VISIBILITY_SECONDS = 120
# A message about a job another scheduler may follow comes back to the queue after this long.
RELEASE_SECONDS = 15
# Job ids of finished tries remembered, so a late event about one is deleted, not released.
FINISHED_REMEMBERED = 50_000


class Acknowledger:
    """The one thread that deletes and releases messages, 10 a call, off the readers' way: a reader's
    only call is ReceiveMessage, so how fast events are read does not wait on how fast they are deleted.
    Appended to by the readers and the scheduler thread (deque appends are atomic)."""

    def __init__(self, queue: EventQueue, log: Log, *, interval: float = 0.05):
        self._queue = queue
        self._log = log
        self._interval = interval
        self._delete: deque[str] = deque()
        self._release: deque[str] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def delete(self, receipts: Iterable[str]) -> None:
        self._delete.extend(receipts)

    def release(self, receipts: Iterable[str]) -> None:
        self._release.extend(receipts)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="batch-router-events-ack", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop, and delete what was applied until now (or it comes back once more, harmlessly)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        for pending, send in ((self._delete, self._queue.delete), (self._release, self._release_now)):
            receipts = _take(pending)
            if not receipts:
                continue
            try:
                send(receipts)
            except Exception as exc:  # they come back after their visibility timeout: nothing is lost
                self._log.warning("batch-router: job events queue: %s", getattr(exc, "reason", exc))

    def _release_now(self, receipts: list[str]) -> None:
        self._queue.release(receipts, RELEASE_SECONDS)


def _take(pending: deque[str]) -> list[str]:
    taken: list[str] = []
    with contextlib.suppress(IndexError):
        while pending:
            taken.append(pending.popleft())
    return taken


class EventReader:
    """The thread that reads the job events queue; shares with the scheduler thread only two read-only
    views of the tracker, the outcomes it posts, and the receipts handed back to delete (a deque)."""

    def __init__(
        self,
        queue: EventQueue,
        *,
        jobs: Mapping[str, TryRecord],
        finished: Container[str],
        ours: Callable[[JobEvent], str | None],
        post: Callable[[EventsRead], None],
        log: Log,
        pacing: Pacing,
        wait_seconds: int,
        hold_seconds: float,
        log_group: str,
        clock: Callable[[], float] = time.time,
        acknowledger: Acknowledger,
        said: set[str] | None = None,
        name: str = "batch-router-events",
    ):
        self._queue = queue
        self._jobs = jobs
        self._finished = finished
        self._ours = ours  # None if the event's job may be this deployment's, else why it is not
        self._post = post
        self._log = log
        self._pacing = pacing
        self._wait_seconds = wait_seconds
        self._hold_seconds = hold_seconds
        self._log_group = log_group
        self._clock = clock
        self._ack = acknowledger  # shared by the readers of one executor, as are the reasons said once
        self._said: set[str] = set() if said is None else said
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop reading; a long poll under way is not waited for beyond ``timeout`` (its messages come
        back to the queue once their visibility timeout passes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            asked_at = time.monotonic()
            try:
                messages = self._queue.receive(
                    wait_seconds=self._wait_seconds, visibility_seconds=VISIBILITY_SECONDS
                )
                read = self.read(messages)
            except BatchApiError as exc:
                failures += 1
                self._post(EventsRead(error=exc, asked_at=asked_at))
                self._stop.wait(self._pacing.backoff(failures))
                continue
            except Exception as exc:  # a bug of ours: said, and the reader goes on
                self._log.exception("batch-router: the job events reader failed")
                failures += 1
                self._post(EventsRead(error=crashed_call("ReceiveMessage", exc), asked_at=asked_at))
                self._stop.wait(self._pacing.backoff(failures))
                continue
            failures = 0
            self._post(dataclasses.replace(read, asked_at=asked_at))
            if not messages and self._wait_seconds < 1:  # no long poll: no busy loop of ReceiveMessage
                self._stop.wait(1.0 - self._wait_seconds)

    def read(self, messages: list[dict[str, object]]) -> EventsRead:
        """Sort one ReceiveMessage's messages: hand over, delete, or release each."""
        changes: list[EventChanged] = []
        heard: list[str] = []
        receipts: list[str] = []
        drop: list[str] = []
        hold: list[str] = []
        now = self._clock()
        for message in messages:
            event = read_message(message)
            if isinstance(event, Unreadable):
                self._say_once(
                    event.reason,
                    "batch-router: deleted job events message %s: %s",
                    event.message_id,
                    event.reason,
                )
                drop.append(event.receipt)
                continue
            record = self._jobs.get(event.job_id)
            if record is None:
                (hold if self._may_be_anothers(event, now) else drop).append(event.receipt)
                continue
            heard.append(event.job_id)
            try:
                change = status_change(event.detail, event.job_id, None, self._log_group)
            except Exception as exc:  # a detail this reader cannot read: that message only, out of the way
                reason = f"job {event.job_id[:128]}'s description cannot be read ({type(exc).__name__})"
                self._say_once(
                    reason, "batch-router: deleted job events message %s: %s", event.message_id, reason
                )
                drop.append(event.receipt)  # the reconciling sweep reads the job instead
                continue
            if change is None or not is_news(record, change, queue_blocked=event.queue_blocked):
                drop.append(event.receipt)  # a duplicate, or later than what the executor knows
                continue
            changes.append(EventChanged(change, queue_blocked=event.queue_blocked, sent_at=event.sent_at))
            receipts.append(event.receipt)
        self._ack.delete(drop)
        self._ack.release(hold)
        return EventsRead(tuple(changes), tuple(heard), tuple(receipts))

    def _may_be_anothers(self, event: JobEvent, now: float) -> bool:
        """An event about a job no try here has: worth leaving for another scheduler?"""
        if event.job_id in self._finished:
            return False  # its try finished here: a late or duplicate event
        why = self._ours(event)
        if why is not None:
            self._say_once(
                why, "batch-router: deleted events about jobs that are not this deployment's (%s)", why
            )
            return False
        return event.sent_at is None or now - event.sent_at < self._hold_seconds

    def _say_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._said:
            self._said.add(key)
            self._log.warning(message, *args)


class JobEvents:
    """The scheduler thread's side of the event path: whether events flow, which jobs to look at early,
    and the reader's start and stop."""

    flowing: bool  # the last ReceiveMessage was answered: the sweep can slow down
    _readers: list[EventReader]  # EVENTS_CONCURRENCY threads, started by start()
    _ack: Acknowledger | None  # deletes and releases for them
    _failed_at: float
    _unheard_before: set[str]  # jobs without an event at the last scan
    _next_scan: float

    def __init__(self, hub: Hub):
        self._hub = hub
        self.flowing = False
        self._readers = []
        self._ack = None
        self._unheard_before = set()
        self._next_scan = 0.0
        self._said_failing = False
        self._failed_at = float("-inf")  # when the last receive that failed was sent
        hub.channel.on(EventsRead, self._on_read)
        hub.channel.on(EventsApplied, self._on_applied)

    @property
    def on(self) -> bool:
        return bool(self._readers)

    def start(self, runtime: Runtime) -> None:
        """Start reading JOB_EVENTS_QUEUE, if it is set."""
        settings = runtime.settings
        if settings.job_events_queue is None:
            return
        queues = {resource_name(route.job_queue) for route in runtime.plan.table.routes}
        deployment = settings.deployment

        def ours(event: JobEvent) -> str | None:
            if event.job_queue not in queues:
                return f"job queue {event.job_queue!r} is in no route"
            if event.deployment is not None and event.deployment != deployment:
                return f"deployment {event.deployment!r}"
            return None

        tracker = self._hub.tracker
        queue = EventQueue(runtime.client, settings.job_events_queue)
        jobs, finished = tracker.jobs_view(), tracker.remember_finished(FINISHED_REMEMBERED)
        self._ack = ack = Acknowledger(queue, self._hub.log)
        said: set[str] = set()
        self._readers = [
            EventReader(
                queue,
                jobs=jobs,
                finished=finished,
                ours=ours,
                post=self._hub.channel.post,
                log=self._hub.log,
                pacing=Pacing.of(self._hub.tunables),
                wait_seconds=settings.events_wait_seconds,
                hold_seconds=settings.events_hold_seconds,
                log_group=settings.log_group,
                acknowledger=ack,
                said=said,
                name=f"batch-router-events-{n}",
            )
            for n in range(settings.events_concurrency)
        ]
        ack.start()
        for reader in self._readers:
            reader.start()

    def stop(self, timeout: float = 0.5) -> None:
        for reader in self._readers:
            reader.stop(timeout / 2 / len(self._readers))
        if self._ack is not None:
            self._ack.stop(timeout / 2)

    def _on_read(self, read: EventsRead) -> None:
        hub = self._hub
        queue = hub.loaded.settings.job_events_queue if hub.loaded else None
        if read.error is not None:
            self._failed_at = max(self._failed_at, read.asked_at)
            if self.flowing or not self._said_failing:
                hub.log.error(
                    "batch-router: cannot read the job events queue %s (%s); DescribeJobs sweeps every "
                    "POLL_INTERVAL until it can",
                    queue,
                    read.error.reason,
                )
                self._said_failing = True
            self.flowing = False
            return
        if not self.flowing and read.asked_at > self._failed_at:  # asked after the last failure
            hub.log.info(
                "batch-router: reading job events from %s; a full DescribeJobs sweep every "
                "RECONCILE_INTERVAL reconciles them",
                queue,
            )
            self.flowing, self._said_failing = True, False
        for job_id in read.heard:
            record = hub.tracker.by_job(job_id)
            if record is not None:
                hub.tracker.heard(record)
        for change in read.changes:
            hub.channel.queue(change)
        if read.receipts:
            hub.channel.queue(EventsApplied(read.receipts))  # handled after the changes above

    def _on_applied(self, applied: EventsApplied) -> None:
        if self._ack is not None:
            self._ack.delete(applied.receipts)

    def late(self, now: float, grace: float) -> list[str]:
        """Jobs no event has been heard of for at least ``grace`` seconds (between one and two scans
        of the tracker, one every ``grace``): each is looked at once by the next sweep, then left to
        events and reconciliation."""
        if now < self._next_scan:
            return []
        tracker = self._hub.tracker
        unheard = tracker.unheard()
        late = unheard & self._unheard_before
        self._unheard_before, self._next_scan = unheard - late, now + grace
        for job_id in late:
            record = tracker.by_job(job_id)
            if record is not None:
                tracker.heard(record)
        return sorted(late)


def is_news(record: TryRecord, change: StatusChanged, *, queue_blocked: bool) -> bool:
    """Whether an event's change still moves the try's job forward: a later status, or for a job still
    RUNNABLE a queue-blocked event naming another reason than the one the executor has. Asked by the
    reader and again by the scheduler thread as the change is applied."""
    reason = change.blocked.code if change.blocked is not None else None
    return advances(record.status, change.status, new_reason=queue_blocked and reason != record.blocked)
