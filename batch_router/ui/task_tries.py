"""One task instance on the Batch routes page: every try, the route it took and why, its job, its end.

Airflow's metadata gives the tries (the task instance and its history rows, each with its
``external_executor_id``: the try id the scheduler pre-assigned, or the job id once the executor
reported the job running; its queue and executor_config) and what the
executor wrote to the task's event log. AWS Batch gives each try's job: from the page's snapshot by its
``batch-router:try-id`` tag, else by its deterministic name in the queues of the route table (the same
look-up the executor makes after a lost SubmitJob answer), at most ``LOOKUPS_PER_REQUEST`` tries a
request, remembered once found. The router's reason is the route table's answer for the try's queue and
executor_config now (the planning is pure); when the job's route tag names another route (a retry
route, or a table changed since), the page says so.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch_router.aws.batch_client import BatchClient
from batch_router.aws.errors import BatchApiError
from batch_router.errors import BatchRouterError
from batch_router.plan.model import TaskIdentity
from batch_router.plan.naming import DEPLOYMENT_TAG, ROUTE_TAG, TRY_ID_TAG, job_name
from batch_router.plan.planner import Plan

__all__ = ["LOOKUPS_PER_REQUEST", "TryFacts", "TryJobs", "route_and_why"]

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


def route_and_why(plan: Plan, facts: TryFacts) -> tuple[str | None, str]:
    try:
        choice = plan.route_of(facts.identity, facts.executor_config, facts.queue)
    except BatchRouterError as exc:
        return None, f"not routed: {exc}"
    except Exception as exc:  # an executor_config Airflow could not even unpickle, say
        return None, f"not routed: {type(exc).__name__}: {exc}"
    return choice.route.name, choice.reason


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
                try:
                    job = self._look_up(facts.identity)
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

    def _look_up(self, identity: TaskIdentity) -> Mapping[str, Any] | None:
        name = job_name(self._plan.job_name_prefix, identity)
        for queue in dict.fromkeys(route.job_queue for route in self._plan.table.routes):
            for job in self._client.find_jobs_named(queue, name):
                tags = job.get("tags") or {}
                mine = identity.try_id in (tags.get(TRY_ID_TAG), job.get("jobId"))
                if mine and tags.get(DEPLOYMENT_TAG) == self._deployment:
                    return job
        return None


def job_route(job: Mapping[str, Any]) -> str | None:
    return (job.get("tags") or {}).get(ROUTE_TAG)
