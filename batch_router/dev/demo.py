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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from batch_router.config.model import RouteTable
from batch_router.dev.airflow_stack import AIRFLOW_COMPONENTS, AirflowStack, StackError, check_port_free

DEMO_DAG_ID = "batch_router_demo"
EXECUTOR = "batch_router.executor.BatchRouterExecutor"
BATCH_STATUSES: tuple[str, ...] = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
)
TERMINAL_BATCH_STATUSES = frozenset({"SUCCEEDED", "FAILED"})


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
    }


# ---------------------------------------------------------------- reading Batch


@dataclass(frozen=True)
class BatchJob:
    """One Batch job as DescribeJobs shows it, with the task identity its tags carry."""

    job_id: str
    job_name: str
    status: str
    status_reason: str | None
    job_queue: str
    route: str | None
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    try_number: int | None
    map_index: int
    started_at_ms: int | None
    stopped_at_ms: int | None

    @property
    def duration(self) -> float | None:
        if self.started_at_ms is None or self.stopped_at_ms is None:
            return None
        return (self.stopped_at_ms - self.started_at_ms) / 1000.0


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def batch_job_from_description(description: Mapping[str, Any]) -> BatchJob:
    """A ``BatchJob`` from one DescribeJobs entry; tags that are missing stay ``None``."""
    tags: Mapping[str, str] = description.get("tags") or {}
    queue = str(description.get("jobQueue", ""))
    map_index = _int_or_none(tags.get("airflow:map_index"))
    return BatchJob(
        job_id=str(description["jobId"]),
        job_name=str(description.get("jobName", "")),
        status=str(description.get("status", "")),
        status_reason=description.get("statusReason"),
        job_queue=queue.rsplit("/", 1)[-1],
        route=tags.get("batch-router:route"),
        dag_id=tags.get("airflow:dag_id"),
        task_id=tags.get("airflow:task_id"),
        run_id=tags.get("airflow:run_id"),
        try_number=_int_or_none(tags.get("airflow:try_number")),
        map_index=-1 if map_index is None else map_index,
        started_at_ms=_int_or_none(description.get("startedAt")),
        stopped_at_ms=_int_or_none(description.get("stoppedAt")),
    )


def local_batch_client(batch_env: Mapping[str, str]) -> Any:
    """A boto3 Batch client for the local Batch whose variables ``batch_env`` holds."""
    import boto3

    return boto3.client(
        "batch",
        endpoint_url=batch_env["AWS_ENDPOINT_URL"],
        region_name=batch_env.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=batch_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=batch_env["AWS_SECRET_ACCESS_KEY"],
    )


def list_batch_jobs(client: Any, queues: Iterable[str], dag_id: str | None = None) -> list[BatchJob]:
    """Every job in ``queues`` (of every status), described; only ``dag_id``'s when given.

    ListJobs answers one status at a time, so each status of each queue is asked for.
    """
    job_ids: list[str] = []
    for queue in dict.fromkeys(queues):
        for status in BATCH_STATUSES:
            for page in client.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
                job_ids += [summary["jobId"] for summary in page.get("jobSummaryList", [])]
    jobs: list[BatchJob] = []
    unique = list(dict.fromkeys(job_ids))
    for start in range(0, len(unique), 100):
        answer = client.describe_jobs(jobs=unique[start : start + 100])
        jobs += [batch_job_from_description(d) for d in answer.get("jobs", [])]
    if dag_id is not None:
        jobs = [job for job in jobs if job.dag_id == dag_id]
    return sorted(jobs, key=lambda job: (job.started_at_ms or 0, job.job_id))


def latest_job_per_task(jobs: Iterable[BatchJob], run_id: str) -> dict[str, BatchJob]:
    """For each task of ``run_id``, the job of its highest try."""
    latest: dict[str, BatchJob] = {}
    for job in jobs:
        if job.run_id != run_id or job.task_id is None:
            continue
        key = job.task_id if job.map_index < 0 else f"{job.task_id}[{job.map_index}]"
        current = latest.get(key)
        if current is None or (job.try_number or 0) >= (current.try_number or 0):
            latest[key] = job
    return latest


def wait_batch_jobs_ended(
    client: Any,
    queues: Sequence[str],
    dag_id: str,
    run_id: str,
    timeout: float = 60.0,
    on_tick: Callable[[], None] | None = None,
) -> dict[str, BatchJob]:
    """The last job of each task of the run, once every job of the run has ended (or at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        if on_tick is not None:
            on_tick()
        jobs = [job for job in list_batch_jobs(client, queues, dag_id) if job.run_id == run_id]
        if all(job.status in TERMINAL_BATCH_STATUSES for job in jobs) or time.monotonic() > deadline:
            return latest_job_per_task(jobs, run_id)
        time.sleep(0.5)


# ---------------------------------------------------------------- the closing table


@dataclass(frozen=True)
class TaskRow:
    """One line of the closing table."""

    task: str
    route: str
    compute: str
    job_queue: str
    job_id: str
    batch_state: str
    airflow_state: str
    duration: str


def summary_rows(
    task_instances: Sequence[Mapping[str, Any]], jobs: Mapping[str, BatchJob], table: RouteTable
) -> list[TaskRow]:
    """The closing table's rows: Airflow's view of each task beside Batch's view of its last job."""
    rows = []
    for ti in sorted(task_instances, key=lambda t: (str(t.get("start_date") or "~"), t["task_id"])):
        key = _task_key(ti)
        job = jobs.get(key)
        route = table.get(job.route) if job is not None and job.route else None
        duration = job.duration if job is not None else None
        rows.append(
            TaskRow(
                task=key,
                route=(job.route or "?") if job is not None else "-",
                compute=route.compute if route is not None else "-",
                job_queue=job.job_queue if job is not None else "-",
                job_id=job.job_id if job is not None else "-",
                batch_state=job.status if job is not None else "-",
                airflow_state=str(ti.get("state") or "none"),
                duration=f"{duration:.1f}s" if duration is not None else "-",
            )
        )
    return rows


HEADERS = ("task", "route", "compute", "job queue", "job id", "Batch state", "Airflow state", "duration")


def render_table(rows: Sequence[TaskRow]) -> str:
    """A plain, aligned text table."""
    cells = [
        [r.task, r.route, r.compute, r.job_queue, r.job_id, r.batch_state, r.airflow_state, r.duration]
        for r in rows
    ]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def all_succeeded(
    run_state: str, task_instances: Sequence[Mapping[str, Any]], jobs: Mapping[str, BatchJob]
) -> bool:
    """The run, every task instance and every task's last Batch job succeeded."""
    if run_state != "success" or not task_instances:
        return False
    for ti in task_instances:
        job = jobs.get(_task_key(ti))
        if ti.get("state") != "success" or job is None or job.status != "SUCCEEDED":
            return False
    return True


def _task_key(ti: Mapping[str, Any]) -> str:
    map_index = ti.get("map_index", -1)
    return ti["task_id"] if map_index is None or map_index < 0 else f"{ti['task_id']}[{map_index}]"


# ---------------------------------------------------------------- running it


class _Progress:
    """Timestamped lines, each one flushed at once, so the demo reads like a log as it goes."""

    def __init__(self, out: TextIO):
        self.out = out
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", file=self.out, flush=True)


class _BatchWatcher:
    """Prints one line whenever a job of the run appears in Batch or changes status."""

    def __init__(self, client: Any, queues: Sequence[str], dag_id: str, say: _Progress):
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
) -> int:
    """Run the example DAG end to end; 0 only when every task succeeded. Ports default to free ones."""
    from batch_router import examples
    from batch_router.config.routes import read_route_file

    stream = out if out is not None else sys.stdout
    say = _Progress(stream)
    table = read_route_file(examples.ROUTES_FILE)
    home = Path(tempfile.mkdtemp(prefix="batch-router-demo-"))
    stack = AirflowStack(
        home=home,
        dags_folder=examples.DAGS_DIR,
        port=api_port or 0,
        executor=EXECUTOR,
        extra_env=executor_env(examples.ROUTES_FILE),
    )
    print("batch-router demo: the example DAG through BatchRouterExecutor on a local AWS Batch", file=stream)
    print(f"AIRFLOW_HOME: {home}", file=stream, flush=True)
    code = 1
    try:
        with _sigterm_unwinds():
            code = _run(stack, table, examples.ROUTES_FILE, batch_port or 0, timeout, say)
    except StackError as err:
        say(f"demo failed: {err}")
    except (KeyboardInterrupt, _Stop):
        say("interrupted; stopping everything")
        code = 130
    finally:
        _shut_down(stack, say)
        _report_logs(stack, keep=keep or code != 0, say=say)
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
    say("Airflow database migrated (SQLite)")
    batch_env = stack.wait_local_batch(timeout=min(60.0, left()))
    names = ", ".join(f"{r.name} ({r.compute})" for r in table.routes)
    say(
        f"local AWS Batch on {batch_env['AWS_ENDPOINT_URL']}: {len(table.routes)} routes provisioned: {names}"
    )
    stack.start()
    say(f"started {', '.join(AIRFLOW_COMPONENTS)}; API server on {stack.api.base_url}")
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
    if all_succeeded(run_state, task_instances, jobs):
        say("every task succeeded, each as its own Batch job on its route")
        return 0
    failed = [t["task_id"] for t in task_instances if t.get("state") != "success"]
    say(f"not every task succeeded: {', '.join(failed) or 'the run failed'}")
    return 1


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


def _report_logs(stack: AirflowStack, *, keep: bool, say: _Progress) -> None:
    paths = stack.log_paths()
    if keep:
        say(f"logs (kept in {stack.home}):")
        for name, path in paths.items():
            print(f"    {name:<14} {path}", file=say.out)
        print(f"    {'task logs':<14} {stack.home / 'logs'}", file=say.out, flush=True)
        return
    shutil.rmtree(stack.home, ignore_errors=True)
    say(f"removed {stack.home} and its logs (run with --keep to keep them)")
