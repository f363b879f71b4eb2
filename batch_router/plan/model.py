"""What planning produces for one task try: the route chosen and why, the try's identity, the request.

No boto3, no Airflow: plain immutable values the executor, the CLI and the tests share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_router.config.model import Route


@dataclass(frozen=True)
class RouteChoice:
    """The route the router picked and, in words, why (shown by ``plan`` and in task events)."""

    route: Route
    reason: str


@dataclass(frozen=True, slots=True)
class TaskIdentity:
    """What names one try of one task instance, on Airflow's side and on Batch's.

    ``try_id`` is the scheduler's pre-assigned external executor id: it is written into the job's tags
    and name hash so a submit whose answer was lost can be found again instead of submitted twice.
    """

    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    map_index: int = -1
    try_id: str | None = None


@dataclass(frozen=True)
class BuiltJob:
    """The exact SubmitJob request for one task try, plus what the builder decided along the way."""

    kwargs: Mapping[str, Any]
    route: Route
    reason: str
    notes: tuple[str, ...] = ()  # e.g. "fargate: 0.3 vCPU/600 MiB rounded up to 0.25... "
