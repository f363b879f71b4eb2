"""Finding the jobs of tries a dead scheduler left behind, so they are tracked instead of run twice.

The scheduler hands over each try with its ``external_executor_id``: the Batch job id if the job was
reported running, else the try's pre-assigned id. Ids are described in chunks of at most 100; an id
Batch does not know as a job is looked up as a try id, by the try's job name and try-id tag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from airflow.executors.workloads import ExecuteTask

from batch_router.aws.batch_client import DESCRIBE_JOBS_MAX, BatchClient, chunked
from batch_router.executor import calls
from batch_router.executor.hub import UNKNOWN_ROUTE, Hub, Log
from batch_router.executor.tracker import Stage, TryRecord
from batch_router.executor.workloads import Workload, workload_from_job
from batch_router.plan.model import TaskIdentity
from batch_router.plan.naming import ROUTE_TAG, TRY_ID_TAG
from batch_router.plan.planner import Plan

if TYPE_CHECKING:
    from airflow.models.taskinstance import TaskInstance

__all__ = ["adopt", "adopted_record", "find_adoptable", "ti_identity"]

_LOG = logging.getLogger(__name__)


def adopt(
    hub: Hub,
    tis: Sequence[TaskInstance],
    *,
    timeout: float,
    make_workload: Callable[[TaskInstance], Workload | None] | None = None,
) -> tuple[list[TryRecord], list[TaskInstance]]:
    """Track the tries whose jobs still exist: (tracked now, handed back to be queued again).

    ``make_workload`` makes a workload for a try adopted without an answer from AWS, so that if it
    turns out to have no job it is submitted rather than failed.
    """
    runtime = hub.runtime()
    pool = hub.pool or ThreadPoolExecutor(max_workers=runtime.settings.api_concurrency)
    try:
        records, not_adopted = find_adoptable(
            runtime.plan, runtime.client, pool, tis, timeout=timeout, log=hub.log, make_workload=make_workload
        )
    finally:
        if pool is not hub.pool:
            pool.shutdown(wait=False, cancel_futures=True)
    for record in records:
        hub.tracker.add(record)
    return records, not_adopted


def ti_identity(ti: TaskInstance, try_id: str) -> TaskIdentity:
    return TaskIdentity(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=ti.try_number,
        map_index=-1 if ti.map_index is None else int(ti.map_index),
        try_id=try_id,
    )


def find_adoptable(
    plan: Plan,
    client: BatchClient,
    pool: ThreadPoolExecutor,
    tis: Sequence[TaskInstance],
    *,
    timeout: float,
    log: Log | None = None,
    make_workload: Callable[[TaskInstance], Workload | None] | None = None,
) -> tuple[list[TryRecord], list[TaskInstance]]:
    """(records to track, tries to hand back). Waits up to ``timeout`` per round of calls.

    A try whose job exists is adopted, finished or not. A try with no job is handed back. A try AWS
    could not be asked about is adopted too, as a record that looks its job up later: handing it back
    could run a live job twice.
    """
    log = log or _LOG
    candidates = [ti for ti in tis if ti.external_executor_id]
    not_adopted = [ti for ti in tis if not ti.external_executor_id]
    if not candidates:
        return [], not_adopted
    ids = list(dict.fromkeys(str(ti.external_executor_id) for ti in candidates))
    polls = [pool.submit(calls.describe, client, chunk) for chunk in chunked(ids, DESCRIBE_JOBS_MAX)]
    wait(polls, timeout=timeout)
    described: dict[str, Any] = {}
    unchecked: set[str] = set()
    for future in polls:
        polled = future.result() if future.done() else None
        if polled is None:
            unchecked.update(ids)
        elif polled.error is not None:
            unchecked.update(polled.job_ids)
        else:
            described.update({str(job["jobId"]): job for job in polled.jobs})

    # One try that cannot be read (a bug, a row Airflow changed under us) must not cost the others their
    # adoption: it alone is handed back, and every other try goes on.
    broken: set[int] = set()
    lookups: dict[int, Future[calls.LookupResult]] = {}
    for index, ti in enumerate(candidates):
        ext = str(ti.external_executor_id)
        if ext not in described and ext not in unchecked:
            try:
                places = plan.places(ti_identity(ti, ext), ti.executor_config, ti.queue)
            except Exception:
                log.exception("batch-router: cannot adopt %s; handing it back", getattr(ti, "key", ti))
                broken.add(index)
                continue
            lookups[index] = pool.submit(calls.look_up, client, places, frozenset({ext}))
    wait(lookups.values(), timeout=timeout)

    records: list[TryRecord] = []
    for index, ti in enumerate(candidates):
        if index in broken:
            not_adopted.append(ti)
            continue
        ext = str(ti.external_executor_id)
        job = described.get(ext)
        if job is None and index in lookups:
            lookup = lookups[index]
            found = lookup.result() if lookup.done() else None
            if found is not None and found.error is None:
                if found.job is None:
                    not_adopted.append(ti)  # no job runs it: the scheduler may queue it again
                    continue
                job = dict(found.job)
        try:
            records.append(adopted_record(plan, ti, ext, job, make_workload))
        except Exception:
            log.exception("batch-router: cannot adopt %s; handing it back", getattr(ti, "key", ti))
            not_adopted.append(ti)
    return records, not_adopted


def adopted_record(
    plan: Plan,
    ti: TaskInstance,
    ext: str,
    job: Any | None,
    make_workload: Callable[[TaskInstance], Workload | None] | None = None,
) -> TryRecord:
    """The record of an adopted try; without ``job`` (AWS did not answer) its job is looked up later.

    Such a try may have had no job at all (its scheduler died before submitting): with a workload it is
    then submitted, as the scheduler would have queued it again had AWS answered; without one (the row
    lacks what a workload needs) it fails, saying no job was found.
    """
    if job is None:
        (job_queue, job_name), *_ = plan.places(ti_identity(ti, ext), ti.executor_config, ti.queue)
        workload = make_workload(ti) if make_workload is not None else None
        return TryRecord(
            key=ti.key,
            identity=ti_identity(ti, ext),
            route=UNKNOWN_ROUTE,
            job_queue=job_queue,
            job_name=job_name,
            workload=workload,
            executor_config=ti.executor_config,
            queue=ti.queue,
            attempts=1,
            lookup_first=True,
            submit_if_missing=workload is not None,
        )
    tags = job.get("tags") or {}
    try_id = str(tags.get(TRY_ID_TAG) or ext)
    workload = workload_from_job(job)  # so a job that dies before start can be submitted again
    if isinstance(workload, ExecuteTask):
        known = {"external_executor_id": try_id, "executor_config": ti.executor_config}  # not in the JSON
        dto = workload.ti.model_copy(update=known)
        workload = workload.model_copy(update={"ti": dto})
    return TryRecord(
        key=ti.key,
        identity=ti_identity(ti, try_id),
        route=str(tags.get(ROUTE_TAG) or UNKNOWN_ROUTE),
        job_queue=str(job.get("jobQueue")),
        job_definition=str(job.get("jobDefinition") or ""),
        job_name=str(job.get("jobName")),
        workload=workload,
        executor_config=ti.executor_config,
        queue=ti.queue,
        attempts=1,
        stage=Stage.TRACKED,
        job_id=str(job["jobId"]),
        status=str(job.get("status")),
    )
