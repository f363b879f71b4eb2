"""Getting each try a Batch job: due tries to SubmitJob (or a look-up first), outcomes, retries, resubmits.

A try's job name is deterministic and its try id is in the job's tags, so a SubmitJob whose answer was
lost is looked up before it is sent again, and a try whose job died before the task started is
submitted again with a fresh token. No request is kept per try: the API thread builds it just before
sending (see ``planning.JobSpec``).
"""

from __future__ import annotations

import time

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError, ErrorKind
from batch_router.executor import calls
from batch_router.executor.adoption import tracked_record
from batch_router.executor.belief import claim_for
from batch_router.executor.hub import Hub, crashed_call
from batch_router.executor.planning import JobSpec
from batch_router.executor.tracker import TryRecord
from batch_router.executor.workloads import Workload, with_fresh_token
from batch_router.plan.planner import Plan

__all__ = ["Submitter"]


class Submitter:
    def __init__(self, hub: Hub):
        self._hub = hub
        self._throttled_submits = 0  # since the last heartbeat, for one warning per heartbeat

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
        spec = None
        if record.submit_if_missing and record.payload is not None:
            spec = JobSpec(
                plan,
                record.identity,
                record.executor_config,
                record.queue,
                record.payload,
                lost_capacity=record.on_retry_route,
            )
        ticket = calls.SubmitTicket(
            key=record.key,
            serial=record.serial,
            spec=spec,
            job_queue=record.job_queue,
            job_name=record.job_name,
            match_ids=record.match_ids,
            exclude=frozenset(record.old_job_ids),
            look_first=record.lookup_first,
            submit=spec is not None,
            elsewhere=record.elsewhere,
            claim=claim_for(record.key, plan) if record.lookup_first else None,
        )

        # A call that raised may have made a job before it did: look before submitting again.
        def crashed(exc: BaseException) -> calls.CallFailed:
            return calls.CallFailed(ticket, crashed_call("SubmitJob", exc, ErrorKind.OUTCOME_UNKNOWN))

        args = (client, ticket, self._hub.log)
        if self._hub.hand_over(self.on_outcome, calls.submit_or_find, *args, on_crash=crashed):
            self._hub.tracker.start_call(record)
            return True
        self._hub.tracker.call_failed(record, next_attempt_at=now)
        return False

    def on_outcome(self, outcome: calls.SubmitOutcome) -> None:
        hub, ticket = self._hub, outcome.ticket
        record = hub.tracker.current(ticket.key, ticket.serial)
        if record is None:  # revoked while the call was under way: its job must not run
            if isinstance(outcome, calls.Submitted | calls.Found):
                hub.stop(outcome.job_id)
            return
        if isinstance(outcome, calls.Submitted | calls.CallFailed) and outcome.throttled:
            hub.count("throttled", record, outcome.throttled)
            self._throttled_submits += outcome.throttled
        match outcome:
            case calls.Submitted(job_id=job_id):
                hub.pacing.recovered()
                hub.tracker.attach_job(record, job_id)
                record.payload = None  # the job's command holds it (read back if it must run again)
                record.attempts += 1
                hub.count("submitted", record)
            case calls.Found(job=job) if record.adopted:
                hub.pacing.recovered()
                hub.tracker.add(tracked_record(record, job))
                hub.log.info("batch-router: found job %s of adopted %s", outcome.job_id, record.key)
            case calls.Found(job=job):
                hub.pacing.recovered()
                status = job.get("status")
                hub.tracker.attach_job(record, outcome.job_id, status=str(status) if status else None)
                record.payload = None
                hub.log.warning(
                    "batch-router: found job %s of %s, made by a SubmitJob whose answer was lost; "
                    "not submitting again",
                    outcome.job_id,
                    record.key,
                )
            case calls.Refused(reason=reason):
                hub.finish_failed(record, "batch-router: task not submitted", reason)
            case calls.NotFound():
                self._nothing_found(record)
            case calls.CallFailed(error=error, looking_up=looking_up):
                self._on_error(record, error, submitting=ticket.submit and not looking_up)

    def _nothing_found(self, record: TryRecord) -> None:
        """Looked and found no job, and there is nothing to submit: the try is over."""
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
        record.last_error = error.reason
        record.attempts += 1
        if error.kind is ErrorKind.OUTCOME_UNKNOWN:
            record.lookup_first = True
        if record.attempts < hub.max_attempts:
            hub.tracker.call_failed(record, next_attempt_at=now + hub.pacing.backoff(record.attempts))
            hub.count("retried", record)
            hub.log.warning(
                "batch-router: SubmitJob for %s failed (attempt %d of %d), retrying: %s",
                record.key,
                record.attempts,
                hub.max_attempts,
                error.reason,
            )
        elif record.lookup_first:  # out of attempts, but the last one may have made a job: look once more
            record.submit_if_missing = False
            hub.tracker.call_failed(record, next_attempt_at=now)
        else:
            hub.finish_failed(
                record,
                "batch-router: SubmitJob failed",
                f"gave up after {record.attempts} attempts: {error.reason}",
            )

    # -- a job that died before the task started -----------------------------------------------------

    def can_resubmit(self, record: TryRecord, workload: Workload | None) -> bool:
        return workload is not None and record.attempts < self._hub.max_attempts

    def why_not_resubmitted(self, workload: Workload | None) -> str:
        if workload is None:
            return "the job's command could not be read back, so it cannot be submitted again"
        return f"MAX_SUBMIT_JOB_ATTEMPTS={self._hub.max_attempts} used up"

    def resubmit(
        self, record: TryRecord, info: str, workload: Workload, *, lost_capacity: bool = False
    ) -> None:
        """Submit a try whose job died before the task started again, with a freshly signed token; on its
        route's retry_route when the job lost its capacity (the same Spot pool may well be gone).

        ``workload`` is the one its job ran, read back from the job's command: a tracked try keeps none.
        """
        hub = self._hub
        try:
            record.payload = with_fresh_token(workload, hub.airflow.jwt_generator).model_dump_json()
        except Exception as exc:
            hub.finish_failed(record, "batch-router: job failed", f"{info}; could not submit it again: {exc}")
            return
        where = ""
        if lost_capacity and not record.on_retry_route:
            moved = self._to_retry_route(record)
            where = f" on retry route {moved!r}" if moved else ""
        record.submit_if_missing, record.lookup_first = True, False
        due = time.monotonic() + hub.pacing.backoff(record.attempts)
        hub.tracker.detach_job(record, next_attempt_at=due)
        hub.count("retried", record)
        hub.airflow.log_task_event(
            event="batch-router: resubmitting",
            extra=f"{info}. The task never started, so it is submitted again{where} with a fresh token "
            f"(attempt {record.attempts + 1} of {hub.max_attempts}).",
            ti_key=record.key,
        )

    def _to_retry_route(self, record: TryRecord) -> str | None:
        """Send the try's next jobs to its route's retry_route; the route's name, or None if it has none
        (or the try cannot be planned there, when it stays where it was)."""
        assert record.payload is not None
        spec = JobSpec(
            self._hub.runtime().plan, record.identity, record.executor_config, record.queue, record.payload,
            lost_capacity=True,
        )  # fmt: skip
        try:
            built = spec.build()
        except Exception:  # the original route still takes it
            return None
        if built.route.name == record.route:
            return None
        self._hub.tracker.move_route(  # through the tracker, so its per-route counts move too
            record,
            route=built.route.name,
            job_queue=str(built.kwargs["jobQueue"]),
            job_definition=str(built.kwargs["jobDefinition"]),
        )
        return built.route.name
