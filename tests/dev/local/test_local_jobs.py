"""Jobs run as local processes: exit codes, environment, EKS overrides, logs, termination, timeouts."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from batch_router.dev.local.runtime import (
    DEPENDENCY_REASON,
    EXITED_REASON,
    START_FAILED_REASON,
    TIMEOUT_REASON,
)

Wait = Callable[..., dict[str, Any]]
Run = Callable[..., dict[str, Any]]
Messages = Callable[[Any, str], list[str]]

SLEEPER = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"


def _first_line(logs: Any, stream: str, messages: Messages, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            lines = messages(logs, stream)
        except logs.exceptions.ResourceNotFoundException:
            lines = []
        if lines:
            return lines[0]
        time.sleep(0.02)
    raise AssertionError(f"nothing logged to {stream} within {timeout}s")


def _submit_sleeper(batch: Any, **kwargs: Any) -> str:
    job_id: str = batch.submit_job(
        jobName="sleeper",
        jobQueue="local-fargate",
        jobDefinition="local-fargate-def",
        containerOverrides={"command": ["python", "-c", SLEEPER]},
        **kwargs,
    )["jobId"]
    return job_id


def _running_pid(batch: Any, logs: Any, job_id: str, wait_for: Wait, messages: Messages) -> int:
    job = wait_for(batch, job_id, ("RUNNING",))
    return int(_first_line(logs, job["container"]["logStreamName"], messages))


def test_a_job_that_exits_zero_succeeds(run_job: Run) -> None:
    job = run_job(["python", "-c", "print('hi')"])
    assert (job["status"], job["container"]["exitCode"], job["statusReason"]) == (
        "SUCCEEDED",
        0,
        EXITED_REASON,
    )


def test_a_jobs_output_is_in_cloudwatch_under_its_reported_stream(
    run_job: Run, logs: Any, messages: Messages
) -> None:
    job = run_job(["python", "-c", "import sys; print('hi'); print('to stderr', file=sys.stderr)"])
    assert messages(logs, job["container"]["logStreamName"]) == ["hi", "to stderr"]


def test_the_log_stream_follows_batchs_naming(run_job: Run) -> None:
    job = run_job(["true"])
    assert job["container"]["logStreamName"] == f"local-fargate-def/default/{job['jobId']}"


def test_output_reaches_cloudwatch_while_the_job_still_runs(
    batch: Any, logs: Any, wait_for: Wait, messages: Messages
) -> None:
    job_id = _submit_sleeper(batch)
    _running_pid(batch, logs, job_id, wait_for, messages)
    try:
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
    finally:
        batch.terminate_job(jobId=job_id, reason="test over")


def test_a_job_exiting_3_fails_with_exit_code_3(run_job: Run) -> None:
    job = run_job(["python", "-c", "raise SystemExit(3)"])
    assert (job["status"], job["container"]["exitCode"]) == ("FAILED", 3)


def test_the_attempt_records_the_exit_code_and_stream(run_job: Run) -> None:
    job = run_job(["python", "-c", "raise SystemExit(3)"])
    (attempt,) = job["attempts"]
    assert attempt["container"]["exitCode"] == 3
    assert attempt["container"]["logStreamName"] == job["container"]["logStreamName"]


def test_python_runs_with_the_local_batchs_interpreter(run_job: Run, logs: Any, messages: Messages) -> None:
    job = run_job(["python", "-c", "import sys; print(sys.executable)"])
    assert messages(logs, job["container"]["logStreamName"]) == [sys.executable]


def test_definition_environment_and_overrides_reach_the_process(
    batch: Any, run_job: Run, logs: Any, messages: Messages
) -> None:
    batch.register_job_definition(
        jobDefinitionName="env-def",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "local",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            "environment": [{"name": "FROM_DEF", "value": "def"}, {"name": "OVERRIDDEN", "value": "def"}],
        },
    )
    job = run_job(
        ["python", "-c", "import os; print(os.environ['FROM_DEF'], os.environ['OVERRIDDEN'])"],
        jobDefinition="env-def",
        containerOverrides={"environment": [{"name": "OVERRIDDEN", "value": "override"}]},
    )
    assert messages(logs, job["container"]["logStreamName"]) == ["def override"]


def test_batch_variables_reach_the_process(run_job: Run, logs: Any, messages: Messages) -> None:
    job = run_job(
        ["python", "-c", "import os; print(os.environ['AWS_BATCH_JOB_ID'], os.environ['AWS_BATCH_JQ_NAME'])"]
    )
    assert messages(logs, job["container"]["logStreamName"]) == [f"{job['jobId']} local-fargate"]


def test_jobs_see_the_local_batch_as_their_aws_endpoint(
    local_batch: Any, run_job: Run, logs: Any, messages: Messages
) -> None:
    job = run_job(["python", "-c", "import os; print(os.environ['AWS_ENDPOINT_URL'])"])
    assert messages(logs, job["container"]["logStreamName"]) == [local_batch.endpoint_url]


def test_an_eks_job_runs_its_override_command(
    batch: Any, wait_for: Wait, logs: Any, messages: Messages
) -> None:
    submitted = batch.submit_job(
        jobName="eks-job",
        jobQueue="local-eks",
        jobDefinition="local-eks-def",
        eksPropertiesOverride={
            "podProperties": {
                "containers": [
                    {
                        "command": ["python", "-c"],
                        "args": ["import os; print('eks', os.environ['GREETING'])"],
                        "env": [{"name": "GREETING", "value": "hello"}],
                    }
                ]
            }
        },
    )
    job = wait_for(batch, submitted["jobId"])
    assert job["status"] == "SUCCEEDED"
    assert messages(logs, job["container"]["logStreamName"]) == ["eks hello"]


def test_an_eks_job_reports_its_exit_code_like_batch_on_eks(batch: Any, wait_for: Wait) -> None:
    submitted = batch.submit_job(
        jobName="eks-fail",
        jobQueue="local-eks",
        jobDefinition="local-eks-def",
        eksPropertiesOverride={"podProperties": {"containers": [{"command": ["python", "-c", "exit(4)"]}]}},
    )
    job = wait_for(batch, submitted["jobId"])
    assert job["eksProperties"]["podProperties"]["containers"][0]["exitCode"] == 4
    assert job["eksAttempts"][0]["containers"][0]["exitCode"] == 4


def test_terminate_kills_a_sleeping_job_which_fails_with_the_reason(
    batch: Any, logs: Any, wait_for: Wait, messages: Messages, alive: Callable[[int], bool]
) -> None:
    job_id = _submit_sleeper(batch)
    pid = _running_pid(batch, logs, job_id, wait_for, messages)
    batch.terminate_job(jobId=job_id, reason="no longer needed")
    job = wait_for(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "no longer needed")
    assert not alive(pid)


def test_a_job_ignoring_sigterm_is_killed_after_the_grace_period(
    batch: Any, logs: Any, wait_for: Wait, messages: Messages, alive: Callable[[int], bool]
) -> None:
    code = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " print(os.getpid(), flush=True); time.sleep(60)"
    )
    job_id = batch.submit_job(
        jobName="stubborn",
        jobQueue="local-fargate",
        jobDefinition="local-fargate-def",
        containerOverrides={"command": ["python", "-c", code]},
    )["jobId"]
    pid = _running_pid(batch, logs, job_id, wait_for, messages)
    batch.terminate_job(jobId=job_id, reason="stop")
    job = wait_for(batch, job_id)
    assert job["container"]["exitCode"] == 128 + 9
    assert not alive(pid)


def test_what_a_job_leaves_running_dies_when_it_exits(
    run_job: Run, logs: Any, messages: Messages, alive: Callable[[int], bool]
) -> None:
    code = "import subprocess; print(subprocess.Popen(['sleep', '60']).pid)"
    job = run_job(["python", "-c", code])
    (pid,) = messages(logs, job["container"]["logStreamName"])
    time.sleep(0.1)  # the orphan is reaped by init
    assert (job["status"], alive(int(pid))) == ("SUCCEEDED", False)


def test_cancel_leaves_a_running_job_running_like_batch(
    batch: Any, logs: Any, wait_for: Wait, messages: Messages
) -> None:
    job_id = _submit_sleeper(batch)
    _running_pid(batch, logs, job_id, wait_for, messages)
    try:
        batch.cancel_job(jobId=job_id, reason="too late")
        time.sleep(0.3)
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
    finally:
        batch.terminate_job(jobId=job_id, reason="test over")


def test_terminating_a_finished_job_changes_nothing(batch: Any, run_job: Run) -> None:
    job = run_job(["true"])
    batch.terminate_job(jobId=job["jobId"], reason="too late")
    again = batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]
    assert (again["status"], again["statusReason"]) == ("SUCCEEDED", EXITED_REASON)


def test_describing_a_job_twice_shows_the_same_environment(batch: Any, run_job: Run) -> None:
    job = run_job(["true"], containerOverrides={"environment": [{"name": "ONCE", "value": "1"}]})
    again = batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]
    assert again["container"]["environment"] == job["container"]["environment"]


def test_a_job_past_its_attempt_duration_is_killed_and_fails(batch: Any, wait_for: Wait) -> None:
    job_id = _submit_sleeper(batch, timeout={"attemptDurationSeconds": 1})
    job = wait_for(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", TIMEOUT_REASON)


def test_the_definitions_timeout_applies_when_the_submit_has_none(batch: Any, wait_for: Wait) -> None:
    batch.register_job_definition(
        jobDefinitionName="timeout-def",
        type="container",
        platformCapabilities=["FARGATE"],
        timeout={"attemptDurationSeconds": 1},
        containerProperties={
            "image": "local",
            "command": ["python", "-c", SLEEPER],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
        },
    )
    job_id = batch.submit_job(jobName="slow", jobQueue="local-fargate", jobDefinition="timeout-def")["jobId"]
    job = wait_for(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", TIMEOUT_REASON)


def test_a_job_whose_dependency_fails_fails_without_running(batch: Any, run_job: Run, wait_for: Wait) -> None:
    failed = run_job(["false"])
    job_id = batch.submit_job(
        jobName="dependent",
        jobQueue="local-fargate",
        jobDefinition="local-fargate-def",
        dependsOn=[{"jobId": failed["jobId"]}],
        containerOverrides={"command": ["true"]},
    )["jobId"]
    job = wait_for(batch, job_id)
    assert (job["status"], job["statusReason"], job["attempts"]) == ("FAILED", DEPENDENCY_REASON, [])


def test_a_job_with_no_command_fails_to_start(batch: Any, wait_for: Wait) -> None:
    job_id = batch.submit_job(jobName="no-cmd", jobQueue="local-fargate", jobDefinition="local-fargate-def")[
        "jobId"
    ]
    job = wait_for(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", START_FAILED_REASON)
    assert job["container"]["reason"].startswith("CannotStartContainerError")


@pytest.mark.parametrize("command", [["no-such-program-here"], ["./missing.sh"]])
def test_a_command_that_cannot_be_executed_fails_to_start(run_job: Run, command: list[str]) -> None:
    job = run_job(command)
    assert (job["status"], job["statusReason"]) == ("FAILED", START_FAILED_REASON)


def test_jobs_run_concurrently(batch: Any, wait_for: Wait) -> None:
    ids = [_submit_sleeper(batch) for _ in range(3)]
    try:
        for job_id in ids:
            wait_for(batch, job_id, ("RUNNING",))
    finally:
        for job_id in ids:
            batch.terminate_job(jobId=job_id, reason="test over")


def test_a_job_does_not_see_the_servers_own_aws_credentials(
    monkeypatch: pytest.MonkeyPatch, run_job: Run, logs: Any, messages: Messages
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "the-users-real-session")
    monkeypatch.setenv("AWS_PROFILE", "production-admin")
    script = "import os; print(os.environ.get('AWS_SESSION_TOKEN'), os.environ.get('AWS_PROFILE'))"

    job = run_job(["python", "-c", script])

    assert messages(logs, job["container"]["logStreamName"]) == ["None None"]
