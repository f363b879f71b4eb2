"""What the executor's parts share: the tracker, the channel to the pools, the runtime and Airflow's ear.

Intake, submitting, polling and adoption each keep their own state and talk to each other only through
a ``Hub``: it owns the tracker (every try's record) and the channel (calls out, outcomes back), loads
the settings, plan and AWS client once, and is the one place a try ends in failure or a pause after
throttling or expired credentials is decided. Everything here runs on the scheduler thread; the pools
only run the calls handed to them and give back values (``channel``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from batch_router.aws import try_jobs
from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError
from batch_router.aws.log import Log
from batch_router.aws.pacing import Pacing
from batch_router.config.model import DefinitionFacts
from batch_router.config.settings import ConfSource, ExecutorSettings, load_settings
from batch_router.config.tunables import Tunables
from batch_router.executor.belief import claim_for
from batch_router.executor.channel import Channel
from batch_router.executor.metrics import UNKNOWN_ROUTE, ExecutorMetrics
from batch_router.executor.outcomes import About, Stopped, StopTicket
from batch_router.executor.task_notes import TaskNotes, airflow_task_notes, identity_of_key
from batch_router.executor.tracker import Tracker
from batch_router.executor.try_record import TryRecord
from batch_router.plan.model import TaskIdentity
from batch_router.plan.planner import Plan

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.tokens import JWTGenerator
    from airflow.executors.workloads.types import WorkloadKey

__all__ = ["REVOKE_REASON", "AirflowSide", "Hub", "Log", "Pools", "Runtime", "start_threads"]

REVOKE_REASON = (
    "Revoked by the Airflow scheduler (e.g. stuck in queued); its workload token is no longer valid"
)
# MAX_SUBMIT_JOB_ATTEMPTS's default, used before the settings are loaded.
_DEFAULT_MAX_ATTEMPTS = 3


class AirflowSide(Protocol):
    """The BaseExecutor calls through which the parts tell Airflow what became of a try."""

    @property
    def jwt_generator(self) -> JWTGenerator: ...  # signs a fresh token for a resubmitted try

    def running_state(self, key: WorkloadKey, info: Any) -> None: ...

    def success(self, key: WorkloadKey, info: Any = None) -> None: ...

    def fail(self, key: WorkloadKey, info: Any = None) -> None: ...

    def log_task_event(self, *, event: str, extra: str, ti_key: WorkloadKey) -> Any: ...


@dataclass(frozen=True)
class Runtime:
    """What the executor loads once from Airflow's configuration: settings, plan and AWS client."""

    settings: ExecutorSettings
    plan: Plan
    client: BatchClient

    @classmethod
    def load(cls, conf: ConfSource | None) -> Runtime:
        """Raises ``ConfigError`` when the settings or the route table are wrong."""
        settings = load_settings(conf)
        client = BatchClient(
            aws_conn_id=settings.aws_conn_id,
            region_name=settings.region_name,
            submit_rate_limit=settings.submit_rate_limit,
            retry_mode=settings.retry_mode,
            log_requests=settings.log_aws_requests,
        )
        return cls(settings, Plan.from_settings(settings), client)


@dataclass(frozen=True)
class Pools:
    """The executor's threads, started together at ``start()`` and shut down together."""

    api: ThreadPoolExecutor  # SubmitJob, look-ups, stops, adoption's DescribeJobs
    poll: ThreadPoolExecutor  # the sweeps' DescribeJobs calls
    planner: ThreadPoolExecutor  # the planning thread

    @classmethod
    def start(cls, settings: ExecutorSettings) -> Pools:
        pools = cls(
            ThreadPoolExecutor(max_workers=settings.api_concurrency, thread_name_prefix="batch-router-api"),
            ThreadPoolExecutor(max_workers=settings.poll_concurrency, thread_name_prefix="batch-router-poll"),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-router-plan"),
        )
        start_threads(pools.api, settings.api_concurrency)
        start_threads(pools.poll, settings.poll_concurrency)
        start_threads(pools.planner, 1)
        return pools

    def all(self) -> list[ThreadPoolExecutor]:
        return [self.planner, self.api, self.poll]


class Hub:
    """What the executor's parts share, each declared below with who changes it. All of it is read and
    changed on the scheduler thread only; the pools run calls and give back values (``channel``)."""

    airflow: AirflowSide  # what the parts tell Airflow (the executor itself)
    log: Log
    metrics: ExecutorMetrics
    tracker: Tracker  # every try's record; records change only through it
    channel: Channel  # calls out to the pools, their outcomes back, one handler per outcome type
    # Set at start(): tune() from the settings (the defaults until then), open() starts the threads
    # (none until then), runtime() loads settings, plan and client once (learn() replaces the plan).
    tunables: Tunables
    pacing: Pacing
    _pools: Pools | None
    _runtime: Runtime | None
    # Stops of revoked tries whose call has not answered yet: terminate() cancels calls not yet
    # started, so it stops these itself rather than leave a revoked job running.
    _pending_stops: dict[str, None]  # job ids
    _pending_try_stops: dict[int, TryRecord]  # by record serial: jobs without a known id
    _notes: TaskNotes | None  # made at first use (reads Airflow's logging configuration)

    def __init__(self, *, conf: ConfSource | None, airflow: AirflowSide, log: Log, metrics: ExecutorMetrics):
        self._conf = conf
        self.airflow = airflow
        self.log = log
        self.metrics = metrics
        self.tracker = Tracker()
        self.channel = Channel(log, metrics, self._put_back)
        self.tunables = Tunables()
        self.pacing = Pacing.of(self.tunables)
        self._pools = None
        self._runtime = None
        self._pending_stops = {}
        self._pending_try_stops = {}
        self._notes = None
        self.channel.on(Stopped, self._on_stopped)

    # -- what is loaded once -----------------------------------------------------------------------

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.load(self._conf)
        return self._runtime

    def learn(self, definitions: Mapping[str, DefinitionFacts]) -> None:
        """Take what the start-up check read of the job definitions into the plan (the seed's implicit
        route gets its compute). Called on the scheduler thread in start(), or once from the
        background health check: the runtime is replaced whole, one reference assignment."""
        runtime = self.runtime()
        self._runtime = dataclasses.replace(runtime, plan=runtime.plan.with_definitions(definitions))

    def tune(self, tunables: Tunables) -> None:
        """The executor's (team's) budgets and backoff; a fresh pacing with them."""
        self.tunables, self.pacing = tunables, Pacing.of(tunables)

    def open(self) -> None:
        """Start the threads (start()): calls can be handed over from now on."""
        self._pools = Pools.start(self.runtime().settings)

    def close(self, timeout: float) -> int:
        """Cancel the calls not yet started, wait up to ``timeout`` for the running ones, and join the
        threads if they all ended. Returns how many calls are still running."""
        return self.channel.drain(self._pools.all() if self._pools else [], timeout)

    @property
    def loaded(self) -> Runtime | None:
        """The runtime if it was loaded already; never loads it."""
        return self._runtime

    @property
    def open_for_calls(self) -> bool:
        return self._pools is not None

    @property
    def api(self) -> ThreadPoolExecutor | None:
        return self._pools.api if self._pools else None

    @property
    def poll(self) -> ThreadPoolExecutor | None:
        return self._pools.poll if self._pools else None

    @property
    def planner(self) -> ThreadPoolExecutor | None:
        return self._pools.planner if self._pools else None

    @property
    def max_attempts(self) -> int:
        return self._runtime.settings.max_submit_job_attempts if self._runtime else _DEFAULT_MAX_ATTEMPTS

    def _put_back(self, about: About) -> int:
        """The channel's recovery when a handler failed: the outcome's tries go where they can make
        progress (``Tracker.put_back``)."""
        now = time.monotonic()
        records = [self.tracker.current(key, serial) for key, serial in about.tries]
        records += [self.tracker.by_job(job_id) for job_id in about.jobs]
        moved = 0
        for record in records:
            if record is not None and self.tracker.put_back(
                record, next_attempt_at=now + self.pacing.backoff(1)
            ):
                moved += 1
        return moved

    # -- endings -----------------------------------------------------------------------------------

    def fail_now(self, key: WorkloadKey, event: str, reason: str, record: TryRecord | None = None) -> None:
        """The try fails for ``reason``: said in the scheduler log, the task's event log and its log pane
        (where a task that never ran would otherwise show only that its logs cannot be read)."""
        self.log.error("batch-router: %s failed: %s", key, reason)
        self.airflow.log_task_event(event=event, extra=reason, ti_key=key)
        self.note(record.identity if record is not None else key, f"{event}: {reason}", level="error")
        self.airflow.fail(key, info=reason)
        if record is None:
            self.metrics.count("failed", UNKNOWN_ROUTE)
        else:
            self.count("failed", record)

    def finish_failed(self, record: TryRecord, event: str, reason: str) -> None:
        self.tracker.remove(record)
        self.fail_now(record.key, event, reason, record)

    def note(self, about: TaskIdentity | WorkloadKey, text: str, *, level: str = "warning") -> None:
        """Tell the try's own log pane (``task_notes``); never raises. ``about``: the try, or the
        scheduler's key for it (a callback's key names no task: nothing is written)."""
        try:
            identity = about if isinstance(about, TaskIdentity) else identity_of_key(about)
            if identity is None:
                return
            if self._notes is None:
                self._notes = airflow_task_notes(self.log)
            self._notes.note(identity, text, level=level)
        except Exception:  # no logging configuration to read: the event log still says it
            pass

    def count(self, name: str, record: TryRecord, by: int = 1) -> None:
        """Count ``name`` for the try's route and where its job was sent."""
        self.metrics.count(
            name, record.route, by, job_queue=record.job_queue, job_definition=record.job_definition or None
        )

    # -- stops -------------------------------------------------------------------------------------

    def stop(self, job_id: str, reason: str = REVOKE_REASON) -> None:
        """Stop a job that must not run the task (revoked, made for a try no longer ours, or one that
        can never run where it waits)."""
        client, ticket = self.runtime().client, StopTicket(job_id=job_id)
        self._pending_stops[job_id] = None
        run = lambda: ticket.stopped(try_jobs.stop_job(client, job_id, reason))  # noqa: E731
        if not self.channel.send(self.api, run, ticket.crashed):
            # Kept as pending: terminate() stops it itself; after end() it fails on its dead token.
            self.log.warning(
                "batch-router: cannot stop job %s after shutdown; it will fail on its dead token", job_id
            )

    def stop_try_jobs(self, record: TryRecord) -> None:
        """Stop the job ``record`` may have without the executor knowing its id (a lost SubmitJob
        answer, or an adopted try not looked up yet)."""
        args, ticket = self.try_stop_args(record, REVOKE_REASON), StopTicket(serial=record.serial)
        self._pending_try_stops[record.serial] = record
        run = lambda: ticket.stopped(try_jobs.stop_try_jobs(*args))  # noqa: E731
        self.channel.send(self.api, run, ticket.crashed)  # after shutdown: pending, for terminate()

    def try_stop_args(self, record: TryRecord, reason: str) -> tuple[Any, ...]:
        """``try_jobs.stop_try_jobs``'s arguments for ``record``: where its job may be, and what a job
        there must show to be the try's (a foreign job is never stopped)."""
        runtime = self.runtime()
        claim = claim_for(record.key, runtime.plan)
        return (runtime.client, record.places, record.match_ids, reason, claim)

    def unfinished_stops(self) -> tuple[list[str], list[TryRecord]]:
        """Stops handed over and not answered: job ids, and tries whose job is stopped by name."""
        return list(self._pending_stops), list(self._pending_try_stops.values())

    def _on_stopped(self, stopped: Stopped) -> None:
        if stopped.job_id is not None:
            self._pending_stops.pop(stopped.job_id, None)
        if stopped.serial is not None:
            self._pending_try_stops.pop(stopped.serial, None)
        if stopped.error is not None:
            self.log.error("batch-router: could not stop a job: %s", stopped.error.reason)

    # -- pauses ------------------------------------------------------------------------------------

    def throttled(self, now: float) -> float:
        until = self.pacing.throttled(now)
        self.log.warning("batch-router: AWS Batch is throttling; pausing calls for %.1fs", until - now)
        return until

    def credentials_failed(self, now: float, error: BatchApiError) -> float:
        until = self.pacing.credentials_failed(now)
        self.log.error(
            "batch-router: AWS credentials are missing or expired (%s). Nothing is lost: queued work "
            "is kept and retried with freshly loaded credentials in %.0fs.",
            error.reason,
            until - now,
        )
        if self._runtime is not None:
            self._runtime.client.reset()
        return until


def start_threads(pool: ThreadPoolExecutor, count: int, timeout: float = 5.0) -> None:
    """Start the pool's ``count`` threads now rather than in the heartbeats of the first burst.

    ``ThreadPoolExecutor`` starts a thread per submit until it has them all, and each start waits for
    the new thread to run: 6 ms of the heartbeat that hands over the burst, per thread. Each placeholder
    call waits for the others, so no thread is idle when the next submit looks for one.
    """
    barrier = threading.Barrier(count + 1)
    for _ in range(count):
        pool.submit(barrier.wait, timeout)
    with contextlib.suppress(threading.BrokenBarrierError):  # a slow start only costs a later heartbeat
        barrier.wait(timeout)
