"""A small AWS Batch world on moto for the executor's tests.

- Resources: compute environments, job queues and job definitions made through boto3, as a user would.
- Job life cycle: moto would run each job in Docker (absent here) and fail it at once; the world holds
  every job in SUBMITTED and lets a test move it (RUNNABLE, RUNNING with log lines, SUCCEEDED, FAILED
  before or after start), or make Batch forget it.
- Faults: botocore event handlers, installed for every client botocore makes, record each AWS call and
  can answer one with an error instead of sending it, lose the answer after moto has acted on the
  request, or slow every call down. Nothing in the executor is patched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

ACCOUNT = "123456789012"
REGION = "us-east-1"


class _Raw:
    """The bit of a urllib3 response that botocore reads from a canned answer."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._body


@dataclass
class _Rule:
    operation: str  # "SubmitJob", or "*" for every Batch call
    times: int
    make: Callable[[Any], Any]  # request -> AWSResponse, or raises


def _body(request_dict: dict[str, Any]) -> dict[str, Any]:
    """The API arguments of a serialized (JSON-protocol) request."""
    try:
        return dict(json.loads(request_dict.get("body") or b"{}"))
    except (TypeError, ValueError):
        return {}


class Faults:
    """Records every Batch and CloudWatch Logs call and injects faults into them. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[str] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._before: list[_Rule] = []
        self._after: list[_Rule] = []
        self.delay = 0.0

    # handlers -----------------------------------------------------------------------------------------

    def before_call(self, params: dict[str, Any], event_name: str, **_: Any) -> Any:
        """Runs once per API call, before botocore sends anything; a returned answer replaces the call."""
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.calls.append(operation)
            self.requests.append((operation, _body(params)))
            rule = self._take(self._before, operation)
        if self.delay:
            time.sleep(self.delay)
        return rule.make(params) if rule else None

    def after_call(self, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            rule = self._take(self._after, operation)
        if rule:
            rule.make(None)

    def _take(self, rules: list[_Rule], operation: str) -> _Rule | None:
        for rule in rules:
            if rule.times > 0 and rule.operation in (operation, "*"):
                rule.times -= 1
                return rule
        return None

    # what tests ask for -------------------------------------------------------------------------------

    def error(
        self, operation: str, code: str, status: int, *, times: int = 1, message: str = "injected"
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` with this AWS error."""

        def make(_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json"}
            parsed = {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return AWSResponse("https://batch.invalid/", status, headers, _Raw(body)), parsed

        with self._lock:
            self._before.append(_Rule(operation, times, make))

    def lose_response(self, operation: str, *, times: int = 1) -> None:
        """Let moto act on the next ``times`` calls, then lose the answer (a read timeout)."""

        def make(_: Any) -> None:
            raise ReadTimeoutError(endpoint_url=f"https://batch.{REGION}.amazonaws.com/ ({operation})")

        with self._lock:
            self._after.append(_Rule(operation, times, make))

    def hold(self, operation: str) -> threading.Event:
        """Keep every call of ``operation`` waiting until the returned event is set (at most 60 s)."""
        released = threading.Event()

        def make(_: Any) -> None:
            released.wait(60)

        with self._lock:
            self._before.append(_Rule(operation, 1_000_000, make))
        return released

    def count(self, operation: str) -> int:
        with self._lock:
            return self.calls.count(operation)

    def params(self, operation: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for op, body in self.requests if op == operation]

    def handlers(self) -> list[tuple[str, Any]]:
        return [
            ("before-call.batch", self.before_call),
            ("before-call.cloudwatch-logs", self.before_call),
            ("before-call.sqs", self.before_call),
            ("after-call.batch", self.after_call),
        ]


def install(monkeypatch: Any, faults: Faults) -> None:
    """Every botocore session made from now on (each hook makes its own) gets the fault handlers."""
    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, *faults.handlers()]
    )


def hold_jobs(monkeypatch: Any) -> None:
    """Keep moto from starting a job's (Docker) thread: jobs stay SUBMITTED until a test moves them."""
    from moto.batch.models import Job

    monkeypatch.setattr(Job, "start", lambda self: None)


class BatchWorld:
    """Batch resources and job control for tests; works for in-process moto and a ThreadedMotoServer."""

    def __init__(self, endpoint_url: str | None = None):
        self.endpoint_url = endpoint_url
        session = boto3.Session(region_name=REGION)  # one session: service models load once
        self.batch = session.client("batch", endpoint_url=endpoint_url)
        self.logs = session.client("logs", endpoint_url=endpoint_url)
        iam = session.client("iam", endpoint_url=endpoint_url)
        ec2 = session.client("ec2", endpoint_url=endpoint_url)
        self.role = iam.create_role(RoleName="batch-router-test", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        profile = iam.create_instance_profile(InstanceProfileName="batch-router-test")
        self.instance_profile = profile["InstanceProfile"]["Arn"]
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        self.security_group = ec2.create_security_group(GroupName="sg", Description="test", VpcId=vpc)[
            "GroupId"
        ]

    # resources ----------------------------------------------------------------------------------------

    def queue(self, name: str, *, compute: str = "FARGATE", state: str = "ENABLED") -> str:
        """A job queue on one new managed compute environment of ``compute`` (FARGATE, EC2, SPOT...)."""
        resources: dict[str, Any] = {
            "type": compute,
            "maxvCpus": 16,
            "subnets": [self.subnet],
            "securityGroupIds": [self.security_group],
        }
        if compute in ("EC2", "SPOT"):
            resources.update(minvCpus=0, instanceRole=self.instance_profile, instanceTypes=["optimal"])
        env = self.batch.create_compute_environment(
            computeEnvironmentName=f"{name}-env",
            type="MANAGED",
            state="ENABLED",
            computeResources=resources,
            serviceRole=self.role,
        )
        self.batch.create_job_queue(
            jobQueueName=name,
            state=state,
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
        )
        return name

    def job_definition(self, name: str, *, fargate: bool = True) -> str:
        properties: dict[str, Any] = {
            "image": "apache/airflow:3.3.2",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            "executionRoleArn": self.role,
        }
        self.batch.register_job_definition(
            jobDefinitionName=name,
            type="container",
            platformCapabilities=["FARGATE" if fargate else "EC2"],
            containerProperties=properties,
        )
        return name

    # jobs ---------------------------------------------------------------------------------------------

    @staticmethod
    def _backend() -> Any:
        from moto.batch.models import batch_backends

        return batch_backends[ACCOUNT][REGION]

    def _job(self, job_id: str) -> Any:
        return self._backend()._jobs[job_id]

    def job_ids(self) -> list[str]:
        return list(self._backend()._jobs)

    def describe(self, job_id: str) -> dict[str, Any]:
        return dict(self._job(job_id).describe())

    def stopped(self, job_id: str) -> str | None:
        """The reason a CancelJob or TerminateJob gave, if one reached this job."""
        job = self._job(job_id)
        return job.job_stopped_reason if job.stop else None

    def move(self, job_id: str, status: str) -> None:
        self._job(job_id).status = status

    def run(self, job_id: str, lines: Iterable[str] = ()) -> None:
        """RUNNING, started now, with a log stream holding ``lines``."""
        job = self._job(job_id)
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        job._start_attempt()
        job.status = "RUNNING"
        now_ms = int(time.time() * 1000)
        backend = job._log_backend
        backend.ensure_log_group("/aws/batch/job")
        backend.ensure_log_stream("/aws/batch/job", job.log_stream_name)
        events = [{"timestamp": now_ms + i, "message": line} for i, line in enumerate(lines)]
        if events:
            backend.put_log_events("/aws/batch/job", job.log_stream_name, events)

    def succeed(self, job_id: str) -> None:
        job = self._job(job_id)
        if job.status != "RUNNING":
            self.run(job_id)
        job.exit_code = 0
        job._mark_stopped(success=True)

    def fail(self, job_id: str, reason: str, *, started: bool, exit_code: int | None = None) -> None:
        """FAILED with ``reason``; ``started`` says whether the container got to RUNNING first."""
        job = self._job(job_id)
        if started and job.status != "RUNNING":
            self.run(job_id)
        if not started:  # Batch leaves startedAt out; moto reports it, so put it at the epoch (0)
            job.job_started_at = datetime.fromtimestamp(0)
        job.exit_code = exit_code
        job.job_stopped_reason = reason
        job._mark_stopped(success=False)
        job.job_stopped_at = datetime.now() + timedelta(milliseconds=1)
        if job.latest_attempt is not None and exit_code is not None:
            # moto's full description drops the container's exit code; Batch keeps it on the attempt too
            job.latest_attempt["container"]["exitCode"] = exit_code

    def block(self, job_id: str, status_reason: str | None) -> None:
        """RUNNABLE and, when ``status_reason`` is given, blocking its queue for that reason (AWS Batch
        writes the reason into the job's statusReason; moto describes a stopped reason there)."""
        job = self._job(job_id)
        job.status = "RUNNABLE"
        job.job_stopped_reason = status_reason

    def cancel_for_wait_limit(self, job_id: str, reason: str) -> None:
        """What a job queue's jobStateTimeLimitActions does to a job blocked for ``reason`` too long."""
        job = self._job(job_id)
        job.job_started_at = datetime.fromtimestamp(0)  # never started (see fail())
        job.job_stopped_reason = f"Canceled by JobStateTimeLimit action due to reason: {reason}"
        job._mark_stopped(success=False)

    # job events ---------------------------------------------------------------------------------------

    def events_queue(self, *queues: str, name: str = "batch-router-job-events") -> str:
        """An SQS queue and the EventBridge rule that sends it the job events of ``queues``, as
        ``provision --events`` makes them (the local Batch's own maker); the queue's URL."""
        from batch_router.dev.local.job_events import make_events_queue

        session = boto3.Session(region_name=REGION)
        self.sqs = session.client("sqs", endpoint_url=self.endpoint_url)
        bridge = session.client("events", endpoint_url=self.endpoint_url)
        return make_events_queue(queues, batch=self.batch, sqs=self.sqs, events=bridge, name=name)

    def emit(self, job_id: str, *, queue_blocked: bool = False) -> None:
        """AWS Batch's state change event for the job's current status (EventBridge -> the rules), or
        with ``queue_blocked`` its "Batch Job Queue Blocked" event."""
        from batch_router.dev.local.job_events import emit

        emit(self._job(job_id), queue_blocked=queue_blocked)

    def forget(self, job_id: str) -> None:
        """Batch no longer knows the job, as after its retention period."""
        job = self._backend()._jobs.pop(job_id)
        job.job_queue.jobs.remove(job)
