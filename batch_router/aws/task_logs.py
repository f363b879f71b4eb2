"""Live task logs for the Airflow UI, read from CloudWatch Logs, without remote logging configured.

The API server asks the executor for the logs of a running try. The job is found by the id the
scheduler stored (the Batch job id, or the try's pre-assigned id when the job was not yet reported
running), else by its deterministic name, which includes the try number, so earlier tries work too.
The log pane starts with what the executor did for the try: the route and why (the route table's
answer, pure, so the API server needs no word from the scheduler), the job with its console link, and
its log stream with the CloudWatch console's link; a refusal, a resubmission or a Spot reclaim is in
the try's notes (executor/task_notes.py), which Airflow shows from the log folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_router.aws import job_states as states
from batch_router.aws.batch_client import BatchClient
from batch_router.aws.console_links import job_console_url, log_stream_url
from batch_router.aws.errors import BatchApiError
from batch_router.errors import BatchRouterError
from batch_router.plan.model import TaskIdentity
from batch_router.plan.naming import ROUTE_TAG, TRY_ID_TAG
from batch_router.plan.planner import Plan

LogResult = tuple[list[str], list[str]]  # (messages for the reader, log lines)


def _identity(ti: Any, try_number: int) -> TaskIdentity:
    map_index = getattr(ti, "map_index", -1)
    return TaskIdentity(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=try_number,
        map_index=-1 if map_index is None else int(map_index),
    )


def find_job_for_try(client: BatchClient, plan: Plan, ti: Any, try_number: int) -> dict[str, Any] | None:
    """The Batch job that ran (or runs) ``try_number`` of ``ti``; the newest one if it was resubmitted."""
    external_id = getattr(ti, "external_executor_id", None)
    current_try = try_number == getattr(ti, "try_number", None)
    if current_try and external_id:
        for job in client.describe_jobs([external_id]):
            return job
    identity = _identity(ti, try_number)
    candidates: list[dict[str, Any]] = []
    for job_queue, name in plan.places(
        identity, getattr(ti, "executor_config", None), getattr(ti, "queue", None)
    ):
        candidates += client.find_jobs_named(job_queue, name)
    if current_try and external_id:
        candidates = [
            j for j in candidates if (j.get("tags") or {}).get(TRY_ID_TAG) == external_id
        ] or candidates
    if not candidates:
        return None
    return max(candidates, key=lambda job: job.get("createdAt") or 0)


def read_task_log(client: BatchClient, plan: Plan, log_group: str, ti: Any, try_number: int) -> LogResult:
    """(messages, lines) for the UI; problems become messages, never exceptions."""
    try:
        job = find_job_for_try(client, plan, ti, try_number)
    except BatchApiError as exc:
        return [f"batch-router could not look up the AWS Batch job of try {try_number}: {exc.reason}"], []
    route = route_line(plan, ti, try_number, job)
    if job is None:
        return [route, f"batch-router found no AWS Batch job for try {try_number} of this task"], []
    messages, lines = _read_stream(client, log_group, job)
    return [route, *messages], lines


def route_and_why(
    plan: Plan, identity: TaskIdentity, executor_config: Any, queue: str | None
) -> tuple[str | None, str]:
    """The try's route and the router's reason, as the route table answers now; (None, why not)."""
    try:
        choice = plan.route_of(identity, executor_config, queue)
    except BatchRouterError as exc:
        return None, f"no route: {exc}"
    except Exception as exc:  # an executor_config no parser expected: said, never raised to a reader
        return None, f"no route: {type(exc).__name__}: {exc}"
    return choice.route.name, choice.reason


def route_line(plan: Plan, ti: Any, try_number: int, job: Mapping[str, Any] | None) -> str:
    """The log pane's first line: the try's route and why."""
    identity = _identity(ti, try_number)
    route, why = route_and_why(
        plan, identity, getattr(ti, "executor_config", None), getattr(ti, "queue", None)
    )
    if route is None:
        return f"batch-router: {why}"
    text = f"batch-router: route {route!r} ({why})"
    ran_on = ((job or {}).get("tags") or {}).get(ROUTE_TAG)
    if ran_on and ran_on != route:
        text += f"; this try's job ran on route {ran_on!r} (its retry route, or the table changed since)"
    return text


def _read_stream(client: BatchClient, default_group: str, job: Mapping[str, Any]) -> LogResult:
    job_text = f"AWS Batch job {job.get('jobName')} ({job.get('jobId')}, {job.get('status')})"
    region = client.region()
    messages = [f"{job_text}: {job_console_url(region, str(job.get('jobId')))}" if region else job_text]
    stream = states.log_stream(job)
    if stream is None:
        if job.get("eksProperties"):
            return [
                *messages,
                "it runs on EKS, which writes no CloudWatch log stream; see the pod's logs",
            ], []
        return [*messages, "no log stream yet (its container has not started)"], []
    group = states.log_group(job, default_group)
    where = f"CloudWatch Logs {group}/{stream}"
    if region:
        where += f": {log_stream_url(region, group, stream)}"
    try:
        lines = client.log_lines(group, stream)
    except BatchApiError as exc:
        return [*messages, f"could not read {where}: {exc.reason}"], []
    return [*messages, where], lines
