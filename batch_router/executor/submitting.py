"""Getting each try a Batch job: due tries to SubmitJob (or a look-up first), outcomes, retries, resubmits.

A try's job name is deterministic and its try id is in the job's tags, so a SubmitJob whose answer was
lost is looked up before it is sent again, and a try whose job died before the task started is
submitted again with a fresh token, planned again on the planning thread (``planning.replan``). The API
thread sends the request planning built and checked, as it was kept (``TryRecord.request``).
"""

from __future__ import annotations

import functools
import time

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError, ErrorKind
from batch_router.executor import calls, planning
from batch_router.executor.adoption import tracked_record
from batch_router.executor.belief import claim_for
from batch_router.executor.hub import Hub
from batch_router.executor.outcomes import (
    CallFailed,
    Found,
    NotFound,
    Refused,
    Replanned,
    ReplanTicket,
    SubmitOutcome,
    Submitted,
    SubmitTicket,
)
from batch_router.executor.try_record import Stage, TryRecord
from batch_router.executor.workloads import Workload, with_fresh_token
from batch_router.plan.planner import Plan

__all__ = ["Submitter"]


class Submitter:
    def __init__(self, hub: Hub):
        self._hub = hub
        self._throttled_submits = 0  # since the last heartbeat, for one warning per heartbeat
        hub.channel.on(Submitted, self.on_outcome)
        hub.channel.on(Found, self.on_outcome)
        hub.channel.on(NotFound, self.on_outcome)
        hub.channel.on(CallFailed, self.on_outcome)
        hub.channel.on(Replanned, self._on_replanned)
        hub.channel.on(Refused, self._on_refused)

    def dispatch(self, now: float, *, pipeline_depth: int, budget_seconds: float) -> None:
        """Hand due tries to the pool, up to ``pipeline_depth`` calls in flight, within the budget."""
        hub = self._hub
        if self._throttled_submits:
            hub.log.warning(
                "batch-router: AWS Batch throttled %d SubmitJob call(s) since the last heartbeat; "
                "they are queued again and the submit rate adapts",
                self._throttled_submits,
            )
            self._throttled_submits = 0
        if hub.pacing.paused(now) or hub.loaded is None:
            return
        room = pipeline_depth - hub.tracker.in_flight()
        if room <= 0:
            return
        runtime = hub.runtime()
        deadline = time.monotonic() + budget_seconds
        for _ in range(room):
            record = hub.tracker.pop_due(now)
            if record is None or not self._start(runtime.plan, runtime.client, record, now):
                return
            if time.monotonic() >= deadline:  # always at least one
                return

    def _start(self, plan: Plan, client: BatchClient, record: TryRecord, now: float) -> bool:
        """Hand the try's call to the pool; False after shutdown (the try waits, due again)."""
        ticket = SubmitTicket(
            key=record.key,
            serial=record.serial,
            route=record.route,
            request=record.request if record.submit_if_missing else None,
            job_queue=record.job_queue,
            job_name=record.job_name,
            match_ids=record.match_ids,
            exclude=frozenset(record.old_job_ids),
            look_first=record.lookup_first,
            elsewhere=record.elsewhere,
            claim=claim_for(record.key, plan) if record.lookup_first else None,
        )
        run = functools.partial(calls.submit_or_find, client, ticket, self._hub.log)
        if self._hub.channel.send(self._hub.api, run, ticket.crashed):
            self._hub.tracker.start_call(record)
            return True
        self._hub.tracker.call_failed(record, next_attempt_at=now)
        return False

    def on_outcome(self, outcome: SubmitOutcome) -> None:
        hub, ticket = self._hub, outcome.ticket
        record = hub.tracker.current(ticket.key, ticket.serial)
        if record is None:  # revoked while the call was under way: its job must not run
            if isinstance(outcome, Submitted | Found):
                hub.stop(outcome.job_id)
            return
        if isinstance(outcome, Submitted | CallFailed) and outcome.throttled:
            hub.count("throttled", record, outcome.throttled)
            self._throttled_submits += outcome.throttled
        match outcome:
            case Submitted(job_id=job_id):
                hub.pacing.recovered()
                hub.tracker.attach_job(record, job_id, submitted=True)
                hub.count("submitted", record)
            case Found(job=job) if record.adopted:
                hub.pacing.recovered()
                hub.tracker.add(tracked_record(record, job))
                hub.log.info("batch-router: found job %s of adopted %s", outcome.job_id, record.key)
            case Found(job=job):
                hub.pacing.recovered()
                status = job.get("status")
                hub.tracker.attach_job(record, outcome.job_id, status=str(status) if status else None)
                hub.log.warning(
                    "batch-router: found job %s of %s, made by a SubmitJob whose answer was lost; "
                    "not submitting again",
                    outcome.job_id,
                    record.key,
                )
            case NotFound():
                self._nothing_found(record)
            case CallFailed(error=error, looking_up=looking_up):
                submitting = ticket.request is not None and not looking_up
                self._on_error(record, error, submitting=submitting)

    def _nothing_found(self, record: TryRecord) -> None:
        """Looked and found no job and had no request: plan the try if it has a workload of its own (an
        adopted try whose scheduler died before its SubmitJob), else the try is over."""
        if record.submit_if_missing and record.payload is not None:
            self._hub.tracker.plan_again(record, now=time.monotonic())
            self._replan(record, record.payload)
            return
        if record.last_error:
            event = "batch-router: SubmitJob failed"
            reason = (
                f"gave up after {record.attempts} attempts, none of which made a job: {record.last_error}"
            )
        else:
            event = "batch-router: job not found"
            reason = (
                f"no AWS Batch job named {record.job_name} for try id {record.identity.try_id} "
                f"in job queue {record.job_queue}"
            )
        self._hub.finish_failed(record, event, reason)

    def _on_error(self, record: TryRecord, error: BatchApiError, *, submitting: bool) -> None:
        hub, now = self._hub, time.monotonic()
        if error.kind is ErrorKind.THROTTLED:
            # No pause of the whole pipeline: the submit client's rate limiter paces every thread, which
            # keeps submits near the rate AWS accepts. The API thread already sent it again a few times
            # (counted in the outcome); the try goes back in line and uses no attempt.
            hub.tracker.call_failed(record, next_attempt_at=now)
            return
        if error.kind is ErrorKind.CREDENTIALS:
            hub.tracker.call_failed(record, next_attempt_at=hub.credentials_failed(now, error))
            return
        if error.kind is ErrorKind.PERMANENT:
            hub.finish_failed(record, "batch-router: SubmitJob refused", error.reason)
            return
        if not submitting:  # a failed look-up: retry it, it costs the task nothing
            hub.tracker.call_failed(record, next_attempt_at=now + hub.pacing.backoff(1))
            return
        hub.tracker.submit_failed(
            record,
            error.reason,
            outcome_unknown=error.kind is ErrorKind.OUTCOME_UNKNOWN,
            next_attempt_at=now + hub.pacing.backoff(record.attempts + 1),
        )
        if record.attempts < hub.max_attempts:
            hub.count("retried", record)
            hub.log.warning(
                "batch-router: SubmitJob for %s failed (attempt %d of %d), retrying: %s",
                record.key,
                record.attempts,
                hub.max_attempts,
                error.reason,
            )
        elif record.lookup_first:  # out of attempts, but the last one may have made a job: look once more
            hub.tracker.last_look(record, now=now)
        else:
            hub.finish_failed(
                record,
                "batch-router: SubmitJob failed",
                f"gave up after {record.attempts} attempts: {error.reason}",
            )

    # -- a job that died before the task started -----------------------------------------------------

    def can_resubmit(self, record: TryRecord) -> bool:
        return record.attempts < self._hub.max_attempts

    def why_not_resubmitted(self, workload: Workload | None) -> str:
        if workload is None:
            return "the job's command could not be read back, so it cannot be submitted again"
        return f"MAX_SUBMIT_JOB_ATTEMPTS={self._hub.max_attempts} used up"

    def resubmit(
        self, record: TryRecord, info: str, workload: Workload, *, lost_capacity: bool = False
    ) -> None:
        """Submit a try whose job died before the task started again, with a freshly signed token: it
        is planned again (on its route's retry_route when the job lost its capacity: the same Spot pool
        may well be gone), then sent after the backoff.

        ``workload`` is the one its job ran, read back from the job's command: a tracked try keeps none.
        """
        hub = self._hub
        try:
            payload = with_fresh_token(workload, hub.airflow.jwt_generator).model_dump_json()
        except Exception as exc:
            hub.finish_failed(record, "batch-router: job failed", f"{info}; could not submit it again: {exc}")
            return
        due = time.monotonic() + hub.pacing.backoff(record.attempts)
        hub.tracker.detach_job(record, payload=payload, next_attempt_at=due)
        hub.count("retried", record)
        self._replan(record, payload, why=info, lost_capacity=lost_capacity and not record.on_retry_route)

    def _replan(self, record: TryRecord, payload: str, *, why: str = "", lost_capacity: bool = False) -> None:
        hub = self._hub
        ticket = ReplanTicket(
            record.key, record.serial, record.identity, record.executor_config, record.queue, payload,
            lost_capacity=lost_capacity, why=why,
        )  # fmt: skip
        run = functools.partial(planning.replan, hub.runtime().plan, ticket)
        if not hub.channel.send(hub.planner, run, ticket.crashed):
            # Shutting down: the try stays as it is; the next scheduler adopts it (its job is gone).
            hub.log.warning("batch-router: cannot plan %s again after shutdown", record.key)

    def _on_replanned(self, replanned: Replanned) -> None:
        hub, ticket = self._hub, replanned.ticket
        record = hub.tracker.current(ticket.key, ticket.serial)
        if record is None or record.stage is not Stage.PLANNING:
            return  # revoked meanwhile
        where = ""
        if ticket.lost_capacity and replanned.route != record.route:
            # through the tracker, so its per-route counts move too
            hub.tracker.move_route(
                record,
                route=replanned.route,
                job_queue=replanned.job_queue,
                job_definition=replanned.job_definition,
            )
            where = f" on retry route {replanned.route!r}"
        hub.tracker.planned(record, request=replanned.request)
        if ticket.why:
            text = (
                f"{ticket.why}. The task never started, so it is submitted again{where} with a fresh "
                f"token (attempt {record.attempts + 1} of {hub.max_attempts})."
            )
            hub.airflow.log_task_event(event="batch-router: resubmitting", extra=text, ti_key=record.key)
            hub.note(record.key, f"batch-router: resubmitting: {text}")  # rare: a job lost before start

    def _on_refused(self, refused: Refused) -> None:
        record = self._hub.tracker.current(refused.key, refused.serial)
        if record is not None:
            self._hub.finish_failed(record, "batch-router: task not submitted", refused.reason)
