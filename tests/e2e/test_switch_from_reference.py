"""Switching executors with a task in flight: AwsBatchExecutor submitted its job, its scheduler dies,
and a scheduler with batch-router on the very same options takes over.

The reference records a try's Batch job id as its ``external_executor_id``; batch-router's adoption
describes that id, finds the job and follows it to its end, so the task finishes in its first try with
the one job the reference made, and no second job is submitted for it.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batch_router import examples
from batch_router.dev.airflow_stack import AirflowStack
from batch_router.dev.demo import EXECUTOR
from batch_router.dev.local.clients import local_batch_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REFERENCE = "airflow.providers.amazon.aws.executors.batch.AwsBatchExecutor"
DAGS = Path(__file__).parent / "switch_dags"
QUEUE, DEFINITION = "airflow-fargate", "airflow-worker-fargate"  # the example table's fargate-small
SEED_OPTIONS = {
    "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_QUEUE": QUEUE,
    "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_DEFINITION": DEFINITION,
    "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_NAME": "airflow-task",
    "AIRFLOW__AWS_BATCH_EXECUTOR__REGION_NAME": "us-east-1",
    "AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_JOB_KWARGS": (
        '{"tags": {"team": "data"}, "containerOverrides": {"environment": '
        '[{"name": "STAGE", "value": "prod"}, {"name": "KEEP", "value": "1"}]}}'
    ),
}
STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class Switched:
    state: str
    seed_env_state: str  # e2e_seed_env's run, under batch-router after the switch
    ti: dict[str, Any]
    job_id_before: str  # the reference's job, as the TI's external_executor_id had it
    jobs: list[dict[str, Any]]  # every job in the queue at the end
    scheduler_log: str


def batch_jobs(stack: AirflowStack) -> list[dict[str, Any]]:
    client = local_batch_client(stack.batch_env)
    ids = [job_id for status in STATUSES for job_id in client.list_job_ids(QUEUE, status)]
    return client.describe_jobs(ids) if ids else []


def external_executor_id(stack: AirflowStack) -> str | None:
    with sqlite3.connect(f"file:{stack.home / 'airflow.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT external_executor_id FROM task_instance WHERE dag_id = 'e2e_switch'"
        ).fetchone()
    return row[0] if row else None


def wait_for(what: str, check: Any, stack: AirflowStack, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"never: {what}"
        stack.check_running()
        time.sleep(0.5)


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switched]:
    home = tmp_path_factory.mktemp("airflow-home")
    dags = tmp_path_factory.mktemp("dags")
    for source in DAGS.glob("*.py"):
        shutil.copy(source, dags / source.name)
    env = {"AIRFLOW__CORE__EXECUTOR": REFERENCE, **SEED_OPTIONS}
    # Only the seed's options (no JOB_EVENTS_QUEUE): batch-router follows the jobs by DescribeJobs alone.
    stack = AirflowStack(home=home, dags_folder=dags, executor=REFERENCE, extra_env=env, job_events=False)
    try:
        stack.start_on_local_batch(examples.ROUTES_FILE)
        stack.wait_dag("e2e_switch")
        run_id = stack.run_dag("e2e_switch")
        running = wait_for(
            "the reference's job running",
            lambda: [j for j in batch_jobs(stack) if j["status"] == "RUNNING"],
            stack,
        )
        job_id = running[0]["jobId"]
        wait_for(
            "the job id recorded on the task instance", lambda: external_executor_id(stack) == job_id, stack
        )

        stack.kill_component("scheduler")  # the reference's scheduler dies with its task in flight
        stack.env["AIRFLOW__CORE__EXECUTOR"] = EXECUTOR  # the one line that changes
        stack.start_component("scheduler")
        log = stack.log_path("scheduler")
        wait_for(
            "batch-router adopting the job", lambda: "found the job of 1 adopted" in log.read_text(), stack
        )
        (dags / "e2e_switch.release").touch()
        state = stack.wait_run("e2e_switch", run_id, timeout=180)
        [ti] = stack.api.task_instances("e2e_switch", run_id)
        jobs = wait_for(  # the task reports success before its process (and so its job) has ended
            "the job ended",
            lambda: (
                (found := batch_jobs(stack))
                and all(j["status"] in ("SUCCEEDED", "FAILED") for j in found)
                and found
            ),
            stack,
        )
        stack.wait_dag("e2e_seed_env")
        seed_env_state = stack.wait_run("e2e_seed_env", stack.run_dag("e2e_seed_env"), timeout=180)
        yield Switched(state, seed_env_state, ti, job_id, jobs, log.read_text())
    finally:
        (dags / "e2e_switch.release").unlink(missing_ok=True)
        leftovers = stack.stop()
    assert leftovers == {}, f"processes outlived the stack: {leftovers}"


def test_the_run_succeeds_after_the_switch(switched: Switched) -> None:
    assert (switched.state, switched.ti["state"]) == ("success", "success")


def test_the_task_finishes_in_its_first_try(switched: Switched) -> None:
    assert switched.ti["try_number"] == 1


def test_the_references_job_is_the_only_job_and_it_ran_to_its_end(switched: Switched) -> None:
    assert [(job["jobId"], job["status"]) for job in switched.jobs] == [(switched.job_id_before, "SUCCEEDED")]


def test_batch_router_started_with_the_seed_contract_and_adopted_the_job(switched: Switched) -> None:
    assert "no route table: executor_config may change any SubmitJob argument" in switched.scheduler_log
    assert "found the job of 1 adopted task(s)" in switched.scheduler_log


def test_a_tasks_variable_overrides_submit_job_kwargs_in_the_job_it_runs_in(switched: Switched) -> None:
    assert switched.seed_env_state == "success"  # the task itself checks STAGE=dev and KEEP=1
