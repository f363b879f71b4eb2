"""One task that always raises, with one retry one second later: two tries, two Batch jobs."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="e2e_retry", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_retry() -> None:
    @task(retries=1, retry_delay=timedelta(seconds=1))
    def always_fails() -> None:
        raise RuntimeError("this task fails on purpose")

    always_fails()


e2e_retry()
