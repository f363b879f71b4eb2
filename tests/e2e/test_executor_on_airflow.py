"""BatchRouterExecutor in a real Airflow 3.3 (API server, DAG processor, scheduler) on the local Batch.

One stack serves the whole module (starting it is the slow part); each scenario's DAG is copied into
its DAG folder up front and run once by a module-scoped fixture, and the tests read that run from
Airflow's REST API and from Batch. Runs that need no help from the test are started together; the
terminate and scheduler-crash scenarios act on their own runs, the crash last because it replaces the
scheduler.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batch_router import examples
from batch_router.config.routes import read_route_file
from batch_router.dev.airflow_stack import AirflowStack
from batch_router.dev.demo import (
    EXECUTOR,
    BatchJob,
    executor_env,
    list_batch_jobs,
    wait_batch_jobs_ended,
)
from batch_router.dev.local.clients import local_batch_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TEST_DAGS = Path(__file__).parent / "dags"
TABLE = read_route_file(examples.ROUTES_FILE)
QUEUES = [route.job_queue for route in TABLE.routes]
RUN_TIMEOUT = 240.0
TERMINATE_REASON = "terminated by the e2e test"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    home = tmp_path_factory.mktemp("airflow-home")
    dags = tmp_path_factory.mktemp("dags")
    for source in [*TEST_DAGS.glob("*.py"), examples.DAGS_DIR / "batch_router_demo.py"]:
        shutil.copy(source, dags / source.name)
    stack = AirflowStack(
        home=home, dags_folder=dags, executor=EXECUTOR, extra_env=executor_env(examples.ROUTES_FILE)
    )
    try:
        stack.start_on_local_batch(examples.ROUTES_FILE)
        yield stack
    finally:
        leftovers = stack.stop()
    assert leftovers == {}, f"processes outlived the stack: {leftovers}"


@dataclass(frozen=True)
class FinishedRun:
    """A DAG run that has ended, as Airflow and Batch saw it."""

    dag_id: str
    run_id: str
    state: str
    task_instances: dict[str, dict[str, Any]]
    jobs: list[BatchJob]

    def jobs_of(self, task_id: str) -> list[BatchJob]:
        return sorted((j for j in self.jobs if j.task_id == task_id), key=lambda j: j.try_number or 0)

    def task_states(self) -> dict[str, str | None]:
        return {task_id: ti["state"] for task_id, ti in self.task_instances.items()}


def finish(stack: AirflowStack, dag_id: str, run_id: str) -> FinishedRun:
    state = stack.wait_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    client = local_batch_client(stack.batch_env)
    wait_batch_jobs_ended(client, QUEUES, dag_id, run_id, timeout=60)
    jobs = [job for job in list_batch_jobs(client, QUEUES, dag_id) if job.run_id == run_id]
    tis = {ti["task_id"]: ti for ti in stack.api.task_instances(dag_id, run_id)}
    return FinishedRun(dag_id, run_id, state, tis, jobs)


def start_run(stack: AirflowStack, dag_id: str) -> str:
    stack.wait_dag(dag_id)
    return stack.run_dag(dag_id)


def wait_for_jobs(
    stack: AirflowStack,
    dag_id: str,
    run_id: str,
    ready: Callable[[list[BatchJob]], bool],
    timeout: float = 120.0,
) -> list[BatchJob]:
    """Poll Batch until the run's jobs satisfy ``ready``."""
    client = local_batch_client(stack.batch_env)
    deadline = time.monotonic() + timeout
    while True:
        jobs = [job for job in list_batch_jobs(client, QUEUES, dag_id) if job.run_id == run_id]
        if ready(jobs):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError(f"Batch jobs of {dag_id} never got ready: {jobs}")
        stack.check_running()
        time.sleep(0.5)


def event_texts(stack: AirflowStack, run: FinishedRun, task_id: str) -> str:
    """Everything Airflow recorded about a task for people to read: event log entries and its note."""
    events = stack.api.event_logs(dag_id=run.dag_id, task_id=task_id, run_id=run.run_id)
    parts = [f"{e['event']}: {e.get('extra') or ''}" for e in events]
    parts.append(run.task_instances[task_id].get("note") or "")
    return "\n".join(parts)


# DAGs whose runs need nothing from the test while they run: started together, so they overlap.
UNATTENDED_DAGS = ("batch_router_demo", "e2e_retry", "e2e_bad_config")


@pytest.fixture(scope="module")
def unattended_runs(stack: AirflowStack) -> dict[str, str]:
    return {dag_id: start_run(stack, dag_id) for dag_id in UNATTENDED_DAGS}


# ---------------------------------------------------------------- the example DAG

EXPECTED_ROUTES = {
    "small": "fargate-small",
    "train_on_gpu": "ec2-gpu",
    "on_eks": "eks-general",
    "heavy_report": "ec2-large",
}


@pytest.fixture(scope="module")
def example_run(stack: AirflowStack, unattended_runs: dict[str, str]) -> FinishedRun:
    return finish(stack, "batch_router_demo", unattended_runs["batch_router_demo"])


def test_example_dag_run_succeeds(example_run: FinishedRun) -> None:
    assert example_run.state == "success"
    assert example_run.task_states() == dict.fromkeys(EXPECTED_ROUTES, "success")


def test_each_example_task_runs_as_one_batch_job_on_its_expected_route(example_run: FinishedRun) -> None:
    routes = {job.task_id: job.route for job in example_run.jobs}
    assert routes == EXPECTED_ROUTES
    assert len(example_run.jobs) == len(EXPECTED_ROUTES)


def test_each_example_job_ran_in_its_routes_queue_and_succeeded(example_run: FinishedRun) -> None:
    expected = {}
    for task_id, route_name in EXPECTED_ROUTES.items():
        route = TABLE.get(route_name)
        assert route is not None
        expected[task_id] = (route.job_queue, "SUCCEEDED")
    assert {job.task_id: (job.job_queue, job.status) for job in example_run.jobs} == expected


# ---------------------------------------------------------------- a task that raises


@pytest.fixture(scope="module")
def retry_run(stack: AirflowStack, unattended_runs: dict[str, str]) -> FinishedRun:
    return finish(stack, "e2e_retry", unattended_runs["e2e_retry"])


def test_task_that_raises_ends_failed_after_using_its_retry(retry_run: FinishedRun) -> None:
    ti = retry_run.task_instances["always_fails"]
    assert (retry_run.state, ti["state"], ti["try_number"]) == ("failed", "failed", 2)


def test_each_try_of_a_failing_task_is_its_own_batch_job(retry_run: FinishedRun) -> None:
    # Only the tries are checked: the task process reports the failure to Airflow itself and then
    # exits 0, so Batch may well call the job SUCCEEDED.
    jobs = retry_run.jobs_of("always_fails")
    assert [job.try_number for job in jobs] == [1, 2]
    assert len({job.job_id for job in jobs}) == 2


# ---------------------------------------------------------------- a job terminated in Batch


@pytest.fixture(scope="module")
def terminated_run(stack: AirflowStack) -> FinishedRun:
    run_id = start_run(stack, "e2e_terminate")
    running = wait_for_jobs(
        stack, "e2e_terminate", run_id, lambda jobs: any(j.status == "RUNNING" for j in jobs)
    )
    # Terminate while the task itself runs (sleeps), not while its process is still starting up.
    deadline = time.monotonic() + 120
    while stack.api.task_instance("e2e_terminate", run_id, "sleeps")["state"] != "running":
        assert time.monotonic() < deadline, "the task never started running"
        stack.check_running()
        time.sleep(0.5)
    client = local_batch_client(stack.batch_env)
    for job in running:
        client.terminate_job(job.job_id, TERMINATE_REASON)
    return finish(stack, "e2e_terminate", run_id)


def test_task_whose_job_is_terminated_ends_failed(terminated_run: FinishedRun) -> None:
    assert (terminated_run.state, terminated_run.task_states()) == ("failed", {"sleeps": "failed"})
    assert [job.status for job in terminated_run.jobs_of("sleeps")] == ["FAILED"]


def test_termination_reason_is_visible_in_airflow(stack: AirflowStack, terminated_run: FinishedRun) -> None:
    # The task process may record its own failure (it gets SIGTERM) before the executor's next poll
    # sees the FAILED job, so the executor's event with the reason can land a few seconds after the run.
    deadline = time.monotonic() + 30
    texts = event_texts(stack, terminated_run, "sleeps")
    while TERMINATE_REASON not in texts and time.monotonic() < deadline:
        time.sleep(0.5)
        texts = event_texts(stack, terminated_run, "sleeps")
    assert TERMINATE_REASON in texts


# ---------------------------------------------------------------- an invalid exec_config


@pytest.fixture(scope="module")
def bad_config_run(stack: AirflowStack, unattended_runs: dict[str, str]) -> FinishedRun:
    return finish(stack, "e2e_bad_config", unattended_runs["e2e_bad_config"])


def test_invalid_exec_config_fails_only_its_own_task(bad_config_run: FinishedRun) -> None:
    assert bad_config_run.task_states() == {
        "misconfigured": "failed",
        "fine_one": "success",
        "fine_two": "success",
    }


def test_task_with_invalid_exec_config_never_reaches_batch(bad_config_run: FinishedRun) -> None:
    assert bad_config_run.jobs_of("misconfigured") == []
    assert {job.task_id for job in bad_config_run.jobs} == {"fine_one", "fine_two"}


def test_invalid_exec_config_reason_names_the_bad_key(
    stack: AirflowStack, bad_config_run: FinishedRun
) -> None:
    assert "containerOverride" in event_texts(stack, bad_config_run, "misconfigured")


def test_the_refused_tasks_log_pane_says_why_instead_of_that_its_logs_cannot_be_read(
    stack: AirflowStack, bad_config_run: FinishedRun
) -> None:
    ti = bad_config_run.task_instances["misconfigured"]

    pane = "\n".join(
        stack.api.task_log(bad_config_run.dag_id, bad_config_run.run_id, "misconfigured", ti["try_number"])
    )

    assert "containerOverride" in pane and "batch-router" in pane
    assert "Hostname not available" not in pane


# ---------------------------------------------------------------- the scheduler dies mid-run


def running_scheduler_job_ids(stack: AirflowStack) -> set[int]:
    return {job["id"] for job in stack.api.jobs(job_type="SchedulerJob", job_state="running")}


@pytest.fixture(scope="module")
def adopted_run(stack: AirflowStack) -> Iterator[FinishedRun]:
    release = stack.dags_folder / "e2e_adopt.release"
    run_id = start_run(stack, "e2e_adopt")
    wait_for_jobs(
        stack, "e2e_adopt", run_id, lambda jobs: len(jobs) == 2 and all(j.status == "RUNNING" for j in jobs)
    )
    killed = running_scheduler_job_ids(stack)
    stack.kill_component("scheduler")
    stack.start_component("scheduler")
    # The new scheduler marks the dead one failed in the same transaction in which it adopts its tasks.
    deadline = time.monotonic() + 120
    while killed & running_scheduler_job_ids(stack):
        assert time.monotonic() < deadline, "the new scheduler never took over from the killed one"
        stack.check_running()
        time.sleep(0.5)
    release.touch()
    try:
        yield finish(stack, "e2e_adopt", run_id)
    finally:
        release.unlink(missing_ok=True)


def test_run_finishes_after_its_scheduler_was_killed_and_replaced(adopted_run: FinishedRun) -> None:
    assert (adopted_run.state, adopted_run.task_states()) == (
        "success",
        {"first": "success", "second": "success"},
    )


def test_adopted_tasks_finish_in_their_first_try(adopted_run: FinishedRun) -> None:
    assert {task_id: ti["try_number"] for task_id, ti in adopted_run.task_instances.items()} == {
        "first": 1,
        "second": 1,
    }


def test_adopted_tasks_ran_exactly_once_in_batch(adopted_run: FinishedRun) -> None:
    tries = sorted((job.task_id, job.try_number, job.status) for job in adopted_run.jobs)
    assert tries == [("first", 1, "SUCCEEDED"), ("second", 1, "SUCCEEDED")]
