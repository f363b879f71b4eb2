"""The demo's closing table: Airflow's view of each task beside Batch's view of its last job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch_router.config.model import RouteTable
from batch_router.dev.demo.batch_jobs import BatchJob

__all__ = ["TaskRow", "all_succeeded", "render_table", "summary_rows"]


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
                compute=(route.compute or "-") if route is not None else "-",
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
