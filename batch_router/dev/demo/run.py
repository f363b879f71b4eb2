"""``batch-router demo``: the example DAG through BatchRouterExecutor on a real Airflow and a local Batch.

Everything a deployment has, on one machine and in one temporary ``AIRFLOW_HOME``: the API server, the
DAG processor and the scheduler as separate processes, and the local AWS Batch whose jobs run each task
with ``python -m airflow.sdk.execution_time.execute_workload``. The closing table is read back from
Batch itself (job tags name the task and the route), so it shows where each task really ran rather
than where the planner meant it to.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

from batch_router.aws.batch_client import BatchClient
from batch_router.config.model import RouteTable
from batch_router.dev.airflow_stack import AIRFLOW_COMPONENTS, AirflowStack, StackError, check_port_free
from batch_router.dev.demo.batch_jobs import TERMINAL_BATCH_STATUSES, list_batch_jobs, wait_batch_jobs_ended
from batch_router.dev.demo.report import all_succeeded, render_table, summary_rows
from batch_router.dev.local.clients import local_batch_client
from batch_router.dev.postgres import EmbeddedPostgres
from batch_router.ui.plugin import PAGE_ROUTE

__all__ = ["DEMO_DAG_ID", "EXECUTOR", "executor_env", "run_demo"]

DEMO_DAG_ID = "batch_router_demo"
EXECUTOR = "batch_router.executor.BatchRouterExecutor"


def executor_env(routes_file: Path, region: str = "us-east-1", poll_interval: float = 1.0) -> dict[str, str]:
    """The executor's settings for a local run: the route table, and polling fast enough for a demo.

    The start-up health check is on, as it should be in production: the local Batch answers it like AWS.
    """
    prefix = "AIRFLOW__AWS_BATCH_EXECUTOR__"
    return {
        "AIRFLOW__CORE__EXECUTOR": EXECUTOR,
        f"{prefix}ROUTES_FILE": str(routes_file),
        f"{prefix}REGION_NAME": region,
        f"{prefix}POLL_INTERVAL": str(poll_interval),
        f"{prefix}CHECK_HEALTH_ON_STARTUP": "True",
        f"{prefix}MAX_SUBMIT_JOB_ATTEMPTS": "3",
        f"{prefix}JOB_NAME": "batch-router-demo",
        f"{prefix}UI_REFRESH_SECONDS": "2",  # the Batch routes page follows the demo closely
    }


class _Progress:
    """Timestamped lines, each one flushed at once, so the demo reads like a log as it goes."""

    def __init__(self, out: TextIO):
        self.out = out
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", file=self.out, flush=True)


class _BatchWatcher:
    """Prints one line whenever a job of the run appears in Batch or changes status."""

    def __init__(self, client: BatchClient, queues: Sequence[str], dag_id: str, say: _Progress):
        self.client = client
        self.queues = queues
        self.dag_id = dag_id
        self.say = say
        self.seen: dict[str, str] = {}

    def __call__(self) -> None:
        for job in list_batch_jobs(self.client, self.queues, self.dag_id):
            if self.seen.get(job.job_id) == job.status:
                continue
            self.seen[job.job_id] = job.status
            reason = (
                f" ({job.status_reason})"
                if job.status in TERMINAL_BATCH_STATUSES and job.status_reason
                else ""
            )
            self.say(
                f"  batch   {job.task_id or '?':<14} job {job.job_id[:8]} on {job.route or '?'}"
                f" ({job.job_queue}): {job.status}{reason}"
            )


class _Stop(Exception):
    """SIGTERM arrived: unwind through every ``finally`` so nothing is left running."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(
    keep: bool = False,
    timeout: float = 600.0,
    *,
    api_port: int | None = None,
    batch_port: int | None = None,
    out: TextIO | None = None,
    postgres: bool = False,
    stay: bool = False,
) -> int:
    """Run the example DAG end to end; 0 only when every task succeeded. Ports default to free ones.

    With ``postgres`` the metadata database is a real PostgreSQL server (from the ``postgres`` extra) in
    the temporary home, as a deployment would have, instead of SQLite. With ``stay`` everything keeps
    running after the run, for a look at Airflow's UI and the Batch routes page, until Ctrl-C.
    """
    from batch_router import examples
    from batch_router.config.routes import read_route_file

    stream = out if out is not None else sys.stdout
    say = _Progress(stream)
    table = read_route_file(examples.ROUTES_FILE)
    home = Path(tempfile.mkdtemp(prefix="batch-router-demo-"))
    database = EmbeddedPostgres() if postgres else None  # its data outside AIRFLOW_HOME
    stack: AirflowStack | None = None
    print("batch-router demo: the example DAG through BatchRouterExecutor on a local AWS Batch", file=stream)
    print(f"AIRFLOW_HOME: {home}", file=stream, flush=True)
    code = 1
    try:
        with _sigterm_unwinds():
            database_url = None
            if database is not None:
                database_url = database.start()
                say(f"PostgreSQL {database.version()} started (data in {database.data_dir})")
            stack = AirflowStack(
                home=home,
                dags_folder=examples.DAGS_DIR,
                port=api_port or 0,
                executor=EXECUTOR,
                extra_env=executor_env(examples.ROUTES_FILE),
                database_url=database_url,
            )
            code = _run(stack, table, examples.ROUTES_FILE, batch_port or 0, timeout, say)
            if stay:
                say(f"everything stays up: Airflow at {stack.api.base_url}, the page at {page_url(stack)}")
                say("press Ctrl-C to stop")
                while True:
                    time.sleep(3600)
    except StackError as err:
        say(f"demo failed: {err}")
    except (KeyboardInterrupt, _Stop):
        say("interrupted; stopping everything")
        code = 130
    finally:
        if stack is not None:
            _shut_down(stack, say)
        if database is not None and database.running:
            database.stop()  # after Airflow: its components hold connections until they stop
            say("PostgreSQL stopped and its data removed")
        _report_logs(home, stack, keep=keep or code != 0, say=say)
    return code


def _run(
    stack: AirflowStack, table: RouteTable, routes_file: Path, batch_port: int, timeout: float, say: _Progress
) -> int:
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StackError(f"the demo did not finish within {timeout:.0f}s")
        return remaining

    check_port_free(stack.port, "the Airflow API server")
    if batch_port:
        check_port_free(batch_port, "the local Batch")
    stack.spawn_local_batch(routes_file, batch_port)  # starts while the database is migrated
    stack.migrate(timeout=left())
    say(f"Airflow database migrated ({'PostgreSQL' if stack.database_url else 'SQLite'})")
    batch_env = stack.wait_local_batch(timeout=min(60.0, left()))
    names = ", ".join(f"{r.name} ({r.compute})" for r in table.routes)
    say(
        f"local AWS Batch on {batch_env['AWS_ENDPOINT_URL']}: {len(table.routes)} routes provisioned: {names}"
    )
    stack.start()
    say(f"started {', '.join(AIRFLOW_COMPONENTS)}; API server on {stack.api.base_url}")
    say(f"the Batch routes page: {page_url(stack)} (Airflow's UI: Browse > Batch routes)")
    stack.wait_healthy(timeout=left())
    say(f"Airflow is healthy (executor {EXECUTOR})")
    dag = stack.wait_dag(DEMO_DAG_ID, timeout=left())
    say(f"DAG {dag['dag_id']} parsed from {stack.dags_folder}")
    run_id = stack.run_dag(DEMO_DAG_ID)
    say(f"triggered run {run_id}")

    client = local_batch_client(batch_env)
    queues = [route.job_queue for route in table.routes]
    watch = _BatchWatcher(client, queues, DEMO_DAG_ID, say)

    def on_change(task: str, old: str | None, new: str | None) -> None:
        if old is None and new is None:
            return
        say(f"  airflow {task:<14} {old or 'none'} -> {new or 'none'}")

    run_state = stack.wait_run(DEMO_DAG_ID, run_id, timeout=left(), on_change=on_change, on_tick=watch)
    say(f"run {run_id} finished: {run_state}; waiting for its Batch jobs to end")
    # A task reports success from inside its job, so the job itself ends a moment later.
    jobs = wait_batch_jobs_ended(
        client, queues, DEMO_DAG_ID, run_id, timeout=min(60.0, left()), on_tick=watch
    )
    task_instances = stack.api.task_instances(DEMO_DAG_ID, run_id)
    print("", file=say.out)
    print(render_table(summary_rows(task_instances, jobs, table)), file=say.out)
    print("", file=say.out, flush=True)
    say(f"the Batch routes page says: {page_summary(stack)}")
    if all_succeeded(run_state, task_instances, jobs):
        say("every task succeeded, each as its own Batch job on its route")
        return 0
    failed = [t["task_id"] for t in task_instances if t.get("state") != "success"]
    say(f"not every task succeeded: {', '.join(failed) or 'the run failed'}")
    return 1


def page_url(stack: AirflowStack) -> str:
    return f"{stack.api.base_url}/plugin/{PAGE_ROUTE}"


def page_summary(stack: AirflowStack) -> str:
    """What the page's routes endpoint answers: each route's jobs by status (the page's own numbers)."""
    try:
        answer = stack.api.get("/batch-router/ui/routes")
    except StackError as err:
        return f"could not be read: {err}"
    parts = []
    for route in answer["routes"]:
        counts = ", ".join(f"{n} {status}" for status, n in route["counts"].items() if n)
        parts.append(f"{route['name']}: {counts or 'no jobs'}")
    return "; ".join(parts) + (f" (AWS: {answer['error']})" if answer.get("error") else "")


def _shut_down(stack: AirflowStack, say: _Progress) -> None:
    if not stack.components:
        return
    say("stopping the scheduler, DAG processor, API server and local Batch")
    leftovers = stack.stop()
    if leftovers:
        detail = "; ".join(f"{name}: {pids}" for name, pids in leftovers.items())
        say(f"had to kill processes left behind: {detail}")
    else:
        say("every process stopped; none left behind")


def _report_logs(home: Path, stack: AirflowStack | None, *, keep: bool, say: _Progress) -> None:
    if keep:
        say(f"logs (kept in {home}):")
        for name, path in (stack.log_paths() if stack is not None else {}).items():
            print(f"    {name:<14} {path}", file=say.out)
        print(f"    {'task logs':<14} {home / 'logs'}", file=say.out, flush=True)
        return
    shutil.rmtree(home, ignore_errors=True)
    say(f"removed {home} and its logs (run with --keep to keep them)")
