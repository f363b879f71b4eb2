"""BatchRouterExecutor: every Airflow task try (and callback) as its own AWS Batch job, on its route.

The scheduler thread never waits on AWS. ``heartbeat()`` plans new tries (pure, CPU only), hands
SubmitJob, DescribeJobs and stop calls to a bounded thread pool, and applies the results of calls that
have finished since the last heartbeat. All bookkeeping stays on the scheduler thread.

A try is named by the scheduler's pre-assigned ``external_executor_id``; it is in the job's tags, and
the job's name is deterministic per try. So a SubmitJob whose answer was lost is looked up before it is
sent again, and a scheduler that died between submitting and reporting can still find the job.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.executors.base_executor import BaseExecutor
from airflow.executors.workloads import ExecuteCallback, ExecuteTask

from batch_router.batch_client import DESCRIBE_JOBS_MAX, BatchApiError, BatchClient, ErrorKind, chunked
from batch_router.errors import ConfigError, ExecConfigError, RoutingError
from batch_router.executor import calls, states
from batch_router.executor.adoption import UNKNOWN_ROUTE, find_adoptable
from batch_router.executor.event_log import EventLogQueue
from batch_router.executor.health import check_routes
from batch_router.executor.metrics import ExecutorMetrics
from batch_router.executor.pacing import Pacing
from batch_router.executor.planning import Plan
from batch_router.executor.task_logs import read_task_log
from batch_router.executor.tracker import Stage, Tracker, TryRecord
from batch_router.executor.workloads import (
    Workload,
    executor_config_of,
    queue_of,
    task_identity,
    with_fresh_token,
    workload_command,
)

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
    # Planning (routing, building, validating a request) is CPU work on the scheduler thread: at most
    # this long per heartbeat, the rest on the next one, so queueing 5,000 tasks never holds the loop.
    PLAN_BUDGET_SECONDS: ClassVar[float] = 0.02
    # SubmitJob calls handed to the pool ahead of time: enough to keep every API thread busy between
    # heartbeats (the scheduler may loop only every few seconds), few enough to react to throttling.
    SUBMIT_PIPELINE_DEPTH: ClassVar[int] = 500

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._plan: Plan | None = None
        self._client: BatchClient | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._tracker = Tracker()
        self._unplanned: dict[WorkloadKey, Workload] = {}  # accepted, not yet planned; in arrival order
        self._calls: list[tuple[Future[Any], Callable[[Any], None]]] = []
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
        self._stopping = False
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
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
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

    def _plan_accepted(self, budget_seconds: float) -> None:
        """Plan accepted workloads, oldest first, until the budget is spent (always at least one)."""
        deadline = time.monotonic() + budget_seconds
        while self._unplanned:
            key = next(iter(self._unplanned))
            workload = self._unplanned.pop(key)
            try:
                self._accept(workload)
            except Exception as exc:
                self._fail_now(key, "batch-router could not accept the task", f"{type(exc).__name__}: {exc}")
            if time.monotonic() >= deadline:
                break

    def _accept(self, workload: Workload) -> None:
        plan, _ = self._runtime()
        identity = task_identity(workload)
        executor_config, queue = executor_config_of(workload), queue_of(workload)
        try:
            built = plan.build(
                identity=identity,
                executor_config=executor_config,
                queue=queue,
                command=workload_command(workload),
            )
        except (ExecConfigError, RoutingError) as exc:
            self._fail_now(workload.key, "batch-router: task not submitted", str(exc))
            return
        self._tracker.add(
            TryRecord(
                key=workload.key,
                identity=identity,
                route=built.route.name,
                job_queue=str(built.kwargs["jobQueue"]),
                job_name=str(built.kwargs["jobName"]),
                workload=workload,
                request=built.kwargs,
                executor_config=executor_config,
                queue=queue,
            )
        )
        self.log.info("batch-router: %s -> route %r (%s)", workload.key, built.route.name, built.reason)

    def sync(self) -> None:
        """Apply finished calls, then hand over due submits and, once per POLL_INTERVAL, a poll."""
        try:
            self._collect()
            if self._pool is None or self._stopping:
                return
            self._plan_accepted(self.PLAN_BUDGET_SECONDS)
            now = time.monotonic()
            self._dispatch_submits(now)
            self._dispatch_poll(now)
            self._emit_gauges()
        except Exception:
            self.log.exception("batch-router sync failed; trying again on the next heartbeat")

    def _hand_over(self, apply: Callable[[Any], None], fn: Callable[..., Any], *args: Any) -> bool:
        if self._pool is None:
            return False
        try:
            future = self._pool.submit(fn, *args)
        except RuntimeError:  # the pool was shut down by end()
            return False
        self._calls.append((future, apply))
        return True

    def _collect(self) -> None:
        pending, self._calls = self._calls, []
        for future, apply in pending:
            if not future.done():
                self._calls.append((future, apply))
                continue
            try:
                if future.cancelled():
                    continue
                apply(future.result())
            except Exception:
                self.log.exception("batch-router: could not apply the result of an AWS call")

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
        for record in self._tracker.due(now, room):
            self._start_submit(record)

    def _start_submit(self, record: TryRecord) -> None:
        ticket = calls.SubmitTicket(
            key=record.key,
            serial=record.serial,
            request=record.request,
            job_queue=record.job_queue,
            job_name=record.job_name,
            match_ids=frozenset(i for i in (record.identity.try_id,) if i),
            exclude=frozenset(record.old_job_ids),
            look_first=record.lookup_first,
            submit=record.submit_if_missing and record.request is not None,
        )
        _, client = self._runtime()
        if self._hand_over(self._on_submit_outcome, calls.submit_or_find, client, ticket):
            record.stage = Stage.IN_FLIGHT

    def _on_submit_outcome(self, outcome: calls.SubmitOutcome) -> None:
        ticket = outcome.ticket
        record = self._tracker.current(ticket.key, ticket.serial)
        if record is None:  # revoked while the call was under way: its job must not run
            if outcome.job_id:
                self._stop(outcome.job_id)
            return
        if outcome.job_id is not None:
            self._pacing.recovered()
            status = (outcome.job or {}).get("status")
            self._tracker.attach_job(record, outcome.job_id, status=str(status) if status else None)
            if outcome.job is None:
                record.attempts += 1
                self._metrics.count("submitted", record.route)
                self.log.info("batch-router: submitted %s as job %s", record.key, outcome.job_id)
            else:
                self.log.warning(
                    "batch-router: found job %s of %s, made by a SubmitJob whose answer was lost; "
                    "not submitting again",
                    outcome.job_id,
                    record.key,
                )
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
        record.stage = Stage.PENDING
        if error.kind is ErrorKind.THROTTLED:
            # No pause of the whole pipeline: the submit client's adaptive rate limiter (botocore) has
            # just lowered its sending rate for every thread, which is the pacing that keeps submits
            # near the rate AWS accepts. This try goes back in line; it uses none of its attempts.
            record.next_attempt_at = now
            self._metrics.count("throttled", record.route)
            self._throttled_submits += 1
            return
        if error.kind is ErrorKind.CREDENTIALS:
            record.next_attempt_at = self._credentials_failed(now, error)
            return
        if error.kind is ErrorKind.PERMANENT:
            self._finish_failed(record, "batch-router: SubmitJob refused", error.reason)
            return
        record.last_error = error.reason
        if not submitting:  # a failed look-up: retry it, it costs the task nothing
            record.next_attempt_at = now + self._pacing.backoff(1)
            return
        record.attempts += 1
        if error.kind is ErrorKind.OUTCOME_UNKNOWN:
            record.lookup_first = True
        if record.attempts < self._max_attempts:
            record.next_attempt_at = now + self._pacing.backoff(record.attempts)
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
            record.next_attempt_at = now
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
        job_ids = self._tracker.job_ids_to_poll()
        if not job_ids:
            return
        self._last_poll_at = now
        _, client = self._runtime()
        for chunk in chunked(job_ids, DESCRIBE_JOBS_MAX):
            if self._hand_over(self._on_poll, calls.poll, client, chunk):
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
        seen: set[str] = set()
        for job in result.jobs:
            job_id = str(job.get("jobId"))
            seen.add(job_id)
            record = self._tracker.by_job(job_id)
            if record is not None and record.stage is Stage.TRACKED:
                record.missing_rounds = 0
                self._on_job(record, job)
        for job_id in result.job_ids:
            record = self._tracker.by_job(job_id)
            if job_id in seen or record is None or record.stage is not Stage.TRACKED:
                continue
            record.missing_rounds += 1
            if record.missing_rounds >= self.VANISHED_AFTER_POLLS:
                self._finish_failed(
                    record,
                    "batch-router: job vanished",
                    f"AWS Batch no longer knows job {job_id} ({record.job_name}): DescribeJobs did not "
                    f"return it in {record.missing_rounds} polls in a row "
                    "(deleted, expired or in another region)",
                )

    def _on_job(self, record: TryRecord, job: Any) -> None:
        record.status = str(job.get("status"))
        phase = states.phase_of(job)
        if phase is states.Phase.QUEUED:
            return
        if phase is states.Phase.RUNNING:
            record.seen_running = True
            if not record.reported_running:
                record.reported_running = True
                self.running_state(record.key, record.job_id)
                self._metrics.count("running", record.route)
            return
        if phase is states.Phase.SUCCEEDED:
            self._tracker.remove(record)
            self.success(record.key)
            self._metrics.count("succeeded", record.route)
            return
        info = states.failure_info(job, self._plan.settings.log_group if self._plan else "/aws/batch/job")
        before_start = states.failed_before_start(job, seen_running=record.seen_running)
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
        assert record.workload is not None and self._plan is not None
        try:
            workload = with_fresh_token(record.workload, self.jwt_generator)
            built = self._plan.build(
                identity=record.identity,
                executor_config=record.executor_config,
                queue=record.queue,
                command=workload_command(workload),
            )
        except Exception as exc:
            self._finish_failed(
                record, "batch-router: job failed", f"{info}; could not submit it again: {exc}"
            )
            return
        record.workload, record.request = workload, built.kwargs
        record.job_queue, record.job_name = str(built.kwargs["jobQueue"]), str(built.kwargs["jobName"])
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
