"""What the executor's parts share: the tracker, the thread pools, the results queue and Airflow's ear.

Intake, submitting, polling and adoption each keep their own state and talk to each other only through
a ``Hub``: it hands calls to the pools and queues what they bring back, loads the settings, plan and
AWS client once, and is the one place a try ends in failure or a pause after throttling or expired
credentials is decided. Everything here runs on the scheduler thread except the calls it hands over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError, ErrorKind
from batch_router.config.model import DefinitionFacts
from batch_router.config.settings import ConfSource, ExecutorSettings, load_settings
from batch_router.executor import calls
from batch_router.executor.belief import claim_for
from batch_router.executor.metrics import ExecutorMetrics
from batch_router.executor.pacing import Pacing
from batch_router.executor.tracker import Tracker, TryRecord
from batch_router.executor.tunables import Tunables
from batch_router.plan.planner import Plan

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.tokens import JWTGenerator
    from airflow.executors.workloads.types import WorkloadKey

__all__ = ["REVOKE_REASON", "UNKNOWN_ROUTE", "AirflowSide", "Hub", "Log", "Runtime", "start_threads"]

REVOKE_REASON = (
    "Revoked by the Airflow scheduler (e.g. stuck in queued); its workload token is no longer valid"
)
UNKNOWN_ROUTE = "unrouted"
# MAX_SUBMIT_JOB_ATTEMPTS's default, used before the settings are loaded.
_DEFAULT_MAX_ATTEMPTS = 3


class Log(Protocol):
    """What the parts need of the executor's logger (stdlib's or Airflow's structlog one)."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def error(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def exception(self, event: Any, *args: Any, **kw: Any) -> Any: ...


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


# A call's result and what to do with it on the scheduler thread; and, should the call raise (a bug of
# ours, an error nobody classified), the result that stands for it, so what the call held is released
# by the same apply step as any other outcome.
Apply = Callable[[Any], None]
OnCrash = Callable[[BaseException], Any]


class Hub:
    def __init__(
        self,
        *,
        conf: ConfSource | None,
        airflow: AirflowSide,
        log: Log,
        metrics: ExecutorMetrics,
        pacing: Pacing,
    ):
        self.conf = conf
        self.airflow = airflow
        self.log = log
        self.metrics = metrics
        self.pacing = pacing
        self.tracker = Tracker()
        self.tunables = Tunables()  # the defaults until start() reads the settings
        self.pool: ThreadPoolExecutor | None = None  # API calls
        self.readers: ThreadPoolExecutor | None = None  # the poll sweeps' DescribeJobs calls
        self.planner: ThreadPoolExecutor | None = None  # the planning thread
        # Finished calls, appended by the pool threads (deque appends are atomic), and the work their
        # results make for the scheduler thread, applied in order within a budget per heartbeat.
        self.finished: deque[tuple[Future[Any], Apply, OnCrash]] = deque()
        self.work: deque[tuple[Apply, Any]] = deque()
        self.in_flight: set[Future[Any]] = set()  # handed over, not yet finished
        # Stops of revoked tries whose call has not answered yet: terminate() cancels calls not yet
        # started, so it stops these itself rather than leave a revoked job running.
        self.pending_stops: dict[str, None] = {}  # job ids
        self.pending_try_stops: dict[int, TryRecord] = {}  # by record serial: jobs without a known id
        self._runtime: Runtime | None = None

    # -- what is loaded once -----------------------------------------------------------------------

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.load(self.conf)
        return self._runtime

    def learn(self, definitions: Mapping[str, DefinitionFacts]) -> None:
        """Take what the start-up check read of the job definitions into the plan (the seed's implicit
        route gets its compute). Called on the scheduler thread in start(), or once from the
        background health check: the runtime is replaced whole, one reference assignment."""
        runtime = self.runtime()
        self._runtime = dataclasses.replace(runtime, plan=runtime.plan.with_definitions(definitions))

    @property
    def loaded(self) -> Runtime | None:
        """The runtime if it was loaded already; never loads it."""
        return self._runtime

    @property
    def max_attempts(self) -> int:
        return self._runtime.settings.max_submit_job_attempts if self._runtime else _DEFAULT_MAX_ATTEMPTS

    # -- calls on the pools ------------------------------------------------------------------------

    def hand_over(
        self,
        apply: Apply,
        fn: Callable[..., Any],
        *args: Any,
        on_crash: OnCrash,
        pool: ThreadPoolExecutor | None = None,
    ) -> bool:
        """Run ``fn(*args)`` on a pool; its result, or ``on_crash(exception)``, is queued for ``apply``.

        False after shutdown (nothing was handed over).
        """
        pool = pool or self.pool
        if pool is None:
            return False
        try:
            future = pool.submit(fn, *args)
        except RuntimeError:  # the pool was shut down by end()
            return False
        self.in_flight.add(future)

        def finished(done: Future[Any]) -> None:
            self.finished.append((done, apply, on_crash))
            self.in_flight.discard(done)

        future.add_done_callback(finished)
        return True

    def drain(self, timeout: float) -> int:
        """Cancel the calls not yet started, wait up to ``timeout`` for the running ones, and join the
        threads if they all ended. Returns how many calls are still running."""
        pools = [pool for pool in (self.planner, self.pool, self.readers) if pool is not None]
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        running = [future for future in list(self.in_flight) if not future.done()]
        _, still = wait(running, timeout=timeout) if running else (set(), set())
        if not still:
            for pool in pools:
                pool.shutdown(wait=True)  # nothing left to run: the threads exit, and are joined
        return len(still)

    def collect_finished(self) -> None:
        """Turn finished calls into work items; a call that raised comes back as its stand-in result."""
        while self.finished:
            future, apply, on_crash = self.finished.popleft()
            if future.cancelled():
                continue
            error = future.exception()  # the call functions catch what they expect
            if error is None:
                self.work.append((apply, future.result()))
                continue
            self.log.error("batch-router: a call on a worker thread failed", exc_info=error)
            self.metrics.count("crashed", UNKNOWN_ROUTE)
            try:
                self.work.append((apply, on_crash(error)))
            except Exception:  # the stand-in itself failed: nothing more can be done for this call
                self.log.exception("batch-router: could not account for a failed call")

    # -- endings -----------------------------------------------------------------------------------

    def fail_now(self, key: WorkloadKey, event: str, reason: str, record: TryRecord | None = None) -> None:
        self.log.error("batch-router: %s failed: %s", key, reason)
        self.airflow.log_task_event(event=event, extra=reason, ti_key=key)
        self.airflow.fail(key, info=reason)
        if record is None:
            self.metrics.count("failed", UNKNOWN_ROUTE)
        else:
            self.count("failed", record)

    def finish_failed(self, record: TryRecord, event: str, reason: str) -> None:
        self.tracker.remove(record)
        self.fail_now(record.key, event, reason, record)

    def count(self, name: str, record: TryRecord, by: int = 1) -> None:
        """Count ``name`` for the try's route and where its job was sent."""
        self.metrics.count(
            name, record.route, by, job_queue=record.job_queue, job_definition=record.job_definition or None
        )

    def stop(self, job_id: str) -> None:
        """Stop a job that must not run the task (revoked, or made for a try no longer ours)."""
        client = self.runtime().client
        crashed = _stop_crashed("TerminateJob")
        self.pending_stops[job_id] = None

        def stopped(error: BatchApiError | None) -> None:
            self.pending_stops.pop(job_id, None)
            self._log_stop_error(error)

        if not self.hand_over(stopped, calls.stop_job, client, job_id, REVOKE_REASON, on_crash=crashed):
            self.log.warning(
                "batch-router: cannot stop job %s after shutdown; it will fail on its dead token", job_id
            )

    def try_stop_args(self, record: TryRecord, reason: str) -> tuple[Any, ...]:
        """``calls.stop_try_jobs``'s arguments for ``record``: where its job may be, and what a job
        there must show to be the try's (a foreign job is never stopped)."""
        runtime = self.runtime()
        claim = claim_for(record.key, runtime.plan)
        return (runtime.client, record.places, record.match_ids, reason, claim)

    def stop_try_jobs(self, record: TryRecord) -> None:
        """Stop the job ``record`` may have without the executor knowing its id (a lost SubmitJob
        answer, or an adopted try not looked up yet)."""
        args = self.try_stop_args(record, REVOKE_REASON)
        self.pending_try_stops[record.serial] = record

        def stopped(error: BatchApiError | None) -> None:
            self.pending_try_stops.pop(record.serial, None)
            self._log_stop_error(error)

        self.hand_over(stopped, calls.stop_try_jobs, *args, on_crash=_stop_crashed("ListJobs"))

    def _log_stop_error(self, error: BatchApiError | None) -> None:
        if error is not None:
            self.log.error("batch-router: could not stop a revoked job: %s", error.reason)

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


def _stop_crashed(operation: str) -> OnCrash:
    return lambda exc: crashed_call(operation, exc)


def crashed_call(operation: str, exc: BaseException, kind: ErrorKind = ErrorKind.TRANSIENT) -> BatchApiError:
    """A call that raised, as the error its apply step expects (``kind`` says what may have happened)."""
    return BatchApiError(kind, operation, type(exc).__name__, str(exc) or type(exc).__name__)
