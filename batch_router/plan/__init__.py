"""One task try in, one SubmitJob request out: route, merge, shape per compute type, check.

Pure and deterministic (no AWS calls, no Airflow): ``Plan`` is the one entry point, used alike by the
executor, ``batch-router plan`` and the tests, so what ``plan`` prints is what the executor sends.
"""

from batch_router.plan.job_builder import build_submit_job
from batch_router.plan.merge import deep_merge
from batch_router.plan.model import BuiltJob, RouteChoice, TaskIdentity
from batch_router.plan.naming import ROUTE_TAG, TRY_ID_TAG, job_name, job_tags
from batch_router.plan.planner import DEFAULT_EXECUTOR_ENV, Plan
from batch_router.plan.router import choose_route

__all__ = [
    "DEFAULT_EXECUTOR_ENV",
    "ROUTE_TAG",
    "TRY_ID_TAG",
    "BuiltJob",
    "Plan",
    "RouteChoice",
    "TaskIdentity",
    "build_submit_job",
    "choose_route",
    "deep_merge",
    "job_name",
    "job_tags",
]
