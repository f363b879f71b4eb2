"""Which jobs the executor takes as a try's: only those it could have made for that try.

A job is found by its name and try-id tag after a SubmitJob answer was lost, by name at adoption, or by
the id Airflow recorded. Anyone who may submit to the queue can make a job with that name and tag, so
before a found job is tracked (its end reported to Airflow, or stopped on revoke) it must show what only
this try's job shows: a job definition the route table allows, ``airflow:*`` tags (where it has them)
naming this try, and a command carrying this try's workload. Anything else is foreign: logged, never
tracked or stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_router.config.model import resource_name
from batch_router.executor.workloads import workload_from_job
from batch_router.plan.naming import (
    DAG_ID_TAG,
    DEPLOYMENT_TAG,
    MAP_INDEX_TAG,
    RUN_ID_TAG,
    TASK_ID_TAG,
    TRY_NUMBER_TAG,
    tag_value,
)
from batch_router.plan.planner import Plan

__all__ = ["TryClaim", "claim_for"]


@dataclass(frozen=True)
class TryClaim:
    """What a job must show to be taken as one task try's."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int
    definitions: frozenset[str] | None  # see Plan.allowed_definitions
    deployment: str | None = None  # the executor's DEPLOYMENT: a job tagged with another is not ours

    def foreign(self, job: Mapping[str, Any]) -> str | None:
        """Why ``job`` is not this try's, or None when it is."""
        definition = resource_name(str(job.get("jobDefinition") or ""))
        if self.definitions is not None and not _allowed(definition, self.definitions):
            return f"its job definition {definition!r} is not one the route table allows"
        tags = job.get("tags") or {}
        if self.deployment is not None and tags.get(DEPLOYMENT_TAG, self.deployment) != self.deployment:
            return f"it belongs to deployment {str(tags[DEPLOYMENT_TAG])[:64]!r}"
        wanted = {
            DAG_ID_TAG: self.dag_id,
            TASK_ID_TAG: self.task_id,
            RUN_ID_TAG: self.run_id,
            MAP_INDEX_TAG: str(self.map_index),
            TRY_NUMBER_TAG: str(self.try_number),
        }
        for tag, value in wanted.items():
            if tag in tags and tags[tag] != tag_value(value):
                return f"its tag {tag} is {str(tags[tag])[:64]!r}, not this try's"
        workload = workload_from_job(job)
        ti = getattr(workload, "ti", None)
        if ti is None:
            return "its command does not carry an Airflow workload"
        found = (ti.dag_id, ti.task_id, ti.run_id, ti.map_index, ti.try_number)
        if found != (self.dag_id, self.task_id, self.run_id, self.map_index, self.try_number):
            return "its command carries another try's workload"
        return None


def claim_for(key: Any, plan: Plan) -> TryClaim | None:
    """The claim of a task try's key under ``plan``; None for what is not a task instance (a callback's)."""
    fields = ("dag_id", "task_id", "run_id", "map_index", "try_number")
    if not all(hasattr(key, name) for name in fields):
        return None
    map_index = -1 if key.map_index is None else int(key.map_index)
    return TryClaim(
        str(key.dag_id),
        str(key.task_id),
        str(key.run_id),
        map_index,
        int(key.try_number),
        plan.allowed_definitions,
        plan.deployment,
    )


def _allowed(definition: str, allowed: frozenset[str]) -> bool:
    """``name:3`` is allowed by ``name:3`` and by ``name`` (any revision of it)."""
    return definition in allowed or definition.rsplit(":", 1)[0] in allowed
