"""The demo's view of Batch: every job of a run, read back from Batch itself with the task its tags name.

The closing table is built from this, so it shows where each task really ran rather than where the
planner meant it to.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch_router.aws.batch_client import BatchClient
from batch_router.plan.naming import (
    DAG_ID_TAG,
    MAP_INDEX_TAG,
    ROUTE_TAG,
    RUN_ID_TAG,
    TASK_ID_TAG,
    TRY_NUMBER_TAG,
)

__all__ = [
    "TERMINAL_BATCH_STATUSES",
    "BatchJob",
    "batch_job_from_description",
    "latest_job_per_task",
    "list_batch_jobs",
    "wait_batch_jobs_ended",
]

BATCH_STATUSES: tuple[str, ...] = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
)
TERMINAL_BATCH_STATUSES = frozenset({"SUCCEEDED", "FAILED"})


@dataclass(frozen=True)
class BatchJob:
    """One Batch job as DescribeJobs shows it, with the task identity its tags carry."""

    job_id: str
    job_name: str
    status: str
    status_reason: str | None
    job_queue: str
    route: str | None
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    try_number: int | None
    map_index: int
    started_at_ms: int | None
    stopped_at_ms: int | None

    @property
    def duration(self) -> float | None:
        if self.started_at_ms is None or self.stopped_at_ms is None:
            return None
        return (self.stopped_at_ms - self.started_at_ms) / 1000.0


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def batch_job_from_description(description: Mapping[str, Any]) -> BatchJob:
    """A ``BatchJob`` from one DescribeJobs entry; tags that are missing stay ``None``."""
    tags: Mapping[str, str] = description.get("tags") or {}
    queue = str(description.get("jobQueue", ""))
    map_index = _int_or_none(tags.get(MAP_INDEX_TAG))
    return BatchJob(
        job_id=str(description["jobId"]),
        job_name=str(description.get("jobName", "")),
        status=str(description.get("status", "")),
        status_reason=description.get("statusReason"),
        job_queue=queue.rsplit("/", 1)[-1],
        route=tags.get(ROUTE_TAG),
        dag_id=tags.get(DAG_ID_TAG),
        task_id=tags.get(TASK_ID_TAG),
        run_id=tags.get(RUN_ID_TAG),
        try_number=_int_or_none(tags.get(TRY_NUMBER_TAG)),
        map_index=-1 if map_index is None else map_index,
        started_at_ms=_int_or_none(description.get("startedAt")),
        stopped_at_ms=_int_or_none(description.get("stoppedAt")),
    )


def list_batch_jobs(client: BatchClient, queues: Iterable[str], dag_id: str | None = None) -> list[BatchJob]:
    """Every job in ``queues`` (of every status), described; only ``dag_id``'s when given.

    ListJobs answers one status at a time, so each status of each queue is asked for.
    """
    job_ids = [
        job_id
        for queue in dict.fromkeys(queues)
        for status in BATCH_STATUSES
        for job_id in client.list_job_ids(queue, status)
    ]
    jobs = [batch_job_from_description(d) for d in client.describe_jobs(job_ids)]
    if dag_id is not None:
        jobs = [job for job in jobs if job.dag_id == dag_id]
    return sorted(jobs, key=lambda job: (job.started_at_ms or 0, job.job_id))


def latest_job_per_task(jobs: Iterable[BatchJob], run_id: str) -> dict[str, BatchJob]:
    """For each task of ``run_id``, the job of its highest try."""
    latest: dict[str, BatchJob] = {}
    for job in jobs:
        if job.run_id != run_id or job.task_id is None:
            continue
        key = job.task_id if job.map_index < 0 else f"{job.task_id}[{job.map_index}]"
        current = latest.get(key)
        if current is None or (job.try_number or 0) >= (current.try_number or 0):
            latest[key] = job
    return latest


def wait_batch_jobs_ended(
    client: BatchClient,
    queues: Sequence[str],
    dag_id: str,
    run_id: str,
    timeout: float = 60.0,
    on_tick: Callable[[], None] | None = None,
) -> dict[str, BatchJob]:
    """The last job of each task of the run, once every job of the run has ended (or at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        if on_tick is not None:
            on_tick()
        jobs = [job for job in list_batch_jobs(client, queues, dag_id) if job.run_id == run_id]
        if all(job.status in TERMINAL_BATCH_STATUSES for job in jobs) or time.monotonic() > deadline:
            return latest_job_per_task(jobs, run_id)
        time.sleep(0.5)
