"""Finding the jobs of tries a dead scheduler left behind, so they are tracked instead of run twice.

The scheduler hands over each try with its ``external_executor_id``: the Batch job id if the job was
reported running, else the try's pre-assigned id. Adoption answers the scheduler at once, without
waiting on AWS: every try that has an id becomes a record, and AWS is asked afterwards, on the API
pool, like any other call. Ids are described in chunks of at most 100; a try whose id Batch does not
know as a job (or that AWS could not be asked about) goes to the submit pipeline as a look-up: found
by its job name and try-id tag, or, if it has no job, submitted with a fresh token.

Waiting would hold the scheduler's loop for as long as AWS takes to answer (minutes under
throttling), and handing a try back because AWS did not answer could run a live job twice.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.utils.helpers import chunks

from batch_router.aws.batch_client import DESCRIBE_JOBS_MAX
from batch_router.executor import calls
from batch_router.executor.belief import claim_for
from batch_router.executor.hub import Hub
from batch_router.executor.metrics import UNKNOWN_ROUTE
from batch_router.executor.outcomes import Described
from batch_router.executor.try_record import ADOPTED, LOOKUP_FIRST, NO_SUBMIT, Stage, TryRecord
from batch_router.executor.workloads import Workload, workload_from_job
from batch_router.plan.model import TaskIdentity
from batch_router.plan.naming import ROUTE_TAG, TRY_ID_TAG
from batch_router.plan.planner import Plan

if TYPE_CHECKING:
    from airflow.models.taskinstance import TaskInstance

__all__ = ["Adopter", "adopting_record", "ti_identity", "tracked_record"]

MakeWorkload = Callable[["TaskInstance"], Workload | None]


class Adopter:
    def __init__(self, hub: Hub, make_workload: MakeWorkload | None = None):
        self._hub = hub
        self._make_workload = make_workload
        hub.channel.on(Described, self._on_described)

    def adopt(self, tis: Sequence[TaskInstance]) -> tuple[list[TryRecord], list[TaskInstance]]:
        """(adopted, handed back). Returns without calling AWS; only tries with no id, or that cannot be
        read, are handed back, each on its own: one bad row must not cost the others their adoption."""
        hub = self._hub
        plan = hub.runtime().plan
        records: list[TryRecord] = []
        not_adopted: list[TaskInstance] = []
        for ti in tis:
            ext = ti.external_executor_id
            if not ext:
                not_adopted.append(ti)
                continue
            try:
                record = adopting_record(plan, ti, str(ext), self._make_workload)
            except Exception:
                hub.log.exception("batch-router: cannot adopt %s; handing it back", getattr(ti, "key", ti))
                hub.metrics.unexpected_error("adoption")
                not_adopted.append(ti)
                continue
            hub.tracker.add(record)
            records.append(record)
        for chunk in chunks(records, DESCRIBE_JOBS_MAX):
            self._describe(chunk)
        return records, not_adopted

    def _describe(self, chunk: Sequence[TryRecord]) -> None:
        asked = tuple((str(r.identity.try_id), r.key, r.serial) for r in chunk)
        run = functools.partial(calls.describe, self._hub.runtime().client, asked)
        crashed = functools.partial(Described.crashed, asked)
        if not self._hub.channel.send(self._hub.api, run, crashed):
            self._on_described(crashed(RuntimeError("shut down")))

    def _on_described(self, result: Described) -> None:
        """A job found by id is tracked; every other try is looked up by the submit pipeline."""
        hub, now, asked = self._hub, time.monotonic(), result.asked
        plan = hub.runtime().plan
        jobs = {str(job.get("jobId")): job for job in result.jobs}
        adopted: list[str] = []
        for ext, key, serial in asked:
            record = hub.tracker.current(key, serial)
            if record is None or record.stage is not Stage.ADOPTING:
                continue  # revoked meanwhile; revoke_task stops whatever job it had
            job = jobs.get(ext)
            claim = claim_for(key, plan)
            why = claim.foreign(job) if job is not None and claim is not None else None
            if why is not None:
                hub.log.warning(
                    "batch-router: job %s is not %s's (%s); looking the try up by name", ext, key, why
                )
                job = None
            if job is None:
                hub.tracker.call_failed(record, next_attempt_at=now)
                continue
            try:
                hub.tracker.add(tracked_record(record, job))
                adopted.append(str(key))
            except Exception:  # an unreadable job: the look-up decides, as if AWS had not answered
                hub.log.exception("batch-router: cannot read job %s of %s", ext, key)
                hub.metrics.unexpected_error("adoption")
                hub.tracker.call_failed(record, next_attempt_at=now)
        if result.error is not None:
            hub.log.warning(
                "batch-router: could not describe %d adopted job(s) (%s); looking them up by name",
                len(asked),
                result.error.reason,
            )
        if adopted:
            hub.log.info("batch-router: found the job of %d adopted task(s)", len(adopted))


def ti_identity(ti: TaskInstance, try_id: str) -> TaskIdentity:
    return TaskIdentity(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=ti.try_number,
        map_index=-1 if ti.map_index is None else int(ti.map_index),
        try_id=try_id,
    )


def adopting_record(plan: Plan, ti: TaskInstance, ext: str, make_workload: MakeWorkload | None) -> TryRecord:
    """The record of a try whose job is not known yet. ``ext`` is the job id or the try id: the look-up
    matches either. Where the try's job would be is every place its ``executor_config`` could have sent
    it (every route's queue if it can no longer be planned).

    If the try turns out to have no job (its scheduler died before submitting it), it is submitted with
    the fresh workload, as the scheduler would have queued it again; without one (the row lacks what a
    workload needs, or no signing key) it fails, saying no job was found.
    """
    identity = ti_identity(ti, ext)
    (job_queue, job_name), *elsewhere = plan.places(identity, ti.executor_config, ti.queue)
    workload = make_workload(ti) if make_workload is not None else None
    return TryRecord(
        key=ti.key,
        identity=identity,
        route=UNKNOWN_ROUTE,
        job_queue=job_queue,
        job_name=job_name,
        payload=workload.model_dump_json() if workload is not None else None,
        executor_config=ti.executor_config,
        queue=ti.queue,
        # What the dead scheduler's SubmitJob calls came to is not known: none is counted, so a try with
        # no job gets every attempt MAX_SUBMIT_JOB_ATTEMPTS allows (a job found for it counts one).
        attempts=0,
        stage=Stage.ADOPTING,
        flags=LOOKUP_FIRST | ADOPTED | (0 if workload is not None else NO_SUBMIT),
        elsewhere=tuple(elsewhere),
    )


def tracked_record(record: TryRecord, job: Any) -> TryRecord:
    """The adopted try as its job describes it. Its workload is the job's command, read back (like any
    tracked try's) if the job dies before start; the fresh one is kept only if the command is unreadable."""
    tags = job.get("tags") or {}
    try_id = str(tags.get(TRY_ID_TAG) or record.identity.try_id)
    # A readable command holds the workload: it is read back if the job dies before start, not kept.
    readable = workload_from_job(job) is not None
    return TryRecord(
        key=record.key,
        identity=dataclasses.replace(record.identity, try_id=try_id),
        route=str(tags.get(ROUTE_TAG) or UNKNOWN_ROUTE),
        job_queue=str(job.get("jobQueue")),
        job_definition=str(job.get("jobDefinition") or ""),
        job_name=str(job.get("jobName")),
        payload=None if readable else record.payload,
        executor_config=record.executor_config,
        queue=record.queue,
        attempts=1,
        stage=Stage.TRACKED,
        job_id=str(job["jobId"]),
        status=str(job.get("status")),
        flags=ADOPTED,
    )
