"""One task on a route whose queue has no capacity: its job waits in RUNNABLE."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="e2e_held", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_held() -> None:
    @task(executor_config={"route": "held"})
    def waits() -> None:
        print("runs once capacity comes back")

    waits()


e2e_held()
