"""Three tasks, one of them with an exec_config that misspells ``containerOverrides``."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="e2e_bad_config", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False
)
def e2e_bad_config() -> None:
    @task(executor_config={"containerOverride": {}})
    def misconfigured() -> None:
        print("never runs: its exec_config is invalid")

    @task
    def fine_one() -> int:
        return 1

    @task
    def fine_two() -> int:
        return 2

    misconfigured()
    fine_one()
    fine_two()


e2e_bad_config()
