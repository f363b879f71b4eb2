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
import heapq
import json
import random
import threading
import time
from typing import Any

from moto.batch.models import Job
from moto.batch_simple import models as simple_models
from moto.core.base_backend import BackendDict
from moto.core.config import default_user_config

_held_lock = threading.Lock()
_held: dict[str, Job] = {}
_hold_jobs = True
_released_at: dict[str, float] = {}  # a try's id (the workload's ti.id) -> when its job ended (epoch s)
EVENTS_QUEUE = "bench-job-events"
ACCOUNT, REGION = "123456789012", "us-east-1"

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
                if _events is not None:
                    _events.send(job)
                return
        _finish(job)

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


class EventSender:
    """AWS Batch's job state change events into the SQS queue, as EventBridge delivers them: each after a
    delay (0.2 to 1 s; AWS documents no bound), so events of different jobs arrive out of order, one in
    20 of a job's RUNNING events held back 2 to 5 s (after its end, for a short job), and one in 50 sent
    twice (at-least-once delivery)."""

    def __init__(self, seed: int = 7) -> None:
        from moto.sqs.models import sqs_backends

        self._sqs = sqs_backends[ACCOUNT][REGION]
        self._rng = random.Random(seed)
        self._due: list[tuple[float, int, str]] = []
        self._lock = threading.Condition()
        self._count = 0
        threading.Thread(target=self._run, name="bench-events", daemon=True).start()

    def send(self, job: Job) -> None:
        detail = describe_unchanged(job)
        body = json.dumps(
            {
                "version": "0",
                "id": f"bench-{self._count}",
                "detail-type": "Batch Job State Change",
                "source": "aws.batch",
                "account": ACCOUNT,
                "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [job.arn],
                "detail": detail,
            },
            default=str,
        )
        now = time.monotonic()
        delays = [self._rng.uniform(0.2, 1.0)]
        if detail.get("status") == "RUNNING" and self._rng.random() < 0.05:
            delays[0] += self._rng.uniform(2.0, 5.0)
        if self._rng.random() < 0.02:
            delays.append(self._rng.uniform(0.2, 3.0))
        with self._lock:
            for delay in delays:
                self._count += 1
                heapq.heappush(self._due, (now + delay, self._count, body))
            self._lock.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._lock.wait(None if not self._due else max(0.0, self._due[0][0] - time.monotonic()))
                _, _, body = heapq.heappop(self._due)
            self._sqs.send_message(queue_name=EVENTS_QUEUE, message_body=body)


_events: EventSender | None = None


def _try_id(job: Job) -> str | None:
    """The try a job runs: the workload JSON at the end of its command (both executors put it there)."""
    try:
        command = (job.container_overrides or {}).get("command") or []
        return str(json.loads(command[-1])["ti"]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _finish(job: Job) -> None:
    job._mark_stopped(success=True)
    try_id = _try_id(job)
    if try_id is not None:
        _released_at[try_id] = time.time()
    if _events is not None:
        _events.send(job)


def released() -> dict[str, float]:
    """When each try's job ended, by the try's id (epoch seconds, this machine's clock)."""
    return dict(_released_at)


def release_paced(rate: float) -> int:
    """End the held jobs ``rate`` a second, in the order they were submitted, on a thread of its own;
    later jobs end at once. Returns how many were held."""
    global _hold_jobs
    with _held_lock:
        _hold_jobs = False
        jobs = list(_held.values())
        _held.clear()

    def run() -> None:
        started = time.monotonic()
        for n, job in enumerate(jobs):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            _finish(job)

    threading.Thread(target=run, name="bench-release", daemon=True).start()
    return len(jobs)


def install(*, hold_jobs: bool = True, events: bool = False) -> None:
    """Make moto's Batch responses use HoldingBatchBackend (moto's own switch for no-Docker Batch);
    with ``events``, send every job's state changes to the SQS queue ``EVENTS_QUEUE`` (made by api.py)."""
    global _hold_jobs, _events
    _hold_jobs = hold_jobs
    _events = EventSender() if events else None
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
        _finish(job)
    return len(jobs)
