"""The answer for one task instance: its tries from Airflow's metadata, each with its route and job."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from batch_router.aws.task_logs import route_and_why
from batch_router.plan.model import TaskIdentity
from batch_router.ui.page_data import job_facts
from batch_router.ui.state import UiState
from batch_router.ui.task_tries import TryFacts, job_route

__all__ = ["EVENTS_SHOWN", "task_instance_answer", "task_states"]

EVENTS_SHOWN = 50


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def _facts(row: Any) -> TryFacts:
    return TryFacts(
        identity=TaskIdentity(
            dag_id=row.dag_id,
            task_id=row.task_id,
            run_id=row.run_id,
            try_number=int(row.try_number or 0),
            map_index=int(row.map_index),
            try_id=row.external_executor_id,
        ),
        state=str(row.state) if row.state is not None else None,
        queue=row.queue,
        executor_config=row.executor_config if isinstance(row.executor_config, Mapping) else None,
        executor=row.executor,
        start_ms=_ms(row.start_date),
        end_ms=_ms(row.end_date),
    )


def _tries(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[TryFacts]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory

    found: dict[int, TryFacts] = {}
    for model in (TaskInstanceHistory, TaskInstance):  # the current try last, so it wins
        rows = session.scalars(
            select(model).where(
                model.dag_id == dag_id,
                model.run_id == run_id,
                model.task_id == task_id,
                model.map_index == map_index,
            )
        )
        for row in rows:
            facts = _facts(row)
            if facts.identity.try_number > 0:
                found[facts.identity.try_number] = facts
    return [found[n] for n in sorted(found)]


def task_states(session: Session, ids: list[str]) -> dict[str, str]:
    """Airflow's state of each try, by its ``external_executor_id``: the try id the scheduler gave it (a
    job's try-id tag) until the executor reports the job running, the Batch job id after that; so pass
    both. A job can succeed while its task failed: the Task SDK's runner reports the task's end to
    Airflow and exits 0 (execute_workload), so the page shows both."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory

    states: dict[str, str] = {}
    if not ids:
        return states
    for model in (TaskInstanceHistory, TaskInstance):  # the current try last, so it wins
        rows = session.execute(
            select(model.external_executor_id, model.state).where(model.external_executor_id.in_(ids))
        )
        for try_id, state in rows:
            if try_id is not None and state is not None:
                states[str(try_id)] = str(state)
    return states


def _events(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
    from airflow.models.log import Log

    rows = session.scalars(
        select(Log)
        .where(
            Log.dag_id == dag_id,
            Log.run_id == run_id,
            Log.task_id == task_id,
            Log.map_index == map_index,
            Log.event.like("batch-router%"),
        )
        .order_by(Log.dttm)
        .limit(EVENTS_SHOWN)
    )
    return [
        {"when_ms": _ms(row.dttm), "try_number": row.try_number, "event": row.event, "extra": row.extra}
        for row in rows
    ]


def task_instance_answer(
    state: UiState, session: Session, *, dag_id: str, run_id: str, task_id: str, map_index: int
) -> dict[str, Any]:
    tries = _tries(session, dag_id, run_id, task_id, map_index)
    snapshot = state.view.snapshot()
    jobs, error = state.tries.jobs_of(tries, snapshot.descriptions)
    events = _events(session, dag_id, run_id, task_id, map_index)
    answers = []
    for facts in reversed(tries):
        route, why = route_and_why(state.plan, facts.identity, facts.executor_config, facts.queue)
        job = jobs.get(facts.identity.try_id or "")
        answers.append(
            {
                "try_number": facts.identity.try_number,
                "state": facts.state,
                "executor": facts.executor,
                "queue": facts.queue,
                "route": route,
                "why": why,
                "job": None if job is None else _job(job, state, route),
                "events": [e for e in events if e["try_number"] == facts.identity.try_number],
                "start_ms": facts.start_ms,
                "end_ms": facts.end_ms,
            }
        )
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "tries": answers,
        "error": error or snapshot.error,
    }


def _job(job: Mapping[str, Any], state: UiState, route: str | None) -> dict[str, Any]:
    ran_on = job_route(job)
    return {
        **job_facts(job, state.place),
        "route": ran_on,
        "route_note": None
        if ran_on is None or ran_on == route
        else f"the job ran on route {ran_on!r} (a retry route, or the table changed since)",
    }
