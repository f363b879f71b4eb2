"""BatchRouterExecutor: every Airflow task try (and callback) as its own AWS Batch job, on its route.

The scheduler thread never waits on AWS and does no CPU-heavy work. ``heartbeat()`` hands new tries to
a planning thread (``intake``), SubmitJob, DescribeJobs and stop calls to a bounded pool of API threads
(``submitting``, ``polling``), and applies what came back, within a time budget, so a scheduler with
thousands of tasks in flight is never held for long. All bookkeeping stays on the scheduler thread.
This class is Airflow's side of it: the life cycle, the heartbeat and the calls the scheduler makes;
the parts share their state through one ``Hub``.

A try is named by the scheduler's pre-assigned ``external_executor_id``; it is in the job's tags, and
the job's name is deterministic per try. So a SubmitJob whose answer was lost is looked up before it is
sent again, and a scheduler that died between submitting and reporting can still find the job.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.executors.base_executor import BaseExecutor
from airflow.executors.workloads import ExecuteCallback, ExecuteTask

from batch_router.aws import try_jobs
from batch_router.aws.errors import BatchApiError
from batch_router.aws.health import check_routes
from batch_router.aws.job_definitions import describe_definitions
from batch_router.aws.pacing import Pacing
from batch_router.aws.startup_check import StartupCheck
from batch_router.aws.task_logs import read_task_log
from batch_router.compat.airflow import EVENT_LOG_ATTRIBUTE, EventLogQueue, select_queued
from batch_router.config.routes import mode_line
from batch_router.config.settings import unused_beside_route_table
from batch_router.config.tunables import Tunables
from batch_router.errors import ConfigError
from batch_router.executor.adoption import Adopter
from batch_router.executor.guard import PhaseGuard
from batch_router.executor.heap_freeze import Freeze
from batch_router.executor.hub import REVOKE_REASON, Hub, Runtime
from batch_router.executor.intake import Intake
from batch_router.executor.job_events import JobEvents
from batch_router.executor.metrics import ExecutorMetrics
from batch_router.executor.polling import Poller
from batch_router.executor.submitting import Submitter
from batch_router.executor.try_record import Stage, TryRecord
from batch_router.executor.workloads import Workload, fresh_workload
from batch_router.provider_info import unknown_options

if TYPE_CHECKING:
    from airflow.models.taskinstance import TaskInstance

    from batch_router.aws.batch_client import BatchClient

__all__ = ["REVOKE_REASON", "TERMINATE_REASON", "BatchRouterExecutor"]

TERMINATE_REASON = "The Airflow scheduler running batch-router received SIGTERM"


class BatchRouterExecutor(BaseExecutor):
    """Airflow 3.3 executor: ``AIRFLOW__CORE__EXECUTOR=batch_router.executor.BatchRouterExecutor``."""

    supports_multi_team: bool = True
    supports_callbacks: bool = True
    supports_connection_test: bool = False
    pre_assigns_external_executor_id: ClassVar[bool] = True
    is_local: bool = False
    serve_logs: bool = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._event_logs = EventLogQueue()
        self._stopping = False
        self._gauges_started = False
        self._startup_check: StartupCheck | None = None
        self._freeze = Freeze()
        setattr(self, EVENT_LOG_ATTRIBUTE, self._event_logs)
        self._hub = Hub(conf=self.conf, airflow=self, log=self.log, metrics=ExecutorMetrics(self.team_name))
        self._guard = PhaseGuard(self.log, self._hub.metrics)
        # Each part registers the handlers of the outcomes it makes with the hub's channel.
        self._intake = Intake(self._hub)
        self._submitter = Submitter(self._hub)
        self._events = JobEvents(self._hub)
        self._poller = Poller(self._hub, self._submitter, self._events)
        self._adopter = Adopter(self._hub, self._fresh_workload)
        self._tracker = self._hub.tracker  # read by the scheduler-side code (and its tests) under this name

    @property
    def _client(self) -> BatchClient:
        return self._hub.runtime().client

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load settings and routes (team-aware) and check every route; a problem stops start-up."""
        try:
            runtime = self._hub.runtime()
            self._warn_unknown_options()
            tunables = Tunables.from_settings(runtime.settings)
            self._hub.tune(tunables)
            if runtime.settings.check_health_on_startup:
                self._startup_check = StartupCheck(
                    lambda: self._hub.learn(check_routes(runtime.client, runtime.plan.table, runtime.plan)),
                    self.log,
                    Pacing.of(tunables),
                    retry_seconds=tunables.health_retry_seconds,
                )
                self._startup_check.run()
            elif runtime.plan.table.implicit and runtime.plan.table.routes[0].compute is None:
                self._learn_definitions(runtime)
        except ConfigError as exc:
            self.log.error("batch-router cannot start:\n%s", exc)
            raise
        self.log.info("batch-router: %s", mode_line(self._hub.runtime().plan.table))
        settings = runtime.settings
        self._hub.open()
        self._events.start(runtime)
        self._stopping = False
        self._warm_up(runtime)
        # What the scheduler has loaded by now (Airflow, providers, botocore models: ~200,000 objects)
        # lives as long as the process. Moving it out of the collector's reach keeps every later full
        # collection, which may fall in any heartbeat, from scanning it again (100-200 ms each here).
        self._freeze.hold()
        self.log.info(
            "batch-router started: %d route(s) from %s, %d API threads, %d poll threads, %s",
            len(runtime.plan.table.routes),
            runtime.plan.table.source,
            settings.api_concurrency,
            settings.poll_concurrency,
            f"job states from the events in {settings.job_events_queue}, a full sweep every "
            f"{settings.reconcile_interval}s"
            if settings.job_events_queue
            else f"polling every {settings.poll_interval}s",
        )

    def _learn_definitions(self, runtime: Runtime) -> None:
        """No health check, no COMPUTE: read the implicit route's job definition once for its compute.
        If AWS does not answer, tasks get the rules every compute shares (mode_line says so)."""
        try:
            self._hub.learn(describe_definitions(runtime.client, runtime.plan.table))
        except BatchApiError as exc:
            self.log.warning("batch-router: could not read the job definition's compute: %s", exc.reason)

    def _warm_up(self, runtime: Runtime) -> None:
        """Make now what the first tasks would otherwise make: the AWS clients and the request checks.

        What exists before the heap is frozen (below) is never scanned by a later garbage collection.
        Nothing here is needed to start: what fails is made again on first use.
        """
        try:
            runtime.client.prepare()
        except BatchApiError as exc:
            self.log.warning("batch-router: AWS clients will be made on first use: %s", exc.reason)
        runtime.plan.warm_up()

    def end(self) -> None:
        """Stop submitting and return promptly; jobs keep running in Batch and stay adoptable.

        Calls not yet started are cancelled; the threads are joined if the calls under way end within
        ``END_GRACE_SECONDS``, else left to finish them (a job a SubmitJob still makes is tagged with
        its try id, so the next scheduler adopts it).
        """
        try:
            self._stopping = True
            if self._startup_check is not None:
                self._startup_check.stop()
            self._events.stop()
            running = self._hub.close(self._hub.tunables.end_grace_seconds)
            self._hub.channel.apply(float("inf"))  # what came back: job ids for the log, nothing sent
            self._events.stop()  # and the messages whose changes were applied just now are deleted
            self.log.info(
                "batch-router stopped; %d job(s) left to AWS Batch for the next scheduler to adopt%s",
                sum(1 for r in self._tracker if r.job_id),
                f"; {running} call(s) still finishing" if running else "",
            )
        except Exception:
            self.log.exception("batch-router: error while ending")
            self._hub.metrics.unexpected_error("end")
        finally:
            self._freeze.release()

    def terminate(self) -> None:
        """Terminate every job this executor owns, also those calls under way are still making."""
        try:
            self._stopping = True
            running = self._hub.close(self._hub.tunables.terminate_timeout_seconds)
            self._hub.channel.apply(float("inf"))  # a SubmitJob that was under way attaches its job now
            if running:
                self.log.error(
                    "batch-router: %d call(s) still running after %.0fs; a job they make may outlive "
                    "the scheduler",
                    running,
                    self._hub.tunables.terminate_timeout_seconds,
                )
            self._terminate_owned_jobs()
            for record in self._tracker:
                self._tracker.remove(record)
        except Exception:
            self.log.exception("batch-router: error while terminating jobs")
            self._hub.metrics.unexpected_error("terminate")
        finally:
            self.end()

    def _terminate_owned_jobs(self) -> None:
        runtime = self._hub.loaded
        if runtime is None:
            return
        client = runtime.client
        stops, try_stops = self._hub.unfinished_stops()  # revoked, their stop not answered
        job_ids = [r.job_id for r in self._tracker if r.job_id and r.stage is Stage.TRACKED]
        job_ids += [job_id for job_id in stops if job_id not in job_ids]
        # A try whose SubmitJob answer was lost may have a job nobody knows the id of: find and stop it.
        unsure = [r for r in self._tracker if r.job_id is None and r.lookup_first] + try_stops
        if not job_ids and not unsure:
            return
        pool = ThreadPoolExecutor(max_workers=runtime.settings.api_concurrency)
        futures = [pool.submit(try_jobs.terminate, client, job_id, TERMINATE_REASON) for job_id in job_ids]
        futures += [
            pool.submit(try_jobs.stop_try_jobs, *self._hub.try_stop_args(r, TERMINATE_REASON)) for r in unsure
        ]
        done, _ = wait(futures, timeout=self._hub.tunables.terminate_timeout_seconds)
        pool.shutdown(wait=False, cancel_futures=True)
        errors = [f.result() for f in done if f.result() is not None]
        for error in errors:
            self.log.error("batch-router: could not terminate a job: %s", error)
        self.log.info("batch-router terminated %d of %d job(s)", len(done) - len(errors), len(futures))

    # -- the scheduler's loop --------------------------------------------------------------------------

    def heartbeat(self) -> None:
        with self._guard.phase("heartbeat"):
            self._event_logs.release()  # the scheduler saved them after the last heartbeat
            super().heartbeat()

    def trigger_tasks(self, open_slots: int) -> None:
        """BaseExecutor's selection, made without its allocations (see ``compat.airflow.select_queued``);
        BaseExecutor's own where this Airflow keeps its queues otherwise."""
        chosen = select_queued(self, open_slots)
        if chosen is None:
            super().trigger_tasks(open_slots)
            return
        callbacks, tasks = chosen
        for keys in chosen:
            for key in keys:
                self.attempts.pop(key, None)  # as BaseExecutor.trigger_tasks does
        self._take(self.queued_callbacks, callbacks)
        self._take(self.queued_tasks, tasks)

    def _take(self, queued: dict[Any, Any], keys: list[Any]) -> None:
        for key in keys:
            self._accept(key, queued.pop(key))
        if keys and not queued:  # emptied by pops, a dict keeps its table: a burst's would stay
            queued.clear()

    def _process_workloads(self, workload_items: Sequence[Any]) -> None:
        """For BaseExecutor's other callers; ``trigger_tasks`` takes the queued tries itself."""
        for workload in workload_items:
            key = workload.key
            if isinstance(workload, ExecuteTask):
                self.queued_tasks.pop(key, None)
            elif isinstance(workload, ExecuteCallback):
                self.queued_callbacks.pop(key, None)
            self._accept(key, workload)

    def _accept(self, key: Any, workload: Any) -> None:
        try:
            if not isinstance(workload, ExecuteTask | ExecuteCallback):
                self.log.error("batch-router cannot run %s workloads", type(workload).__name__)
                return
            self.running.add(key)
            self._intake.accept(key, workload)
        except Exception as exc:
            self._hub.fail_now(key, "batch-router could not accept the task", f"{type(exc).__name__}: {exc}")

    def sync(self) -> None:
        """Apply finished calls, then hand over new tries, due submits and, once per POLL_INTERVAL, a poll."""
        try:
            with self._guard.phase("sync"):
                tunables = self._hub.tunables
                self._hub.channel.apply(tunables.apply_budget_seconds)
                if not self._hub.open_for_calls or self._stopping:
                    return
                self._intake.dispatch(
                    plan_here_budget=tunables.plan_here_budget_seconds, chunk_size=tunables.plan_chunk
                )
                now = time.monotonic()
                self._submitter.dispatch(
                    now,
                    pipeline_depth=tunables.submit_pipeline_depth,
                    budget_seconds=tunables.dispatch_budget_seconds,
                )
                self._poller.dispatch(now)
                self._emit_gauges()
        finally:
            self._hub.metrics.flush()

    def _emit_gauges(self) -> None:  # what changed; every route of the table once, at start
        counts: dict[str, Mapping[str, int]] = {}
        if not self._gauges_started and (runtime := self._hub.loaded) is not None:
            counts, self._gauges_started = {route.name: {} for route in runtime.plan.table.routes}, True
        counts.update(self._tracker.counts_by_route())
        self._hub.metrics.gauges(counts, time.monotonic())

    # -- what the scheduler asks -----------------------------------------------------------------------

    def revoke_task(self, *, ti: TaskInstance) -> None:
        """Stop the try's job (cancel it while it waits, terminate it once started) and forget it."""
        with self._guard.phase("revoke", "the task is forgotten; its job may still run"):
            key = ti.key
            self.queued_tasks.pop(key, None)
            self._intake.forget(key)
            self.running.discard(key)
            record = self._tracker.get(key)
            if record is None:
                return
            self._tracker.remove(record)
            if record.job_id is not None:
                self._hub.stop(record.job_id)
            elif record.lookup_first and record.stage in (Stage.PENDING, Stage.ADOPTING):
                self._hub.stop_try_jobs(record)
            self.log.info("batch-router: revoked %s", key)

    def try_adopt_task_instances(self, tis: Sequence[TaskInstance]) -> Sequence[TaskInstance]:
        """Adopt every try that has an id, without waiting on AWS; return the rest (see ``adoption``)."""
        adopted: tuple[list[TryRecord], list[TaskInstance]] | None = None
        with self._guard.phase("adoption", "the scheduler will reset these tasks"):
            adopted = self._adopter.adopt(tis)
        if adopted is None:
            return list(tis)
        records, not_adopted = adopted
        for record in records:
            self.running.add(record.key)
        if records:
            self.log.info(
                "batch-router adopted %d task(s); looking up their jobs: %s",
                len(records),
                ", ".join(str(r.key) for r in records),
            )
        return not_adopted

    def _warn_unknown_options(self) -> None:
        """A misspelt option, or JOB_QUEUE left beside a route table, would otherwise be ignored without a
        word; the scheduler still starts."""
        try:
            problems = unknown_options(team_name=self.team_name)
        except Exception:  # reading the configuration's sources must never stop start-up
            self.log.exception("batch-router: could not check [aws_batch_executor] for unknown options")
            return
        for problem in problems + unused_beside_route_table(self._hub.runtime().settings):
            hint = f" ({problem.hint})" if problem.hint else ""
            self.log.warning("batch-router: %s: %s%s", problem.path, problem.message, hint)

    def _fresh_workload(self, ti: TaskInstance) -> Workload | None:
        try:
            return fresh_workload(ti, self.jwt_generator)
        except Exception:  # no signing key here: the try is looked up, and failed if it has no job
            return None

    def get_task_log(self, ti: TaskInstance, try_number: int) -> tuple[list[str], list[str]]:
        """CloudWatch log lines of the try's job, for the UI; problems come back as messages."""
        try:
            runtime = self._hub.runtime()
            return read_task_log(runtime.client, runtime.plan, runtime.settings.log_group, ti, try_number)
        except Exception as exc:
            return [f"batch-router could not read this task's logs: {type(exc).__name__}: {exc}"], []
