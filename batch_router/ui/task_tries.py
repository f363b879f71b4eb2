"""One task instance on the Batch routes page: every try, the route it took and why, its job, its end.

Airflow's metadata gives the tries (the task instance and its history rows, each with its
``external_executor_id``: the try id the scheduler pre-assigned, or the job id once the executor
reported the job running; its queue and executor_config) and what the
executor wrote to the task's event log. AWS Batch gives each try's job: from the page's snapshot by its
``batch-router:try-id`` tag, else as the log pane finds it (``aws.task_logs.find_job_for_try``: by the
id Airflow keeps, then by its deterministic name where the plan would have sent it), at most
``LOOKUPS_PER_REQUEST`` tries a request, remembered once found. The router's reason is the route table's
answer for the try's queue and executor_config now (``aws.task_logs.route_and_why``, shared with the log
pane); when the job's route tag names another route (a retry route, or a table changed since), the page
says so.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError
from batch_router.aws.task_logs import find_job_for_try
from batch_router.plan.model import TaskIdentity
from batch_router.plan.naming import DEPLOYMENT_TAG, ROUTE_TAG, TRY_ID_TAG
from batch_router.plan.planner import Plan

__all__ = ["LOOKUPS_PER_REQUEST", "TryFacts", "TryJobs"]

LOOKUPS_PER_REQUEST = 3
FOUND_KEPT = 5_000


@dataclass(frozen=True)
class TryFacts:
    """One try as Airflow's metadata has it."""

    identity: TaskIdentity
    state: str | None
    queue: str | None
    executor_config: Mapping[str, Any] | None
    executor: str | None
    start_ms: int | None
    end_ms: int | None


class TryJobs:
    """A try's job, found in the snapshot or looked up by name; found jobs are remembered (bounded)."""

    def __init__(self, client: BatchClient, plan: Plan, deployment: str):
        self._client = client
        self._plan = plan
        self._deployment = deployment
        self._lock = threading.Lock()
        self._found: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    def jobs_of(
        self, tries: Sequence[TryFacts], described: Mapping[str, Mapping[str, Any]]
    ) -> tuple[dict[str, Mapping[str, Any]], str | None]:
        """Job description per try id, and an error text when AWS could not be asked."""
        by_try: dict[str, Mapping[str, Any]] = {}
        for description in described.values():
            tags = description.get("tags") or {}
            if tags.get(DEPLOYMENT_TAG) == self._deployment and tags.get(TRY_ID_TAG):
                by_try.setdefault(str(tags[TRY_ID_TAG]), description)
        found: dict[str, Mapping[str, Any]] = {}
        lookups = 0
        for facts in sorted(tries, key=lambda f: -f.identity.try_number):
            try_id = facts.identity.try_id
            if not try_id:
                continue
            # Airflow keeps the try id until the job is reported running, then the job's id.
            job: Mapping[str, Any] | None = by_try.get(try_id) or described.get(try_id)
            if job is None:
                with self._lock:
                    job = self._found.get(try_id)
            if job is None and lookups < LOOKUPS_PER_REQUEST:
                lookups += 1
                try:  # as the log pane finds a try's job: by the id Airflow keeps, else by its name
                    job = find_job_for_try(self._client, self._plan, _as_ti(facts), facts.identity.try_number)
                except BatchApiError as exc:
                    return found, exc.reason
            if job is not None:
                found[try_id] = job
                if job.get("status") in ("SUCCEEDED", "FAILED"):
                    with self._lock:
                        self._found[try_id] = job
                        while len(self._found) > FOUND_KEPT:
                            self._found.popitem(last=False)
        return found, None


def _as_ti(facts: TryFacts) -> SimpleNamespace:
    """The try as the task instance ``find_job_for_try`` reads (its own try, its own id)."""
    identity = facts.identity
    return SimpleNamespace(
        dag_id=identity.dag_id,
        task_id=identity.task_id,
        run_id=identity.run_id,
        map_index=identity.map_index,
        try_number=identity.try_number,
        external_executor_id=identity.try_id,
        executor_config=facts.executor_config,
        queue=facts.queue,
    )


def job_route(job: Mapping[str, Any]) -> str | None:
    return (job.get("tags") or {}).get(ROUTE_TAG)
