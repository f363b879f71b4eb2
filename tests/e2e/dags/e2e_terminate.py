"""One task that sleeps until its Batch job is terminated (it gives up by itself after 90 seconds)."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="e2e_terminate", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_terminate() -> None:
    @task
    def sleeps() -> None:
        time.sleep(90)

    sleeps()


e2e_terminate()
