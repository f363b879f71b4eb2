"""Jobs AWS Batch would block their queue with, on the real Airflow stack and the local Batch.

``undersized``: the route's caps allow 4 vCPUs, its compute environments may run 2 (a platform's
mis-sizing). The local Batch blocks the job with AWS's MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE,
which waiting cannot end, so the executor fails the try at once, cancels the job, and says why in the
task's event log and log pane. ``held``: the local Batch holds the queue's capacity (as if EC2 had no
instances), so the job waits with CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY and the queued task's log
pane says so. ``managed``: an ECS Managed Instances route, whose job the executor sends as an ECS task
(``ecsPropertiesOverride``) and the local Batch runs like AWS's, to the task's success.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from batch_router.dev.airflow_stack import AirflowStack
from batch_router.dev.demo import EXECUTOR, executor_env, wait_batch_jobs_ended
from batch_router.dev.local.clients import local_batch_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DAGS = Path(__file__).parent / "waiting_dags"
REASON = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
CAPACITY = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
QUEUE, HELD_QUEUE, MANAGED_QUEUE = "airflow-undersized", "airflow-held", "airflow-mi"
ROUTES = {
    "version": 1,
    "routes": [
        {
            "name": "undersized",
            "compute": "fargate",
            "job_queue": QUEUE,
            "job_definition": "airflow-worker-fargate",
            "max_vcpu": 8,
            "max_memory_mib": 16384,
            "provision": {"max_vcpus": 2},
        },
        {
            "name": "held",
            "compute": "fargate",
            "job_queue": HELD_QUEUE,
            "job_definition": "airflow-worker-fargate",
        },
        {
            "name": "managed",
            "compute": "ecs-managed-instances",
            "job_queue": MANAGED_QUEUE,
            "job_definition": "airflow-worker-mi",
        },
    ],
}


@dataclass(frozen=True)
class Waited:
    state: str
    ti: dict[str, Any]
    events: list[dict[str, Any]]
    log_pane: list[str]
    jobs: list[dict[str, Any]]
    held_ti: dict[str, Any]
    held_event: dict[str, Any]
    held_log_pane: list[str]
    managed_state: str
    managed_jobs: list[dict[str, Any]]


@pytest.fixture(scope="module")
def waited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Waited]:
    home = tmp_path_factory.mktemp("airflow-home")
    dags = tmp_path_factory.mktemp("dags")
    for source in DAGS.glob("*.py"):
        shutil.copy(source, dags / source.name)
    routes = tmp_path_factory.mktemp("routes") / "routes.yaml"
    routes.write_text(yaml.safe_dump(ROUTES))
    stack = AirflowStack(home=home, dags_folder=dags, executor=EXECUTOR, extra_env=executor_env(routes))
    try:
        stack.start_on_local_batch(routes, held=[HELD_QUEUE])
        stack.wait_dag("e2e_waiting")
        stack.wait_dag("e2e_held")
        stack.wait_dag("e2e_managed")
        run_id = stack.run_dag("e2e_waiting")
        held_run = stack.run_dag("e2e_held")
        managed_run = stack.run_dag("e2e_managed")
        state = stack.wait_run("e2e_waiting", run_id, timeout=240)
        held_event = _wait_event(stack, "e2e_held", held_run, "batch-router: job waiting")
        held_ti = stack.api.task_instance("e2e_held", held_run, "waits")
        held_log_pane = stack.api.task_log("e2e_held", held_run, "waits", int(held_ti["try_number"]))
        ti = stack.api.task_instance("e2e_waiting", run_id, "too_big")
        events = stack.api.event_logs(dag_id="e2e_waiting", task_id="too_big", run_id=run_id)
        log_pane = stack.api.task_log("e2e_waiting", run_id, "too_big", int(ti["try_number"]))
        managed_state = stack.wait_run("e2e_managed", managed_run, timeout=240)
        client = local_batch_client(stack.batch_env)
        # Airflow hears of the task's end before its job ends in Batch (the task reports its success
        # itself; the cancel of the job that can never run is sent after the try failed).
        wait_batch_jobs_ended(client, [MANAGED_QUEUE], "e2e_managed", managed_run, timeout=60)
        wait_batch_jobs_ended(client, [QUEUE], "e2e_waiting", run_id, timeout=60)
        jobs, managed_jobs = (_jobs(client, queue) for queue in (QUEUE, MANAGED_QUEUE))
        yield Waited(
            state, ti, events, log_pane, jobs, held_ti, held_event, held_log_pane, managed_state, managed_jobs
        )
    finally:
        leftovers = stack.stop()
    assert leftovers == {}, f"processes outlived the stack: {leftovers}"


def _jobs(client: Any, queue: str) -> list[dict[str, Any]]:
    statuses = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
    ids = [i for status in statuses for i in client.list_job_ids(queue, status)]
    return client.describe_jobs(ids) if ids else []


def _wait_event(
    stack: AirflowStack, dag_id: str, run_id: str, event: str, timeout: float = 180.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in stack.api.event_logs(dag_id=dag_id, run_id=run_id) if e["event"] == event]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {event!r} event for {dag_id} within {timeout}s"
        stack.check_running()
        time.sleep(1.0)


def test_the_task_fails_in_its_first_try_instead_of_waiting_queued(waited: Waited) -> None:
    assert (waited.state, waited.ti["state"], waited.ti["try_number"]) == ("failed", "failed", 1)


def test_its_event_log_names_awss_reason_and_what_to_change(waited: Waited) -> None:
    (cannot_run,) = [e for e in waited.events if e["event"] == "batch-router: job cannot run"]

    assert REASON in cannot_run["extra"] and "max_vcpu" in cannot_run["extra"]


def test_its_log_pane_says_why_though_the_task_never_ran(waited: Waited) -> None:
    pane = "\n".join(waited.log_pane)

    assert REASON in pane and "cancelled the job" in pane
    assert "Hostname not available" not in pane


def test_its_job_was_cancelled_and_nothing_else_was_submitted(waited: Waited) -> None:
    (job,) = waited.jobs

    assert job["status"] == "FAILED" and REASON in job["statusReason"]


def test_a_task_whose_job_waits_for_capacity_stays_queued_and_its_log_pane_says_why(waited: Waited) -> None:
    pane = "\n".join(waited.held_log_pane)

    assert waited.held_ti["state"] == "queued"
    assert CAPACITY in waited.held_event["extra"] and "waits in RUNNABLE" in waited.held_event["extra"]
    assert CAPACITY in pane and "waits in RUNNABLE" in pane


def test_a_task_on_an_ecs_managed_instances_route_runs_as_an_ecs_task_and_succeeds(waited: Waited) -> None:
    (job,) = waited.managed_jobs

    assert waited.managed_state == "success"
    assert job["status"] == "SUCCEEDED" and "container" not in job
    (container,) = job["ecsProperties"]["taskProperties"][0]["containers"]
    assert container["exitCode"] == 0
    assert container["logStreamName"]  # the task container's own stream, where its log is read
