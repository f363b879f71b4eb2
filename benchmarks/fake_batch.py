"""moto's Batch, changed only where a benchmark needs it: no Docker, and jobs that stay RUNNING until told.

moto's ``batch_simple`` backend finishes a job inside SubmitJob, so an executor never sees more than a
handful of jobs running and "DescribeJobs calls per poll for N running jobs" cannot be measured. Here
SubmitJob leaves each job RUNNING and remembers it; ``release_all()`` finishes them all at once, which
the harness does after it has watched a few polls with every job running. DescribeJobs looks jobs up
by id, as AWS does, instead of scanning every job moto has ever seen (which would make the fake API
slower with every task and charge that to whichever executor happens to run second).

This module patches moto's process-wide state, so it is imported only by the fake API's own process.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

from moto.batch.models import Job
from moto.batch_simple import models as simple_models
from moto.core.base_backend import BackendDict
from moto.core.config import default_user_config

_held_lock = threading.Lock()
_held: dict[str, Job] = {}
_hold_jobs = True

# Names answered by HoldingBatchBackend itself; every other attribute goes to moto's regular backend.
_OWN_NAMES = frozenset(
    {
        "backend",
        "account_id",
        "region_name",
        "urls",
        "_url_module",
        "__class__",
        "url_bases",
        "submit_job",
        "describe_jobs",
        "_mark_job_as_finished",
    }
)


class HoldingBatchBackend(simple_models.BatchSimpleBackend):
    """batch_simple whose jobs wait in RUNNING for ``release_all()`` instead of succeeding at once."""

    def __getattribute__(self, name: str) -> Any:
        if name in _OWN_NAMES:
            return object.__getattribute__(self, name)
        return object.__getattribute__(self.backend, name)

    def _mark_job_as_finished(self, include_start_attempt: bool, job: Job) -> None:
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.datetime.now()
        job.log_stream_name = job._stream_name
        if include_start_attempt:
            job._start_attempt()
        with _held_lock:
            if _hold_jobs:
                job.status = "RUNNING"
                _held[job.job_id] = job
                return
        job._mark_stopped(success=True)

    def describe_jobs(self, jobs: list[str] | None) -> list[dict[str, Any]]:
        known: dict[str, Job] = self.backend._jobs
        found = []
        for wanted in jobs or ():
            job = known.get(wanted.rsplit("/", 1)[-1])
            if job is not None:
                found.append(describe_unchanged(job))
        return found


def describe_unchanged(job: Job) -> dict[str, Any]:
    """``job.describe()``, leaving the job as it was.

    moto 5's ``Job._get_container_property("environment")`` appends the job definition's variables and
    ``AWS_BATCH_JOB_ID`` to the job's own ``containerOverrides["environment"]`` list on every describe,
    so each sweep made every later answer one variable longer (after 40 sweeps, 40 more per job): the
    fake API, and the executor parsing its answers, slowed down the longer jobs ran. AWS answers the
    same job the same way every time.
    """
    overrides = job.container_overrides
    environment = overrides.get("environment")
    if environment is None:
        return job.describe()
    overrides["environment"] = list(environment)  # the answer gets the copy moto appends to
    try:
        return job.describe()
    finally:
        overrides["environment"] = environment


def install(*, hold_jobs: bool = True) -> None:
    """Make moto's Batch responses use HoldingBatchBackend (moto's own switch for no-Docker Batch)."""
    global _hold_jobs
    _hold_jobs = hold_jobs
    default_user_config.setdefault("batch", {})["use_docker"] = False
    simple_models.batch_simple_backends = BackendDict(HoldingBatchBackend, "batch")


def held_count() -> int:
    with _held_lock:
        return len(_held)


def release_all(*, keep_holding: bool = False) -> int:
    """Finish every held job as SUCCEEDED; returns how many were held.

    Unless ``keep_holding``, later jobs then finish at once: a task resubmitted after the release must
    not wait for a release that will never come.
    """
    global _hold_jobs
    with _held_lock:
        _hold_jobs = keep_holding
        jobs = list(_held.values())
        _held.clear()
    for job in jobs:
        job._mark_stopped(success=True)
    return len(jobs)
