"""Moto Batch jobs that run their command as a local process instead of a Docker container.

moto's ``Job`` is a thread that walks a job through Batch's states and runs a container. ``LocalJob``
keeps moto's bookkeeping (describe, attempts, tags) and replaces the thread body: the same states
with a short, configurable pause between them, then the job's command as a process group, its
output into CloudWatch Logs, and the exit code, termination or timeout as the job's end.

Nothing is patched on import: ``install`` swaps moto's ``Job`` for a subclass bound to one
``JobRuntime`` while a local Batch runs, ``uninstall`` puts moto's own back.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from moto.batch import models as batch_models
from moto.batch.models import Job, datetime2int_milliseconds
from moto.batch.utils import JobStatus

from batch_router.dev.local.blocking import blocked_reason, job_vcpus
from batch_router.dev.local.job_events import emit
from batch_router.dev.local.jobspec import (
    ProcessSpec,
    container_spec,
    eks_spec,
    env_list_to_dict,
    exit_code_of,
    inherited_env,
    merged_eks_containers,
    resolve_python,
)
from batch_router.dev.local.logs import CloudWatchLines, pump_lines
from batch_router.dev.local.runtime import (
    DEPENDENCY_REASON,
    EXITED_REASON,
    POLL_SECONDS,
    SHUTDOWN_REASON,
    START_FAILED_REASON,
    TIMEOUT_REASON,
    JobRuntime,
    UnsupportedJobError,
)
from batch_router.dev.processes import spawn, stop_group

logger = logging.getLogger(__name__)

_MOTO_JOB: type[Job] = Job
_PUMP_JOIN_SECONDS = 5.0


def install(runtime: JobRuntime) -> None:
    """Make moto's Batch backend create ``LocalJob``s bound to ``runtime`` from now on."""
    if batch_models.Job is not _MOTO_JOB:
        raise RuntimeError("a local Batch runner is already installed in this process")
    bound = type("LocalJob", (LocalJob,), {"runtime": runtime})  # a LocalJob bound to this runtime
    setattr(batch_models, "Job", bound)  # noqa: B010 - the module attribute is the hook


def uninstall() -> None:
    """Give moto its own ``Job`` back."""
    setattr(batch_models, "Job", _MOTO_JOB)  # noqa: B010


class LocalJob(Job):
    """One Batch job whose container is a local process group."""

    runtime: ClassVar[JobRuntime]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = f"local-batch-{self.job_id}"
        self._wake = threading.Event()
        self._end_lock = threading.Lock()
        self._exited = False
        self._container_reason: str | None = None

    # moto's ManagedState advances the status when it is read; here the runner alone moves it.
    @property
    def status(self) -> str | None:
        return self._status

    @status.setter
    def status(self, value: str | None) -> None:
        changed = value != getattr(self, "_status", None)
        self._status = value
        if changed and value not in (None, JobStatus.SUBMITTED.value):  # none for the submission itself
            emit(self)

    @property
    def stopping(self) -> bool:
        return self.stop or self.runtime.closed.is_set()

    def terminate(self, reason: str) -> None:
        """TerminateJob (and CancelJob before STARTING): the runner kills the process group, if any."""
        with self._end_lock:
            if self.job_stopped or self._exited or self.stop:
                return
            self.job_stopped_reason = reason
            self.stop = True
        self._wake.set()

    # ------------------------------------------------------------------ the thread

    def run(self) -> None:
        self.runtime.track(self)
        try:
            self._drive()
        except Exception as err:
            logger.exception("local Batch job %s failed inside the runner", self.job_id)
            if self.job_stopped_reason is None:
                self.job_stopped_reason = f"local runner error: {err}"
            self._mark_stopped(success=False)
        finally:
            self.runtime.untrack(self)

    def _drive(self) -> None:
        if not self._advance(JobStatus.PENDING.value):
            return
        if self.depends_on and not self._dependencies_succeeded():
            return
        if not self._advance(JobStatus.RUNNABLE.value):
            return
        if not self._wait_while_blocked():
            self._end_before_start()
            return
        if not self.runtime.acquire_slot(self):
            self._end_before_start()
            return
        try:
            if not self._advance(JobStatus.STARTING.value):
                return
            if not self._pause():
                self._end_before_start()
                return
            self._run_attempt()
        finally:
            self.runtime.release_slot()

    def _wait_while_blocked(self) -> bool:
        """Stay RUNNABLE, blocking the queue with AWS's reason (``blocking``), while the queue's
        compute environments cannot run the job; AWS Batch sends a "Batch Job Queue Blocked" event
        each time it finds the job blocking. False if the job is stopped (cancelled) first."""
        said: str | None = None
        while (reason := self._blocked_reason()) is not None:
            if reason != said:
                self.job_stopped_reason = said = reason  # what moto describes as the statusReason
                emit(self, queue_blocked=True)
            self._wake.wait(POLL_SECONDS)
            if self.stopping:
                return False
        if said is not None:
            self.job_stopped_reason = None
            emit(self)  # still RUNNABLE, no longer blocked
        return True

    def _blocked_reason(self) -> str | None:
        if self.job_definition.container_properties is None:
            return None  # EKS pods: the local Batch does not size them
        vcpus = job_vcpus(self.job_definition.container_properties, self.container_overrides)
        limits = [(env.compute_resources or {}).get("maxvCpus") for env in self.job_queue.environments]
        return blocked_reason(vcpus, limits, has_capacity=self.runtime.has_capacity(self.job_queue.name))

    def _pause(self) -> bool:
        self._wake.wait(self.runtime.settings.transition_seconds)
        return not self.stopping

    def _advance(self, status: str) -> bool:
        if not self._pause():
            self._end_before_start()
            return False
        self.status = status
        return True

    def _end_before_start(self) -> None:
        if self.job_stopped_reason is None:
            self.job_stopped_reason = SHUTDOWN_REASON
        self._mark_stopped(success=False)

    def _dependencies_succeeded(self) -> bool:
        """Stay PENDING until every dependency SUCCEEDED; fail like Batch as soon as one FAILED."""
        ids = [dep["jobId"] for dep in self.depends_on or []]
        while True:
            statuses = [job.status if (job := self.all_jobs.get(i)) else JobStatus.FAILED.value for i in ids]
            if JobStatus.FAILED.value in statuses:
                self.job_stopped_reason = DEPENDENCY_REASON
                self._mark_stopped(success=False)
                return False
            if all(s == JobStatus.SUCCEEDED.value for s in statuses):
                return True
            self._wake.wait(POLL_SECONDS)
            if self.stopping:
                self._end_before_start()
                return False

    def _process_spec(self) -> ProcessSpec:
        definition = self.job_definition
        if definition.eks_properties is not None:
            return eks_spec(definition.eks_properties, self.eks_properties_override, self.parameters)
        if definition.container_properties is not None:
            return container_spec(definition.container_properties, self.container_overrides, self.parameters)
        raise UnsupportedJobError("multi-node parallel jobs are not supported by the local Batch")

    def _batch_env(self) -> dict[str, str]:
        """The variables Batch itself sets in every job container (they cannot be overridden)."""
        env = {
            "AWS_BATCH_JOB_ID": self.job_id,
            "AWS_BATCH_JQ_NAME": self.job_queue.name,
            "AWS_BATCH_JOB_ATTEMPT": str(len(self.attempts) + 1),
        }
        if self.job_queue.environments:
            env["AWS_BATCH_CE_NAME"] = self.job_queue.environments[0].name
        if "index" in self.array_properties:
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(self.array_properties["index"])
        return env

    def _run_attempt(self) -> None:
        settings = self.runtime.settings
        try:
            spec = self._process_spec()
        except (UnsupportedJobError, TypeError) as err:
            self._cannot_start(str(err))
            return
        argv = resolve_python(spec.argv)
        if not argv:
            self._cannot_start("the job has no command; the local Batch runs commands, not images")
            return
        env = {**inherited_env(os.environ), **settings.base_env, **spec.env, **self._batch_env()}
        job_dir = settings.work_dir / self.job_id.replace(":", "-")
        job_dir.mkdir(parents=True, exist_ok=True)

        self.log_stream_name = self._stream_name
        sink = CloudWatchLines(self._log_backend, self._log_group, self.log_stream_name)
        self.job_started_at = datetime.now()
        try:
            proc = spawn(argv, env=env, cwd=job_dir)
        except OSError as err:
            self._cannot_start(f"{argv[0]}: {err.strerror or err}")
            return
        self._start_attempt()
        self.status = JobStatus.RUNNING.value
        assert proc.stdout is not None
        pump = threading.Thread(
            target=pump_lines, args=(proc.stdout, sink), name=f"{self.name}-logs", daemon=True
        )
        pump.start()
        try:
            killed = self._supervise(proc)
        finally:
            # SIGTERM then SIGKILL if it still runs; either way nothing else of its group outlives it.
            stop_group(proc, settings.kill_grace_seconds)
        pump.join(_PUMP_JOIN_SECONDS)
        self.exit_code = exit_code_of(proc.returncode)
        if self.job_stopped_reason is None:
            self.job_stopped_reason = EXITED_REASON
        self._mark_stopped(success=not killed and self.exit_code == 0)

    def _supervise(self, proc: subprocess.Popen[bytes]) -> bool:
        """Wait until the process exits (False) or must be stopped: TerminateJob or timeout (True)."""
        duration = self._attempt_duration()
        deadline = time.monotonic() + duration if duration else None
        while proc.poll() is None:
            if self.stopping:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                self.terminate(TIMEOUT_REASON)
                continue
            self._wake.wait(POLL_SECONDS)
        with self._end_lock:
            self._exited = True
            return self.stop

    def _attempt_duration(self) -> float | None:
        for source in (self.timeout, self.job_definition.timeout):
            if source and source.get("attemptDurationSeconds"):
                return float(source["attemptDurationSeconds"])
        return None

    def _cannot_start(self, why: str) -> None:
        if self.job_started_at.year == 1970:
            self.job_started_at = datetime.now()
        self._start_attempt()
        self._container_reason = f"CannotStartContainerError: {why}"
        self.job_stopped_reason = START_FAILED_REASON
        self._mark_stopped(success=False)

    # ------------------------------------------------------------------ bookkeeping moto reads

    def _mark_stopped(self, success: bool = True) -> None:
        # Everything DescribeJobs shows for a finished job is in place before the status says so.
        if self.job_stopped:
            return
        self.job_stopped_at = datetime.now()
        self._stop_attempt()
        self.job_stopped = True
        self.status = JobStatus.SUCCEEDED.value if success else JobStatus.FAILED.value

    def _stop_attempt(self) -> None:
        if not self.latest_attempt:
            return
        container = self.latest_attempt["container"]
        container["logStreamName"] = self.log_stream_name
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self._container_reason:
            container["reason"] = self._container_reason
        self.latest_attempt["stoppedAt"] = datetime2int_milliseconds(self.job_stopped_at)
        self.latest_attempt["statusReason"] = self.job_stopped_reason

    def _get_container_property(self, p: str, default: Any) -> Any:
        if p == "environment":  # moto's version appends to the submit's override list on every read
            assert self.job_definition.container_properties is not None
            env = env_list_to_dict(self.job_definition.container_properties.get("environment"))
            env.update(env_list_to_dict(self.container_overrides.get("environment")))
            env["AWS_BATCH_JOB_ID"] = self.job_id
            return [{"name": k, "value": v} for k, v in env.items()]
        return super()._get_container_property(p, default)

    def _eks_properties_details(self) -> dict[str, Any]:
        eks = self.job_definition.eks_properties or {}
        pod = {k: v for k, v in eks.get("podProperties", {}).items() if k != "containers"}
        containers = merged_eks_containers(eks, self.eks_properties_override)
        if containers and self.job_stopped and self.attempts:
            containers[0].update(self._end_fields())
        pod["containers"] = containers
        if self.attempts:
            pod["podName"] = self._pod_name
            pod["nodeName"] = "localhost"
        return {"podProperties": pod}

    @property
    def _pod_name(self) -> str:
        return f"aws-batch.{self.job_id}"

    def _end_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.exit_code is not None:
            fields["exitCode"] = self.exit_code
        if self._container_reason:
            fields["reason"] = self._container_reason
        return fields

    def describe_short(self) -> dict[str, Any]:
        result = super().describe_short()
        if not self.attempts:  # never started: Batch shows no startedAt
            result.pop("startedAt", None)
        return result

    def describe(self) -> dict[str, Any]:
        result = super().describe()
        if self.job_definition.eks_properties is not None:
            result["eksAttempts"] = [self._eks_attempt(a) for a in self.attempts]
            # Local extension: EKS jobs log to CloudWatch too, reported where container jobs report it.
            result["container"] = {
                k: v
                for k, v in {"logStreamName": self.log_stream_name, **self._end_fields()}.items()
                if v is not None
            }
        elif "container" in result:
            result["container"].update(self._end_fields())
        return result

    def _eks_attempt(self, attempt: Mapping[str, Any]) -> dict[str, Any]:
        container = attempt.get("container", {})
        eks_attempt: dict[str, Any] = {
            "containers": [{k: container[k] for k in ("exitCode", "reason") if k in container}],
            "podName": self._pod_name,
            "nodeName": "localhost",
            "startedAt": attempt.get("startedAt"),
        }
        for key in ("stoppedAt", "statusReason"):
            if key in attempt:
                eks_attempt[key] = attempt[key]
        return eks_attempt
