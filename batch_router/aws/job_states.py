"""What a DescribeJobs answer means for the Airflow task behind the job.

Batch statuses map onto four phases: SUBMITTED, PENDING, RUNNABLE and STARTING are all still *queued*
for Airflow (nothing is reported), RUNNING is *running*, SUCCEEDED is *success* and FAILED is *failed*.
Failures split further: a job that failed before its container ran the task (image pull, capacity,
a host lost while starting) never used the task's try, so it is submitted again; a job that failed
after the task started is the task's own failure and is reported as such.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

from batch_router.errors import MAX_AWS_TEXT, shorten

WAITING_STATUSES = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING"})
CANCELLABLE_STATUSES = frozenset({"SUBMITTED", "PENDING", "RUNNABLE"})  # CancelJob still stops these
FINISHED_STATUSES = frozenset({"SUCCEEDED", "FAILED"})

# Status reasons AWS Batch and ECS give when the container never got to run the task.
PRE_START_REASONS = re.compile(
    "|".join(
        (
            r"CannotPullContainer",
            r"CannotStartContainer",
            r"CannotCreateContainer",
            r"CannotInspectContainer",
            r"ResourceInitializationError",
            r"DockerTimeoutError",
            r"TaskFailedToStart",
            r"Host EC2 .*terminated",
            r"[Ss]pot .*interrupt|interrupted",
            r"InsufficientInstanceCapacity|[Ii]nsufficient capacity|capacity is not available",
            r"Essential container in task exited before start",
        )
    )
)


# The subset that says the capacity went away (a Spot reclaim, a lost host, none to be had): the same
# request may well fail again there, so a route's retry_route takes the try instead.
CAPACITY_REASONS = re.compile(
    r"Host EC2 .*terminated|[Ss]pot .*interrupt|interrupted"
    r"|InsufficientInstanceCapacity|[Ii]nsufficient capacity|capacity is not available"
)


class Phase(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED})


def state_key(status: str | None, blocked: str | None) -> str | None:
    """What a poll compares to tell whether a job changed: its status, and for a RUNNABLE job the
    documented reason it blocks its queue (``blocked_reasons``), if any."""
    if status is None or blocked is None:
        return status
    return f"{status} {blocked}"


def phase_of(job: Mapping[str, Any]) -> Phase:
    status = str(job.get("status", ""))
    if status == "RUNNING":
        return Phase.RUNNING
    if status == "SUCCEEDED":
        return Phase.SUCCEEDED
    if status == "FAILED":
        return Phase.FAILED
    return Phase.QUEUED  # the waiting statuses, and any status a newer API might add


def _last_attempt(job: Mapping[str, Any]) -> Mapping[str, Any]:
    attempts = job.get("attempts") or []
    return attempts[-1] if attempts else {}


def job_containers(job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The job's containers as DescribeJobs describes them (API_JobDetail): ``container`` for a
    containerProperties job, ``ecsProperties.taskProperties[].containers[]`` for an ecsProperties one (ECS
    Managed Instances: "TaskContainerDetails", with its own exitCode, reason and logStreamName), and the
    EKS pod's containers. The executor's command is in the first of them."""
    found: list[Mapping[str, Any]] = []
    if job.get("container"):
        found.append(job["container"])
    for task in (job.get("ecsProperties") or {}).get("taskProperties") or ():
        found += [c for c in (task.get("containers") or ()) if isinstance(c, Mapping)]
    pod = (job.get("eksProperties") or {}).get("podProperties") or {}
    found += [c for c in (pod.get("containers") or ()) if isinstance(c, Mapping)]
    return found


def _attempt_containers(job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The last attempt's containers (API_AttemptDetail: ``container``, or ``taskProperties[]``
    ``.containers[]`` for an ecsProperties job)."""
    attempt = _last_attempt(job)
    found: list[Mapping[str, Any]] = [attempt["container"]] if attempt.get("container") else []
    for task in attempt.get("taskProperties") or ():
        found += [c for c in (task.get("containers") or ()) if isinstance(c, Mapping)]
    return found


def status_reason(job: Mapping[str, Any]) -> str:
    """Why the job stopped, from the job or, failing that, its container or last attempt."""
    attempt = _last_attempt(job)
    texts = [job.get("statusReason")]
    texts += [c.get("reason") for c in job_containers(job)]
    texts.append(attempt.get("statusReason"))
    texts += [c.get("reason") for c in _attempt_containers(job)]
    for text in texts:
        if text:
            return shorten(str(text), MAX_AWS_TEXT)  # from AWS: any length reaches the logs otherwise
    return "no reason given"


def exit_code(job: Mapping[str, Any]) -> int | None:
    for container in (*job_containers(job), *_attempt_containers(job)):
        if container.get("exitCode") is not None:
            return int(container["exitCode"])
    return None


def log_stream(job: Mapping[str, Any]) -> str | None:
    for container in (*job_containers(job), *_attempt_containers(job)):
        if container.get("logStreamName"):
            return str(container["logStreamName"])
    return None


def log_group(job: Mapping[str, Any], default: str) -> str:
    """The awslogs group the job writes to: its own log configuration's, else the setting's."""
    for container in job_containers(job):
        options = (container.get("logConfiguration") or {}).get("options") or {}
        if options.get("awslogs-group"):
            return str(options["awslogs-group"])
    return default


def failed_before_start(job: Mapping[str, Any], *, seen_running: bool) -> bool:
    """True when the task never ran in this job, so submitting it again cannot run it twice.

    A job we saw RUNNING, or one that stopped with an exit code, ran the task. Otherwise a job with no
    ``startedAt`` never reached RUNNING; a start time with an infrastructure reason (image pull, host
    or Spot loss, capacity) marks a container that died before the task could start.
    """
    if seen_running or exit_code(job) is not None:
        return False
    if not job.get("startedAt"):
        return True
    return PRE_START_REASONS.search(status_reason(job)) is not None


def lost_capacity(job: Mapping[str, Any]) -> bool:
    """The job failed before its task started because its capacity went away (see CAPACITY_REASONS)."""
    return CAPACITY_REASONS.search(status_reason(job)) is not None


def failure_info(job: Mapping[str, Any], default_log_group: str) -> str:
    """One line for the task's failure info and event log: reason, exit code and where the logs are."""
    code = exit_code(job)
    stream = log_stream(job)
    where = (
        f"{log_group(job, default_log_group)}/{stream}" if stream else "none (the container never started)"
    )
    name, job_id, status = (shorten(str(job.get(key, "?")), 128) for key in ("jobName", "jobId", "status"))
    exit_text = "none" if code is None else code
    return (
        f"AWS Batch job {name} ({job_id}) {status}: "
        f"{status_reason(job)}; exit code {exit_text}; log stream {shorten(where, 512)}"
    )
