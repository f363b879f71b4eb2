"""``batch-router demo``: the example DAG through BatchRouterExecutor on a real Airflow and a local Batch."""

from batch_router.dev.demo.batch_jobs import (
    BatchJob,
    batch_job_from_description,
    latest_job_per_task,
    list_batch_jobs,
    wait_batch_jobs_ended,
)
from batch_router.dev.demo.report import TaskRow, all_succeeded, render_table, summary_rows
from batch_router.dev.demo.run import DEMO_DAG_ID, EXECUTOR, executor_env, run_demo

__all__ = [
    "DEMO_DAG_ID",
    "EXECUTOR",
    "BatchJob",
    "TaskRow",
    "all_succeeded",
    "batch_job_from_description",
    "executor_env",
    "latest_job_per_task",
    "list_batch_jobs",
    "render_table",
    "run_demo",
    "summary_rows",
    "wait_batch_jobs_ended",
]
