"""BatchRouterExecutor: every Airflow task try (and callback) as its own AWS Batch job, on its route.

The scheduler thread never waits on AWS and does no CPU-heavy work. ``heartbeat()`` hands new tries to
a planning thread (routing and checking them), SubmitJob, DescribeJobs and stop calls to a bounded pool
of API threads (which also build each request and read each answer), and applies what came back, within
a time budget, so a scheduler with thousands of tasks in flight is never held for long. All
bookkeeping stays on the scheduler thread.

A try is named by the scheduler's pre-assigned ``external_executor_id``; it is in the job's tags, and
the job's name is deterministic per try. So a SubmitJob whose answer was lost is looked up before it is
sent again, and a scheduler that died between submitting and reporting can still find the job.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.executors.base_executor import BaseExecutor
from airflow.executors.workloads import ExecuteCallback, ExecuteTask

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import DESCRIBE_JOBS_MAX, BatchApiError, BatchClient, ErrorKind, chunked
from batch_router.aws.health import check_routes
from batch_router.errors import ConfigError
from batch_router.executor import calls
from batch_router.executor.adoption import UNKNOWN_ROUTE, find_adoptable
from batch_router.executor.event_log import EventLogQueue
from batch_router.executor.metrics import ExecutorMetrics
from batch_router.executor.pacing import Pacing
from batch_router.executor.planning import JobSpec, Plan, Planned, plan_workloads
from batch_router.executor.task_logs import read_task_log
from batch_router.executor.tracker import Stage, Tracker, TryRecord
from batch_router.executor.workloads import Workload, with_fresh_token

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey
    from airflow.models.taskinstance import TaskInstance

REVOKE_REASON = (
    "Revoked by the Airflow scheduler (e.g. stuck in queued); its workload token is no longer valid"
)
TERMINATE_REASON = "The Airflow scheduler running batch-router received SIGTERM"


class BatchRouterExecutor(BaseExecutor):
    """Airflow 3.3 executor: ``AIRFLOW__CORE__EXECUTOR=batch_router.executor.BatchRouterExecutor``."""

    supports_multi_team: bool = True
    supports_callbacks: bool = True
    supports_connection_test: bool = False
    pre_assigns_external_executor_id: ClassVar[bool] = True
    is_local: bool = False
    serve_logs: bool = False

    # Backoff for retries of failed calls and resubmits, and pacing after throttling: base * 2**(n-1),
    # capped, with jitter. Class attributes so a deployment (or a test) can tune them.
    RETRY_BASE_SECONDS: ClassVar[float] = 2.0
    RETRY_MAX_SECONDS: ClassVar[float] = 120.0
    ADOPT_TIMEOUT_SECONDS: ClassVar[float] = 120.0
    TERMINATE_TIMEOUT_SECONDS: ClassVar[float] = 20.0
    VANISHED_AFTER_POLLS: ClassVar[int] = 2  # DescribeJobs rounds in a row without the job
    # Applying results (reporting states, taking in planned tries) stops after this long in one
    # heartbeat; the rest waits for the next one, so 5,000 jobs finishing at once never hold the loop.
    APPLY_BUDGET_SECONDS: ClassVar[float] = 0.015
    # Handing SubmitJob calls to the pool stops after this long in one heartbeat (filling the pipeline
    # with 500 calls at once would hold the scheduler thread while the API threads want the GIL too).
    DISPATCH_BUDGET_SECONDS: ClassVar[float] = 0.005
    # New tries planned on the scheduler thread itself when the planning thread is idle: so a task that
    # arrives alone is submitted in the heartbeat that accepted it. About 50 tries.
    PLAN_HERE_BUDGET_SECONDS: ClassVar[float] = 0.01
    # Planned tries the planning thread hands back at a time.
    PLAN_CHUNK: ClassVar[int] = 100
    # SubmitJob calls handed to the pool ahead of time: enough to keep every API thread busy between
    # heartbeats (the scheduler may loop only every few seconds), few enough to react to throttling.
    SUBMIT_PIPELINE_DEPTH: ClassVar[int] = 500

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._plan: Plan | None = None
        self._client: BatchClient | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._planner: ThreadPoolExecutor | None = None
        self._tracker = Tracker()
        self._unplanned: dict[WorkloadKey, Workload] = {}  # accepted, not yet planned; in arrival order
        self._planning: dict[WorkloadKey, Workload] = {}  # on the planning thread now
        # Finished calls, appended by the pool threads (deque appends are atomic), and the work their
        # results make for the scheduler thread, applied in order within APPLY_BUDGET_SECONDS.
        self._finished: deque[tuple[Future[Any], Callable[[Any], None]]] = deque()
        self._work: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._planned: deque[list[Planned]] = deque()  # appended by the planning thread as it goes
        self._missing_job_ids: set[str] = set()  # jobs the last polls did not return
        self._stopping = False
        self._polls_in_flight = 0
        self._last_poll_at = float("-inf")
        self._throttled_submits = 0
        self._pacing = Pacing(self.RETRY_BASE_SECONDS, self.RETRY_MAX_SECONDS)
        self._metrics = ExecutorMetrics(self.team_name)
        self._task_event_logs: EventLogQueue = EventLogQueue()

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load settings and routes (team-aware) and check every route; a problem stops start-up."""
        try:
            plan, client = self._runtime()
            if plan.settings.check_health_on_startup:
                check_routes(client, plan.table)
                self.log.info("batch-router: every route passed the AWS Batch health check")
        except ConfigError as exc:
            self.log.error("batch-router cannot start:\n%s", exc)
            raise
        self._pool = ThreadPoolExecutor(
            max_workers=plan.settings.api_concurrency, thread_name_prefix="batch-router-api"
        )
        self._planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-router-plan")
        self._stopping = False
        self._warm_up(plan, client)
        # What the scheduler has loaded by now (Airflow, providers, botocore models: ~200,000 objects)
        # lives as long as the process. Moving it out of the collector's reach keeps every later full
        # collection, which may fall in any heartbeat, from scanning it again (100-200 ms each here).
        gc.collect()
        gc.freeze()
        self.log.info(
            "batch-router started: %d route(s) from %s, %d API threads, polling every %ss",
            len(plan.table.routes),
            plan.table.source,
            plan.settings.api_concurrency,
            plan.settings.poll_interval,
        )

    def _warm_up(self, plan: Plan, client: BatchClient) -> None:
        """Make now what the first tasks would otherwise make: the AWS clients and the request checks.

        What exists before the heap is frozen (below) is never scanned by a later garbage collection.
        Nothing here is needed to start: what fails is made again on first use.
        """
        try:
            client.prepare()
        except BatchApiError as exc:
            self.log.warning("batch-router: AWS clients will be made on first use: %s", exc.reason)
        plan.warm_up()

    def _runtime(self) -> tuple[Plan, BatchClient]:
        if self._plan is None:
            self._plan = Plan.load(self.conf)
        if self._client is None:
            settings = self._plan.settings
            self._client = BatchClient(
                aws_conn_id=settings.aws_conn_id,
                region_name=settings.region_name,
                submit_rate_limit=settings.submit_rate_limit,
            )
        return self._plan, self._client

    @property
    def _max_attempts(self) -> int:
        return self._plan.settings.max_submit_job_attempts if self._plan else 3

    def end(self) -> None:
        """Stop submitting and return at once; jobs keep running in Batch and stay adoptable."""
        try:
            gc.unfreeze()
            self._stopping = True
            for pool in (self._pool, self._planner):
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
            self.log.info(
                "batch-router stopped; %d job(s) left to AWS Batch for the next scheduler to adopt",
                sum(1 for r in self._tracker if r.job_id),
            )
        except Exception:
            self.log.exception("batch-router: error while ending")

    def terminate(self) -> None:
        """Terminate every job this executor owns; submit nothing more."""
        try:
            self._stopping = True
            job_ids = [r.job_id for r in self._tracker if r.job_id and r.stage is Stage.TRACKED]
            if job_ids and self._client is not None:
                pool = ThreadPoolExecutor(
                    max_workers=self._plan.settings.api_concurrency if self._plan else 4
                )
                futures = [
                    pool.submit(calls.terminate, self._client, job_id, TERMINATE_REASON) for job_id in job_ids
                ]
                done, _ = wait(futures, timeout=self.TERMINATE_TIMEOUT_SECONDS)
                pool.shutdown(wait=False, cancel_futures=True)
                errors = [f.result() for f in done if f.result() is not None]
                for error in errors:
                    self.log.error("batch-router: could not terminate a job: %s", error)
                self.log.info(
                    "batch-router terminated %d of %d job(s)", len(done) - len(errors), len(job_ids)
                )
            for record in self._tracker:
                self._tracker.remove(record)
        except Exception:
            self.log.exception("batch-router: error while terminating jobs")
        finally:
            self.end()

    # -- the scheduler's loop --------------------------------------------------------------------------

    def heartbeat(self) -> None:
        try:
            self._task_event_logs.release()  # the scheduler saved them after the last heartbeat
            super().heartbeat()
        except Exception:
            self.log.exception("batch-router heartbeat failed; trying again on the next one")

    def _process_workloads(self, workload_items: Sequence[Any]) -> None:
        for workload in workload_items:
            key = workload.key
            try:
                if isinstance(workload, ExecuteTask):
                    self.queued_tasks.pop(key, None)
                elif isinstance(workload, ExecuteCallback):
                    self.queued_callbacks.pop(key, None)
                else:
                    self.log.error("batch-router cannot run %s workloads", type(workload).__name__)
                    continue
                self.running.add(key)
                self._unplanned[key] = workload
            except Exception as exc:
                self._fail_now(key, "batch-router could not accept the task", f"{type(exc).__name__}: {exc}")

    def sync(self) -> None:
        """Apply finished calls, then hand over new tries, due submits and, once per POLL_INTERVAL, a poll."""
        try:
            self._apply_finished(self.APPLY_BUDGET_SECONDS)
            if self._pool is None or self._stopping:
                return
            self._dispatch_planning()
            now = time.monotonic()
            self._dispatch_submits(now)
            self._dispatch_poll(now)
            self._emit_gauges()
        except Exception:
            self.log.exception("batch-router sync failed; trying again on the next heartbeat")
        finally:
            self._metrics.flush()

    def _hand_over(
        self,
        apply: Callable[[Any], None],
        fn: Callable[..., Any],
        *args: Any,
        pool: ThreadPoolExecutor | None = None,
    ) -> bool:
        pool = pool or self._pool
        if pool is None:
            return False
        try:
            future = pool.submit(fn, *args)
        except RuntimeError:  # the pool was shut down by end()
            return False
        future.add_done_callback(lambda done: self._finished.append((done, apply)))
        return True

    def _apply_finished(self, budget_seconds: float) -> None:
        """Apply results in the order they came, until the budget is spent (always at least one)."""
        deadline = time.monotonic() + budget_seconds
        while True:
            while self._planned:  # cheap: turns what came back into work items
                self._work.extend((self._accept, p) for p in self._planned.popleft())
            while self._finished:
                future, apply = self._finished.popleft()
                if future.cancelled():
                    continue
                error = future.exception()  # the call functions catch everything; this is a bug of ours
                if error is not None:
                    self.log.error("batch-router: a call on a worker thread failed", exc_info=error)
                    continue
                self._work.append((apply, future.result()))
            if not self._work:
                return
            apply, result = self._work.popleft()
            try:
                apply(result)
            except Exception:
                self.log.exception("batch-router: could not apply the result of an AWS call")
            if time.monotonic() >= deadline:
                return

    # -- planning --------------------------------------------------------------------------------------

    def _dispatch_planning(self) -> None:
        """Plan a few new tries right here, and hand the rest to the planning thread in one call.

        Tasks that arrive a few at a time (the usual case) are planned and submitted in the heartbeat
        that accepted them; a burst is planned on the planning thread while the first of it is sent.
        """
        if not self._unplanned or self._plan is None:
            return
        if not self._planning:  # the planning thread is idle: no burst under way
            self._plan_here(self._plan, self.PLAN_HERE_BUDGET_SECONDS)
            if not self._unplanned:
                return
        workloads = list(self._unplanned.values())
        if self._hand_over(
            self._ignore,
            plan_workloads,
            self._plan,
            workloads,
            self.log,
            self._planned.append,
            self.PLAN_CHUNK,
            pool=self._planner,
        ):
            self._planning.update(self._unplanned)
            self._unplanned.clear()

    def _plan_here(self, plan: Plan, budget_seconds: float) -> None:
        """Plan the oldest new tries on the scheduler thread until the budget is spent."""
        deadline = time.monotonic() + budget_seconds
        planned: list[Planned] = []
        while self._unplanned and time.monotonic() < deadline:
            key = next(iter(self._unplanned))
            workload = self._planning[key] = self._unplanned.pop(key)
            plan_workloads(plan, [workload], self.log, planned.extend)
        for item in planned:
            self._accept(item)

    @staticmethod
    def _ignore(_: Any) -> None:
        pass

    def _accept(self, planned: Planned) -> None:
        if self._planning.pop(planned.key, None) is None:
            return  # revoked while it was being planned
        if planned.error is not None:
            self._fail_now(planned.key, "batch-router: task not submitted", planned.error)
            return
        self._tracker.add(
            TryRecord(
                key=planned.key,
                identity=planned.identity,
                route=planned.route,
                job_queue=planned.job_queue,
                job_name=planned.job_name,
                workload=planned.workload,
                executor_config=planned.executor_config,
                queue=planned.queue,
                next_attempt_at=time.monotonic(),
            )
        )

    # -- submitting ------------------------------------------------------------------------------------

    def _dispatch_submits(self, now: float) -> None:
        if self._throttled_submits:
            self.log.warning(
                "batch-router: AWS Batch throttled %d SubmitJob call(s) since the last heartbeat; "
                "they are queued again and the submit rate adapts",
                self._throttled_submits,
            )
            self._throttled_submits = 0
        if self._pacing.paused(now) or self._plan is None:
            return
        room = self.SUBMIT_PIPELINE_DEPTH - self._tracker.in_flight()
        if room <= 0:
            return
        plan, client = self._runtime()
        deadline = time.monotonic() + self.DISPATCH_BUDGET_SECONDS
        due = self._tracker.due(now, room)
        for index, record in enumerate(due):
            self._start_submit(plan, client, record, now)
            if time.monotonic() >= deadline:  # always at least one
                self._tracker.put_back(due[index + 1 :])
                return

    def _start_submit(self, plan: Plan, client: BatchClient, record: TryRecord, now: float) -> None:
        spec = None
        if record.submit_if_missing and record.workload is not None:
            spec = JobSpec(plan, record.identity, record.executor_config, record.queue, record.workload)
        ticket = calls.SubmitTicket(
            key=record.key,
            serial=record.serial,
            spec=spec,
            job_queue=record.job_queue,
            job_name=record.job_name,
            match_ids=frozenset(i for i in (record.identity.try_id,) if i),
            exclude=frozenset(record.old_job_ids),
            look_first=record.lookup_first,
            submit=spec is not None,
        )
        if self._hand_over(self._on_submit_outcome, calls.submit_or_find, client, ticket, self.log):
            self._tracker.start_call(record)
        else:
            self._tracker.call_failed(record, next_attempt_at=now)

    def _on_submit_outcome(self, outcome: calls.SubmitOutcome) -> None:
        ticket = outcome.ticket
        record = self._tracker.current(ticket.key, ticket.serial)
        if record is None:  # revoked while the call was under way: its job must not run
            if outcome.job_id:
                self._stop(outcome.job_id)
            return
        if outcome.throttled:
            self._metrics.count("throttled", record.route, outcome.throttled)
            self._throttled_submits += outcome.throttled
        if outcome.job_id is not None:
            self._pacing.recovered()
            status = (outcome.job or {}).get("status")
            self._tracker.attach_job(record, outcome.job_id, status=str(status) if status else None)
            if outcome.job is None:
                record.attempts += 1
                self._metrics.count("submitted", record.route)
            else:
                self.log.warning(
                    "batch-router: found job %s of %s, made by a SubmitJob whose answer was lost; "
                    "not submitting again",
                    outcome.job_id,
                    record.key,
                )
            return
        if outcome.refused is not None:
            self._finish_failed(record, "batch-router: task not submitted", outcome.refused)
            return
        if outcome.error is None:  # looked and found nothing, and there is nothing to submit
            event = "batch-router: SubmitJob failed" if record.last_error else "batch-router: job not found"
            if record.last_error:
                reason = (
                    f"gave up after {record.attempts} attempts, none of which made a job: {record.last_error}"
                )
            else:
                reason = (
                    f"no AWS Batch job named {record.job_name} for try id {record.identity.try_id} "
                    f"in job queue {record.job_queue}"
                )
            self._finish_failed(record, event, reason)
            return
        self._on_submit_error(record, outcome.error, submitting=ticket.submit)

    def _on_submit_error(self, record: TryRecord, error: BatchApiError, *, submitting: bool) -> None:
        now = time.monotonic()
        if error.kind is ErrorKind.THROTTLED:
            # No pause of the whole pipeline: the submit client's rate limiter paces every thread, which
            # keeps submits near the rate AWS accepts. The API thread already sent it again a few times
            # (counted in the outcome); the try goes back in line and uses no attempt.
            self._tracker.call_failed(record, next_attempt_at=now)
            return
        if error.kind is ErrorKind.CREDENTIALS:
            self._tracker.call_failed(record, next_attempt_at=self._credentials_failed(now, error))
            return
        if error.kind is ErrorKind.PERMANENT:
            self._finish_failed(record, "batch-router: SubmitJob refused", error.reason)
            return
        record.last_error = error.reason
        if not submitting:  # a failed look-up: retry it, it costs the task nothing
            self._tracker.call_failed(record, next_attempt_at=now + self._pacing.backoff(1))
            return
        record.attempts += 1
        if error.kind is ErrorKind.OUTCOME_UNKNOWN:
            record.lookup_first = True
        if record.attempts < self._max_attempts:
            self._tracker.call_failed(record, next_attempt_at=now + self._pacing.backoff(record.attempts))
            self._metrics.count("retried", record.route)
            self.log.warning(
                "batch-router: SubmitJob for %s failed (attempt %d of %d), retrying: %s",
                record.key,
                record.attempts,
                self._max_attempts,
                error.reason,
            )
        elif record.lookup_first:  # out of attempts, but the last one may have made a job: look once more
            record.submit_if_missing = False
            self._tracker.call_failed(record, next_attempt_at=now)
        else:
            self._finish_failed(
                record,
                "batch-router: SubmitJob failed",
                f"gave up after {record.attempts} attempts: {error.reason}",
            )

    def _throttled(self, now: float) -> float:
        until = self._pacing.throttled(now)
        self.log.warning("batch-router: AWS Batch is throttling; pausing calls for %.1fs", until - now)
        return until

    def _credentials_failed(self, now: float, error: BatchApiError) -> float:
        until = self._pacing.credentials_failed(now)
        self.log.error(
            "batch-router: AWS credentials are missing or expired (%s). Nothing is lost: queued work "
            "is kept and retried with freshly loaded credentials in %.0fs.",
            error.reason,
            until - now,
        )
        if self._client is not None:
            self._client.reset()
        return until

    # -- polling ---------------------------------------------------------------------------------------

    def _dispatch_poll(self, now: float) -> None:
        if self._plan is None or self._polls_in_flight or self._pacing.paused(now):
            return
        if now - self._last_poll_at < self._plan.settings.poll_interval:
            return
        known = self._tracker.statuses_to_poll()
        if not known:
            return
        self._last_poll_at = now
        _, client = self._runtime()
        log_group = self._plan.settings.log_group
        for chunk in chunked(list(known.items()), DESCRIBE_JOBS_MAX):
            if self._hand_over(self._on_poll, calls.poll, client, dict(chunk), log_group):
                self._polls_in_flight += 1

    def _on_poll(self, result: calls.PollResult) -> None:
        self._polls_in_flight = max(self._polls_in_flight - 1, 0)
        now = time.monotonic()
        if result.error is not None:
            if result.error.kind is ErrorKind.THROTTLED:
                self._throttled(now)
            elif result.error.kind is ErrorKind.CREDENTIALS:
                self._credentials_failed(now, result.error)
            else:
                self.log.warning(
                    "batch-router: DescribeJobs failed, polling again later: %s", result.error.reason
                )
            return
        self._pacing.recovered()
        if self._missing_job_ids:
            for job_id in self._missing_job_ids.intersection(result.job_ids).difference(result.missing):
                self._missing_job_ids.discard(job_id)
                record = self._tracker.by_job(job_id)
                if record is not None:
                    record.missing_rounds = 0
        for job_id in result.missing:
            self._job_missing(job_id)
        self._work.extend((self._on_job, update) for update in result.updates)

    def _job_missing(self, job_id: str) -> None:
        record = self._tracker.by_job(job_id)
        if record is None or record.stage is not Stage.TRACKED:
            self._missing_job_ids.discard(job_id)
            return
        record.missing_rounds += 1
        self._missing_job_ids.add(job_id)
        if record.missing_rounds >= self.VANISHED_AFTER_POLLS:
            self._missing_job_ids.discard(job_id)
            self._finish_failed(
                record,
                "batch-router: job vanished",
                f"AWS Batch no longer knows job {job_id} ({record.job_name}): DescribeJobs did not "
                f"return it in {record.missing_rounds} polls in a row "
                "(deleted, expired or in another region)",
            )

    def _on_job(self, update: calls.JobUpdate) -> None:
        record = self._tracker.by_job(update.job_id)
        if record is None or record.stage is not Stage.TRACKED:
            return  # finished, revoked or resubmitted since the poll was sent
        self._tracker.set_status(record, update.status)
        if update.phase is states.Phase.QUEUED:
            return
        if update.phase is states.Phase.RUNNING:
            record.seen_running = True
            if not record.reported_running:
                record.reported_running = True
                self.running_state(record.key, record.job_id)
                self._metrics.count("running", record.route)
            return
        if update.phase is states.Phase.SUCCEEDED:
            self._tracker.remove(record)
            self.success(record.key)
            self._metrics.count("succeeded", record.route)
            return
        info = update.info or f"AWS Batch job {update.job_id} {update.status}"
        before_start = update.failed_before_start and not record.seen_running
        if before_start and record.workload is not None and record.attempts < self._max_attempts:
            self._resubmit(record, info)
        else:
            if before_start:
                info += f" (the task never started; {self._resubmit_refusal(record)})"
            self._finish_failed(record, "batch-router: job failed", info)

    def _resubmit_refusal(self, record: TryRecord) -> str:
        if record.workload is None:
            return "the job's command could not be read back, so it cannot be submitted again"
        return f"MAX_SUBMIT_JOB_ATTEMPTS={self._max_attempts} used up"

    def _resubmit(self, record: TryRecord, info: str) -> None:
        """Submit a try whose job died before the task started again, with a freshly signed token."""
        assert record.workload is not None
        try:
            record.workload = with_fresh_token(record.workload, self.jwt_generator)
        except Exception as exc:
            self._finish_failed(
                record, "batch-router: job failed", f"{info}; could not submit it again: {exc}"
            )
            return
        record.submit_if_missing, record.lookup_first = True, False
        due = time.monotonic() + self._pacing.backoff(record.attempts)
        self._tracker.detach_job(record, next_attempt_at=due)
        self._metrics.count("retried", record.route)
        self.log_task_event(
            event="batch-router: resubmitting",
            extra=f"{info}. The task never started, so it is submitted again with a fresh token "
            f"(attempt {record.attempts + 1} of {self._max_attempts}).",
            ti_key=record.key,
        )

    # -- endings ---------------------------------------------------------------------------------------

    def _fail_now(self, key: WorkloadKey, event: str, reason: str, route: str = UNKNOWN_ROUTE) -> None:
        self.log.error("batch-router: %s failed: %s", key, reason)
        self.log_task_event(event=event, extra=reason, ti_key=key)
        self.fail(key, info=reason)
        self._metrics.count("failed", route)

    def _finish_failed(self, record: TryRecord, event: str, reason: str) -> None:
        self._tracker.remove(record)
        self._fail_now(record.key, event, reason, record.route)

    def _emit_gauges(self) -> None:
        counts: dict[str, dict[str, int]] = (
            {route.name: {} for route in self._plan.table.routes} if self._plan else {}
        )
        counts.update(self._tracker.counts_by_route())
        self._metrics.gauges(counts)

    def _stop(self, job_id: str) -> None:
        _, client = self._runtime()
        if not self._hand_over(self._log_stop_error, calls.stop_job, client, job_id, REVOKE_REASON):
            self.log.warning(
                "batch-router: cannot stop job %s after shutdown; it will fail on its dead token", job_id
            )

    def _log_stop_error(self, error: BatchApiError | None) -> None:
        if error is not None:
            self.log.error("batch-router: could not stop a revoked job: %s", error.reason)

    def revoke_task(self, *, ti: TaskInstance) -> None:
        """Stop the try's job (cancel it while it waits, terminate it once started) and forget it."""
        try:
            key = ti.key
            self.queued_tasks.pop(key, None)
            self._unplanned.pop(key, None)
            self._planning.pop(key, None)
            self.running.discard(key)
            record = self._tracker.get(key)
            if record is None:
                return
            self._tracker.remove(record)
            if record.job_id is not None:
                self._stop(record.job_id)
            elif record.lookup_first and record.stage is Stage.PENDING:
                _, client = self._runtime()
                match = frozenset(i for i in (record.identity.try_id,) if i)
                self._hand_over(
                    self._log_stop_error,
                    calls.stop_try_jobs,
                    client,
                    record.job_queue,
                    record.job_name,
                    match,
                    REVOKE_REASON,
                )
            self.log.info("batch-router: revoked %s", key)
        except Exception:
            self.log.exception("batch-router: could not revoke %s", getattr(ti, "key", ti))

    # -- adoption --------------------------------------------------------------------------------------

    def try_adopt_task_instances(self, tis: Sequence[TaskInstance]) -> Sequence[TaskInstance]:
        """Adopt tries whose jobs still exist: by job id, or by try id and job name; return the rest."""
        try:
            return self._adopt(tis)
        except Exception:
            self.log.exception("batch-router: adoption failed; the scheduler will reset these tasks")
            return list(tis)

    def _adopt(self, tis: Sequence[TaskInstance]) -> list[TaskInstance]:
        plan, client = self._runtime()
        pool = self._pool or ThreadPoolExecutor(max_workers=plan.settings.api_concurrency)
        try:
            records, not_adopted = find_adoptable(plan, client, pool, tis, timeout=self.ADOPT_TIMEOUT_SECONDS)
        finally:
            if pool is not self._pool:
                pool.shutdown(wait=False, cancel_futures=True)
        for record in records:
            self._tracker.add(record)
            self.running.add(record.key)
        if records:
            self.log.info(
                "batch-router adopted %d task(s): %s", len(records), ", ".join(str(r.key) for r in records)
            )
        return not_adopted

    # -- logs ------------------------------------------------------------------------------------------

    def get_task_log(self, ti: TaskInstance, try_number: int) -> tuple[list[str], list[str]]:
        """CloudWatch log lines of the try's job, for the UI; problems come back as messages."""
        try:
            plan, client = self._runtime()
            return read_task_log(client, plan, ti, try_number)
        except Exception as exc:
            return [f"batch-router could not read this task's logs: {type(exc).__name__}: {exc}"], []
