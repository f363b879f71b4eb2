"""The Batch routes page's answers, from one snapshot of AWS Batch and the route table (pure).

A job is batch-router's when its description carries this deployment's ``batch-router:deployment``
tag; its route and task try come from its other tags (plan/naming.py), never from its name, which is
cut to fit. Counts per route are of those jobs; a queue's other jobs are counted apart ("other"), and
jobs not described yet (the refresh's budget ran out) as "unread", so no number is silently wrong.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from batch_router.aws import job_states
from batch_router.aws.blocked_reasons import blocked
from batch_router.aws.console_links import job_console_url, log_stream_url
from batch_router.config.model import Route, RouteTable
from batch_router.plan.naming import (
    DAG_ID_TAG,
    DEPLOYMENT_TAG,
    MAP_INDEX_TAG,
    ROUTE_TAG,
    RUN_ID_TAG,
    TASK_ID_TAG,
    TRY_ID_TAG,
    TRY_NUMBER_TAG,
)
from batch_router.ui.batch_view import Snapshot
from batch_router.ui.job_summaries import (
    blocking_job,
    chart,
    count_by_status,
    ran_seconds,
    wait_stats,
    waited_seconds,
)

__all__ = ["Place", "charts", "job_facts", "job_rows", "route_rows", "task_instance_path"]

CHART_STEP_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class Place:
    """What the answers need besides the snapshot: whose jobs, where the consoles and Airflow are."""

    deployment: str
    region: str | None  # None: the connection names none; the page then gives no console links
    log_group: str
    airflow_base: str  # Airflow's base path ("/" or "/airflow/"), for links back to task instances


def task_instance_path(base: str, tags: Mapping[str, str]) -> str:
    """Airflow 3's page of the task instance and try (its UI routes: dags/:dagId/runs/:runId/tasks/
    :taskId[/mapped/:mapIndex], ?try_number=)."""
    parts = [quote(tags.get(k, ""), safe="") for k in (DAG_ID_TAG, RUN_ID_TAG, TASK_ID_TAG)]
    path = f"{base.rstrip('/')}/dags/{parts[0]}/runs/{parts[1]}/tasks/{parts[2]}"
    map_index = tags.get(MAP_INDEX_TAG, "-1")
    if map_index not in ("", "-1"):
        path += f"/mapped/{quote(map_index, safe='')}"
    return f"{path}?try_number={quote(tags.get(TRY_NUMBER_TAG, ''), safe='')}"


def _ours(description: Mapping[str, Any] | None, deployment: str) -> Mapping[str, str] | None:
    if description is None:
        return None
    tags = description.get("tags") or {}
    if tags.get(DEPLOYMENT_TAG) != deployment or not tags.get(TRY_ID_TAG):
        return None
    return tags


def _route_jobs(
    snapshot: Snapshot, route: Route, deployment: str
) -> Iterator[tuple[Mapping[str, Any], Mapping[str, str]]]:
    for summary in snapshot.jobs.get(route.job_queue, ()):
        tags = _ours(snapshot.descriptions.get(str(summary["jobId"])), deployment)
        if tags is not None and tags.get(ROUTE_TAG) == route.name:
            yield summary, tags


def _caps(route: Route) -> str:
    caps = []
    if route.max_vcpu is not None:
        caps.append(f"≤{route.max_vcpu:g} vCPU")
    if route.max_memory_mib is not None:
        caps.append(f"≤{route.max_memory_mib} MiB")
    caps.append("no GPU" if not route.max_gpu else f"≤{route.max_gpu} GPU")
    if route.retry_route:
        caps.append(f"retries on {route.retry_route}")
    return ", ".join(caps)


def _policy(route: Route) -> str:
    policy = route.policy
    if policy.open:
        return "seed semantics: executor_config updates the whole request"
    keys = ", ".join(sorted(policy.executor_config_keys)) or "nothing"
    text = f"executor_config may set: {keys}"
    if policy.overridable:
        text += f"; may override: {', '.join(sorted(policy.overridable))}"
    return text


def route_rows(table: RouteTable, snapshot: Snapshot, place: Place) -> list[dict[str, Any]]:
    rows = []
    for route in table.routes:
        queue = snapshot.queues.get(route.job_queue)
        summaries = snapshot.jobs.get(route.job_queue, ())
        mine = [summary for summary, _ in _route_jobs(snapshot, route, place.deployment)]
        unread = sum(1 for s in summaries if str(s["jobId"]) not in snapshot.descriptions)
        ours_anywhere = sum(
            1 for s in summaries if _ours(snapshot.descriptions.get(str(s["jobId"])), place.deployment)
        )
        found = _queue_blocked(summaries, queue.head_job_id if queue else None)
        envs = queue.environments if queue else ()
        rows.append(
            {
                "name": route.name,
                "default": route.name == table.default_route,
                "compute": route.compute or "not known",
                "job_queue": route.job_queue,
                "job_definition": route.job_definition,
                "queue_found": queue.found if queue else None,
                "queue_state": queue.state if queue else None,
                "queue_status": queue.status if queue else None,
                "queue_status_reason": queue.status_reason if queue else None,
                "blocked": None
                if found is None
                else {"code": found.code, "message": found.message, "fix": found.reason.fix},
                "compute_environments": [
                    {"name": e.name, "type": e.type, "state": e.state, "status": e.status, "spot": e.spot}
                    for e in envs
                ],
                "spot": _spot(envs),
                "capacity_in_use": [
                    {"unit": unit, "quantity": quantity}
                    for unit, quantity in (queue.capacity_in_use if queue else ())
                ],
                "caps": _caps(route),
                "policy": _policy(route),
                "airflow_queues": list(route.queues),
                "counts": count_by_status(mine),
                "other_jobs_in_queue": len(summaries) - ours_anywhere - unread,
                "unread": unread,
                "wait": _waits(mine, snapshot),
            }
        )
    return rows


def _queue_blocked(summaries: Collection[Mapping[str, Any]], head_job_id: str | None) -> Any:
    """The documented reason the queue is blocked: its head job's (GetJobQueueSnapshot's first
    RUNNABLE job), else the oldest RUNNABLE job's that has one (aws/blocked_reasons.py)."""
    if head_job_id is not None:
        head = next((s for s in summaries if str(s.get("jobId")) == head_job_id), None)
        if head is not None and (found := blocked(head)) is not None:
            return found
    oldest = blocking_job(summaries)
    return blocked(oldest) if oldest is not None else None


def _spot(envs: Collection[Any]) -> str:
    """Whether a job of this queue runs on Spot: Batch does not say which compute environment ran a job,
    so it is "yes" or "no" only when the queue's environments agree."""
    kinds = {e.spot for e in envs}
    return "unknown" if not kinds else "yes" if kinds == {True} else "no" if kinds == {False} else "maybe"


def job_rows(
    table: RouteTable,
    snapshot: Snapshot,
    place: Place,
    *,
    permitted: Collection[str] | None,
    route: str | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Jobs of the routes (one, or all), newest first, only of the DAGs in ``permitted`` (None: all)."""
    rows = []
    for each in table.routes:
        if route is not None and each.name != route:
            continue
        queue = snapshot.queues.get(each.job_queue)
        spot = _spot(queue.environments if queue else ())
        for summary, tags in _route_jobs(snapshot, each, place.deployment):
            dag = tags.get(DAG_ID_TAG, "")
            if permitted is not None and dag not in permitted:
                continue
            if (dag_id and dag != dag_id) or (task_id and tags.get(TASK_ID_TAG) != task_id):
                continue
            if status and summary.get("status") != status:
                continue
            rows.append(_job_row(summary, tags, snapshot, place, each.name, spot))
    rows.sort(key=lambda r: -(r["created_ms"] or 0))
    return rows


def _job_row(
    summary: Mapping[str, Any],
    tags: Mapping[str, str],
    snapshot: Snapshot,
    place: Place,
    route: str,
    spot: str,
) -> dict[str, Any]:
    job_id = str(summary["jobId"])
    description = snapshot.descriptions.get(job_id) or {}
    return {
        **job_facts({**description, **summary}, place),  # the listing's status is the newer
        "route": route,
        "created_ms": summary.get("createdAt"),
        "waited_seconds": waited_seconds(summary, snapshot.taken_ms),
        "ran_seconds": ran_seconds(summary, snapshot.taken_ms),
        "spot": spot,
        "try_id": tags.get(TRY_ID_TAG),
        "task_state": None,  # Airflow's, filled in for the rows of a page (ui/api.py)
        "dag_id": tags.get(DAG_ID_TAG),
        "task_id": tags.get(TASK_ID_TAG),
        "run_id": tags.get(RUN_ID_TAG),
        "map_index": int(tags.get(MAP_INDEX_TAG, "-1") or -1),
        "try_number": int(tags.get(TRY_NUMBER_TAG, "0") or 0),
        "task_instance_url": task_instance_path(place.airflow_base, tags),
    }


def job_facts(job: Mapping[str, Any], place: Place) -> dict[str, Any]:
    """What the page says of any job: its status and why, exit code, and links to it and its logs (no
    console links when the connection names no region)."""
    job_id = str(job["jobId"])
    stream = job_states.log_stream(job)
    group = job_states.log_group(job, place.log_group)
    region = place.region
    return {
        "job_id": job_id,
        "job_name": job.get("jobName"),
        "status": job.get("status"),
        "status_reason": job_states.status_reason(job)
        if job.get("statusReason") or job.get("status") == "FAILED"
        else None,
        "exit_code": job_states.exit_code(job),
        "console_url": job_console_url(region, job_id) if region else None,
        "log_url": log_stream_url(region, group, stream) if stream and region else None,
        "log_stream": f"{group}/{stream}" if stream else None,
    }


def charts(table: RouteTable, snapshot: Snapshot, place: Place) -> dict[str, Any]:
    """Per route: jobs waiting, running, succeeded and failed over the window, and its waits."""
    routes = {}
    waits = {}
    times: tuple[int, ...] = ()
    for route in table.routes:
        mine = [s for s, _ in _route_jobs(snapshot, route, place.deployment)]
        drawn = chart(mine, snapshot.taken_ms, snapshot.window_ms, CHART_STEP_MS)
        times = drawn.times
        routes[route.name] = dict(drawn.series)
        waits[route.name] = _waits(mine, snapshot)
    return {"times_ms": list(times), "step_seconds": CHART_STEP_MS // 1000, "routes": routes, "waits": waits}


def _waits(summaries: list[Mapping[str, Any]], snapshot: Snapshot) -> dict[str, Any]:
    waits = wait_stats(summaries, snapshot.taken_ms - snapshot.window_ms)
    return {"jobs": waits.jobs, "p50": waits.p50, "p90": waits.p90, "longest": waits.longest}
