"""The Batch routes page's endpoints: read-only, bounded, behind Airflow's own authentication.

Every endpoint needs an Airflow user (the API server's JWT, from the UI's cookie or a bearer token):
an anonymous request gets 401 and nothing else. What a user may see follows Airflow's authorization:
routes, their queues and counts need the "Jobs" view (as the edge provider's worker pages do); a job, a
task instance and its tries are shown only for DAGs the user may read (``get_authorized_dag_ids``, the
same filter Airflow's own task instance lists use). Lists are paged (at most ``MAX_PAGE`` rows) and all
AWS data comes from the shared snapshot (ui/batch_view.py), never from a call per request.
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView, DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag, requires_access_view
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from batch_router.ui.batch_view import Snapshot
from batch_router.ui.job_summaries import STATUSES
from batch_router.ui.page_data import charts, job_rows, route_rows
from batch_router.ui.state import UiState, state_of
from batch_router.ui.task_instance import task_instance_answer, task_states

__all__ = ["MAX_PAGE", "ui_router"]

MAX_PAGE = 100

ui_router = APIRouter()


def _ready(request: Request) -> UiState:
    state = state_of(request.app)
    if isinstance(state, str):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=state)
    return state


StateDep = Annotated[UiState, Depends(_ready)]


def _freshness(state: UiState, snapshot: Snapshot) -> dict[str, Any]:
    """When the figures of this answer were read (the same snapshot they come from)."""
    return {
        "refreshed_ms": snapshot.taken_ms,
        "window_seconds": snapshot.window_ms // 1000,
        "refresh_seconds": state.limits.refresh_seconds,
        "aws_calls_last_refresh": snapshot.calls,
        "left_out": list(snapshot.left_out),
        "error": snapshot.error,
    }


@ui_router.get("/routes", dependencies=[Depends(requires_access_view(AccessView.JOBS))])
def routes(state: StateDep) -> dict[str, Any]:
    """Every route of the table the executor runs with, its queue, environments and job counts."""
    snapshot = state.view.snapshot()
    return {
        "source": state.source,
        "routes": route_rows(state.plan.table, snapshot, state.place),
        **_freshness(state, snapshot),
    }


@ui_router.get("/jobs")
def jobs(
    state: StateDep,
    user: GetUserDep,
    session: SessionDep,
    route: str | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    job_status: Annotated[str | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """The recent jobs of one route (or all), of the DAGs this user may read, newest first."""
    if job_status is not None and job_status not in STATUSES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"status must be one of {STATUSES}")
    if route is not None and state.plan.table.get(route) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no route {route!r} in {state.source}")
    from airflow.api_fastapi.app import get_auth_manager

    permitted = get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
    snapshot = state.view.snapshot()
    rows = job_rows(
        state.plan.table,
        snapshot,
        state.place,
        permitted=permitted,
        route=route,
        dag_id=dag_id,
        task_id=task_id,
        status=job_status,
    )
    shown = rows[offset : offset + limit]
    ids = [row["try_id"] for row in shown if row["try_id"]] + [row["job_id"] for row in shown]
    states = task_states(session, ids)
    for row in shown:
        row["task_state"] = states.get(row["job_id"]) or states.get(row["try_id"] or "")
    return {
        "jobs": shown,
        "total_entries": len(rows),
        "limit": limit,
        "offset": offset,
        **_freshness(state, snapshot),
    }


@ui_router.get("/charts", dependencies=[Depends(requires_access_view(AccessView.JOBS))])
def route_charts(state: StateDep) -> dict[str, Any]:
    """Per route over the window: jobs waiting, running, succeeded and failed; waits before start."""
    snapshot = state.view.snapshot()
    return {**charts(state.plan.table, snapshot, state.place), **_freshness(state, snapshot)}


@ui_router.get(
    "/task-instance",
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE))],
)
def task_instance(
    state: StateDep,
    session: SessionDep,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int = -1,
) -> dict[str, Any]:
    """Every try of one task instance: its route and why, its job, its end, the executor's events."""
    return task_instance_answer(
        state, session, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index
    )
