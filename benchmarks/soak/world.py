"""The soak's AWS Batch: moto in-process, with jobs that live a little and end as each task's plan says.

moto would run each job in Docker (absent here); instead ``JobDriver.step()`` moves every job along on
the soak's own clock: SUBMITTED, RUNNING after ``run_after`` seconds, then SUCCEEDED or FAILED (exit 1)
after ``finish_after`` more, or FAILED before it started (CannotPullContainerError) for the tasks planned
to lose their first job. A job CancelJob or TerminateJob reached ends FAILED. Every job that reaches
RUNNING is counted per task: two for one task is a duplicate, the thing the executor must never make.

DescribeJobs looks jobs up by id, as AWS does; moto scans every job it has ever seen, which makes each
call slower with every task and races with the driver's changes.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

__all__ = ["JobDriver", "outcome_of", "set_up_batch"]

ACCOUNT, REGION = "123456789012", "us-east-1"
SUCCEED, FAIL, DIE_FIRST = "succeed", "fail", "die first"
PULL_ERROR = "CannotPullContainerError: pull access denied (injected by the soak)"


def outcome_of(task_id: str, seed: int) -> str:
    """80 % succeed, 12 % fail after starting, 8 % lose their first job before it starts, then succeed."""
    roll = int(hashlib.sha256(f"{seed}:{task_id}".encode()).hexdigest()[:8], 16) % 100
    return FAIL if roll < 12 else DIE_FIRST if roll < 20 else SUCCEED


def set_up_batch(queue: str, job_definition: str) -> None:
    """One Fargate queue and job definition, made the way a user makes them; DescribeJobs by id."""
    from moto.batch.models import BatchBackend, Job

    Job.start = lambda self: None  # type: ignore[method-assign]  # no Docker: the driver moves jobs

    def describe_jobs(self: Any, jobs: list[str] | None) -> list[dict[str, Any]]:
        found = (self._jobs.get(job_id) for job_id in dict.fromkeys(jobs or []))
        return [job.describe() for job in found if job is not None]

    BatchBackend.describe_jobs = describe_jobs  # type: ignore[method-assign]
    session = boto3.Session(region_name=REGION)
    iam, ec2, batch = (session.client(name) for name in ("iam", "ec2", "batch"))
    role = iam.create_role(RoleName="soak", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="soak", Description="soak", VpcId=vpc)["GroupId"]
    env = batch.create_compute_environment(
        computeEnvironmentName="soak-env",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "FARGATE",
            "maxvCpus": 4096,
            "subnets": [subnet],
            "securityGroupIds": [group],
        },
        serviceRole=role,
    )
    batch.create_job_queue(
        jobQueueName=queue,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )
    batch.register_job_definition(
        jobDefinitionName=job_definition,
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "apache/airflow:3.3.2",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            "executionRoleArn": role,
        },
    )


@dataclass
class JobDriver:
    seed: int
    run_after: float = 1.0
    finish_after: float = 2.0
    seen: dict[str, float] = field(default_factory=dict)  # job id -> when the driver first saw it
    started: dict[str, float] = field(default_factory=dict)
    ran: Counter[str] = field(default_factory=Counter)  # task id -> jobs that reached RUNNING
    died: set[str] = field(default_factory=set)  # tasks whose first job the driver failed before start
    jobs_by_task: Counter[str] = field(default_factory=Counter)
    task_of: dict[str, str] = field(default_factory=dict)  # job id -> task id (from its tags)

    @staticmethod
    def _backend() -> Any:
        from moto.batch.models import batch_backends

        return batch_backends[ACCOUNT][REGION]

    def step(self, now: float) -> None:
        for job_id, job in list(self._backend()._jobs.items()):
            if job.status in ("SUCCEEDED", "FAILED"):
                continue
            if job_id not in self.seen:
                self.seen[job_id] = now
                self.task_of[job_id] = self._tagged_task(job)
                self.jobs_by_task[self.task_of[job_id]] += 1
            if job.stop:
                self._end(job, success=False, exit_code=None, started=job_id in self.started)
            elif job_id not in self.started and now - self.seen[job_id] >= self.run_after:
                self._start_or_die(job_id, job, now)
            elif job_id in self.started and now - self.started[job_id] >= self.finish_after:
                success = outcome_of(self._task(job), self.seed) != FAIL
                self._end(job, success=success, exit_code=0 if success else 1, started=True)

    def _tagged_task(self, job: Any) -> str:
        tags = self._backend().list_tags_for_resource(job.arn)
        return str(tags.get("airflow:task_id", job.job_name))

    def _task(self, job: Any) -> str:
        return self.task_of[job.job_id]

    def _start_or_die(self, job_id: str, job: Any, now: float) -> None:
        task = self._task(job)
        if outcome_of(task, self.seed) == DIE_FIRST and task not in self.died:
            self.died.add(task)
            job.job_started_at = datetime.datetime.fromtimestamp(0)  # Batch leaves startedAt out
            job.job_stopped_reason = PULL_ERROR
            job._mark_stopped(success=False)
            return
        self.started[job_id] = now
        self.ran[task] += 1
        job.job_started_at = datetime.datetime.now()
        job.log_stream_name = job._stream_name
        job._start_attempt()
        job.status = "RUNNING"

    @staticmethod
    def _end(job: Any, *, success: bool, exit_code: int | None, started: bool) -> None:
        if not started:
            job.job_started_at = datetime.datetime.fromtimestamp(0)
        job.exit_code = exit_code
        if not success and not job.job_stopped_reason:
            job.job_stopped_reason = "Essential container in task exited"
        job._mark_stopped(success=success)
        if job.latest_attempt is not None and exit_code is not None:
            job.latest_attempt["container"]["exitCode"] = exit_code

    def jobs_of(self, task: str) -> list[dict[str, Any]]:
        """What the driver knows of each job of ``task``: for a report on a duplicate."""
        backend = self._backend()
        return [
            {
                "job_id": job_id,
                "status": backend._jobs[job_id].status,
                "ran": job_id in self.started,
                "try_id": backend.list_tags_for_resource(backend._jobs[job_id].arn).get(
                    "batch-router:try-id"
                ),
                "stopped_reason": backend._jobs[job_id].job_stopped_reason,
            }
            for job_id, of in self.task_of.items()
            if of == task
        ]

    def duplicates(self) -> list[str]:
        return sorted(task for task, runs in self.ran.items() if runs > 1)
