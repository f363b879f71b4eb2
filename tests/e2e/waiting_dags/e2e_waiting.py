"""One task that asks for more vCPUs than its route's compute environments may ever run."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="e2e_waiting", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_waiting() -> None:
    @task(executor_config={"route": "undersized", "vcpu": 4, "memory_mib": 8192}, retries=0)
    def too_big() -> None:
        print("never runs: no compute environment of its queue may run 4 vCPUs")

    too_big()


e2e_waiting()
