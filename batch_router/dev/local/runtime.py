"""What the jobs of one local Batch share: how they run, their run slots, and which of them are live."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = [
    "DEPENDENCY_REASON",
    "EXITED_REASON",
    "POLL_SECONDS",
    "SHUTDOWN_REASON",
    "START_FAILED_REASON",
    "TIMEOUT_REASON",
    "JobRuntime",
    "RunnerSettings",
    "UnsupportedJobError",
]

logger = logging.getLogger(__name__)


class LocalJob(Protocol):
    """What the runtime needs of a running job (``runner.LocalJob``, a thread)."""

    job_id: str

    @property
    def stopping(self) -> bool: ...

    @property
    def ident(self) -> int | None: ...

    def terminate(self, reason: str) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...

    def is_alive(self) -> bool: ...


# statusReason values, worded as AWS Batch words them.
EXITED_REASON = "Essential container in task exited"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
DEPENDENCY_REASON = "Dependent Job failed"
START_FAILED_REASON = "Task failed to start"
SHUTDOWN_REASON = "The local Batch was stopped"

POLL_SECONDS = 0.05


class UnsupportedJobError(Exception):
    """The job definition is of a kind the local runner cannot execute (multi-node parallel)."""


@dataclass(frozen=True)
class RunnerSettings:
    """How the local runner behaves; shared by every job of one local Batch."""

    work_dir: Path
    base_env: Mapping[str, str] = field(default_factory=dict)
    transition_seconds: float = 0.25
    kill_grace_seconds: float = 5.0
    max_concurrent_jobs: int = 256


class JobRuntime:
    """What the jobs of one local Batch share: settings, run slots and the set of live jobs."""

    def __init__(self, settings: RunnerSettings):
        if settings.max_concurrent_jobs < 1:
            raise ValueError("max_concurrent_jobs must be at least 1")
        self.settings = settings
        self.closed = threading.Event()
        self._slots = threading.BoundedSemaphore(settings.max_concurrent_jobs)
        self._lock = threading.Lock()
        self._jobs: set[LocalJob] = set()
        self._without_capacity: set[str] = set()  # job queue names (hold_capacity)

    def track(self, job: LocalJob) -> None:
        with self._lock:
            self._jobs.add(job)

    def untrack(self, job: LocalJob) -> None:
        with self._lock:
            self._jobs.discard(job)

    def live_jobs(self) -> list[LocalJob]:
        with self._lock:
            return list(self._jobs)

    def hold_capacity(self, job_queue: str, held: bool) -> None:
        with self._lock:
            (self._without_capacity.add if held else self._without_capacity.discard)(job_queue)

    def has_capacity(self, job_queue: str) -> bool:
        with self._lock:
            return job_queue not in self._without_capacity

    def acquire_slot(self, job: LocalJob) -> bool:
        """Wait (the job stays RUNNABLE) until a run slot is free; False if the job is stopped first."""
        while not job.stopping:
            if self._slots.acquire(timeout=POLL_SECONDS):
                return True
        return False

    def release_slot(self) -> None:
        self._slots.release()

    def stop_all(self, reason: str = SHUTDOWN_REASON) -> None:
        """Terminate every job, kill every process group, and wait for each job's thread to end."""
        self.closed.set()
        jobs = self.live_jobs()
        for job in jobs:
            job.terminate(reason)
        deadline = time.monotonic() + self.settings.kill_grace_seconds + 10.0
        for job in jobs:
            if job.ident is not None:
                job.join(max(0.0, deadline - time.monotonic()))
            if job.is_alive():
                logger.warning("local Batch job %s did not stop in time", job.job_id)
