"""The pieces the demo and the end-to-end tests stand on: environment, process groups, the closing table.

These need no Airflow process and take well under a second each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_router import examples
from batch_router.config.routes import read_route_file
from batch_router.dev.airflow_stack import Component, airflow_env, parse_exports, stop_components
from batch_router.dev.demo import (
    BatchJob,
    all_succeeded,
    batch_job_from_description,
    latest_job_per_task,
    render_table,
    summary_rows,
)
from batch_router.dev.processes import live_group_members, processes_with_env

pytestmark = pytest.mark.e2e

needs_proc = pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds processes through /proc")

TABLE = read_route_file(examples.ROUTES_FILE)


def make_env(**overrides: Any) -> dict[str, str]:
    kwargs: dict[str, Any] = {
        "home": Path("home"),
        "dags_folder": Path("dags"),
        "port": 8123,
        "executor": "LocalExecutor",
        "jwt_secret": "s" * 64,
        "log_server_port": 8124,
        "base": {"PATH": "/bin", "AIRFLOW__CORE__UNIT_TEST_MODE": "True", "AWS_PROFILE": "prod"},
    }
    kwargs.update(overrides)
    return airflow_env(**kwargs)


def test_stack_env_drops_the_callers_airflow_and_aws_settings() -> None:
    env = make_env()
    assert ("AIRFLOW__CORE__UNIT_TEST_MODE" in env, "AWS_PROFILE" in env, env["PATH"]) == (
        False,
        False,
        "/bin",
    )


def test_stack_env_points_task_processes_at_the_execution_api() -> None:
    assert (
        make_env(port=9001)["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9001/execution/"
    )


def test_stack_env_shares_one_jwt_secret_between_api_and_workers() -> None:
    env = make_env(jwt_secret="x" * 70)
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "x" * 70


def test_stack_env_extra_settings_win_over_the_stacks_own() -> None:
    env = make_env(extra={"AIRFLOW__CORE__EXECUTOR": "batch_router.executor.BatchRouterExecutor"})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "batch_router.executor.BatchRouterExecutor"


def test_stack_env_keeps_the_metadata_in_sqlite_in_its_home_by_default() -> None:
    assert make_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{Path('home') / 'airflow.db'}"


def test_stack_env_uses_the_database_it_is_given() -> None:
    url = "postgresql+psycopg2://postgres@/airflow?host=/run/pg"
    assert make_env(database_url=url)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == url


def test_parse_exports_reads_shell_quoted_values() -> None:
    text = 'Listening\nexport A=1\nexport B=\'{"x": "y z"}\'\n  export C=no\n'
    assert parse_exports(text) == {"A": "1", "B": '{"x": "y z"}'}


# ---------------------------------------------------------------- process groups


@pytest.fixture
def sleeper_group(tmp_path: Path) -> Iterator[Component]:
    """A process group of a shell and a child that ignores SIGTERM, like a stubborn task."""
    script = "trap '' TERM; sleep 60 & wait"
    log_path = tmp_path / "sleeper.log"
    log_file = log_path.open("w")
    env = {**os.environ, "BATCH_ROUTER_TEST_MARK": str(tmp_path)}
    process = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdout=log_file, env=env)
    component = Component("sleeper", process, log_path, log_file)
    deadline = time.monotonic() + 10
    while len(live_group_members(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    yield component
    if live_group_members(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    component.close_log()


def test_stop_components_kills_a_group_that_ignores_sigterm(sleeper_group: Component) -> None:
    leftovers = stop_components([sleeper_group], grace=0.5)
    assert (leftovers, live_group_members(sleeper_group.process.pid)) == ({}, [])


@needs_proc
def test_processes_with_env_finds_every_process_carrying_the_value(
    sleeper_group: Component, tmp_path: Path
) -> None:
    found = processes_with_env("BATCH_ROUTER_TEST_MARK", str(tmp_path))
    assert sorted(found) == sorted(live_group_members(sleeper_group.process.pid))


@needs_proc
def test_processes_with_env_ignores_other_values(sleeper_group: Component, tmp_path: Path) -> None:
    assert processes_with_env("BATCH_ROUTER_TEST_MARK", str(tmp_path / "other")) == []


def test_live_group_members_is_empty_once_the_group_is_gone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    process.wait()
    assert live_group_members(process.pid) == []


# ---------------------------------------------------------------- reading Batch and the closing table


def description(job_id: str, task_id: str, try_number: int, **extra: Any) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "jobName": f"airflow-task-demo-{task_id}-{try_number}",
        "status": "SUCCEEDED",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/airflow-gpu",
        "startedAt": 1_000,
        "stoppedAt": 3_500,
        "tags": {
            "airflow:dag_id": "demo",
            "airflow:task_id": task_id,
            "airflow:run_id": "run-1",
            "airflow:map_index": "-1",
            "airflow:try_number": str(try_number),
            "batch-router:route": "ec2-gpu",
        },
        **extra,
    }


def test_batch_job_reads_the_task_identity_from_its_tags() -> None:
    job = batch_job_from_description(description("j1", "train", 2))
    assert (job.dag_id, job.task_id, job.run_id, job.try_number, job.route) == (
        "demo",
        "train",
        "run-1",
        2,
        "ec2-gpu",
    )


def test_batch_job_names_its_queue_without_the_arn() -> None:
    assert batch_job_from_description(description("j1", "train", 1)).job_queue == "airflow-gpu"


def test_batch_job_duration_is_from_start_to_stop() -> None:
    assert batch_job_from_description(description("j1", "train", 1)).duration == 2.5


def test_batch_job_that_never_started_has_no_duration() -> None:
    raw = description("j1", "train", 1)
    del raw["startedAt"], raw["stoppedAt"]
    assert batch_job_from_description(raw).duration is None


def test_batch_job_without_tags_keeps_identity_unknown() -> None:
    job = batch_job_from_description({"jobId": "j9", "status": "RUNNING", "jobQueue": "q"})
    assert (job.task_id, job.route, job.try_number, job.map_index) == (None, None, None, -1)


def test_latest_job_per_task_takes_the_highest_try() -> None:
    jobs = [batch_job_from_description(description(f"j{n}", "train", n)) for n in (2, 3, 1)]
    assert latest_job_per_task(jobs, "run-1")["train"].job_id == "j3"


def test_latest_job_per_task_ignores_other_runs() -> None:
    other = description("j1", "train", 1)
    other["tags"]["airflow:run_id"] = "run-2"
    assert latest_job_per_task([batch_job_from_description(other)], "run-1") == {}


def ti(task_id: str, state: str) -> dict[str, Any]:
    return {"task_id": task_id, "map_index": -1, "state": state, "start_date": None}


def jobs_for(*task_ids: str, status: str = "SUCCEEDED") -> dict[str, BatchJob]:
    return {t: batch_job_from_description(description(f"id-{t}", t, 1, status=status)) for t in task_ids}


def test_summary_row_shows_route_compute_and_queue_from_batch() -> None:
    [row] = summary_rows([ti("train", "success")], jobs_for("train"), TABLE)
    assert (row.route, row.compute, row.job_queue, row.job_id, row.duration) == (
        "ec2-gpu",
        "ec2",
        "airflow-gpu",
        "id-train",
        "2.5s",
    )


def test_summary_row_of_a_task_without_a_job_shows_dashes() -> None:
    [row] = summary_rows([ti("never", "failed")], {}, TABLE)
    assert (row.route, row.job_id, row.batch_state, row.airflow_state) == ("-", "-", "-", "failed")


def test_rendered_table_starts_each_column_at_the_same_place_in_every_line() -> None:
    rows = summary_rows(
        [ti("a_much_longer_task_name", "failed"), ti("train", "success")], jobs_for("train"), TABLE
    )
    header, _, no_job, with_job = render_table(rows).splitlines()
    column = header.index("route")
    assert (no_job[column], with_job[column:].split()[0]) == ("-", "ec2-gpu")


def test_all_succeeded_needs_every_task_and_job_to_succeed() -> None:
    assert all_succeeded("success", [ti("a", "success"), ti("b", "success")], jobs_for("a", "b"))


def test_all_succeeded_is_false_when_a_batch_job_failed() -> None:
    jobs = {**jobs_for("a"), **jobs_for("b", status="FAILED")}
    assert not all_succeeded("success", [ti("a", "success"), ti("b", "success")], jobs)


def test_all_succeeded_is_false_when_a_task_has_no_job() -> None:
    assert not all_succeeded("success", [ti("a", "success"), ti("b", "success")], jobs_for("a"))


def test_all_succeeded_is_false_for_a_failed_run() -> None:
    assert not all_succeeded("failed", [ti("a", "success")], jobs_for("a"))
