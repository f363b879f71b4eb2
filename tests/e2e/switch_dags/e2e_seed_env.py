"""Under batch-router with only the seed's options: the task's own variable wins over SUBMIT_JOB_KWARGS's
of the same name, and the others SUBMIT_JOB_KWARGS set are still there; the task checks it itself."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

OVERRIDE = {"containerOverrides": {"environment": [{"name": "STAGE", "value": "dev"}]}}


@dag(dag_id="e2e_seed_env", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_seed_env() -> None:
    @task(executor_config=OVERRIDE)
    def sees_its_own_variable() -> None:
        found = (os.environ.get("STAGE"), os.environ.get("KEEP"))
        if found != ("dev", "1"):
            raise AssertionError(f"STAGE, KEEP = {found}")

    sees_its_own_variable()


e2e_seed_env()
