"""One task on an ECS Managed Instances route: it runs as an ECS task (ecsProperties) and succeeds."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="e2e_managed", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_managed() -> None:
    @task(executor_config={"compute": "ecs-managed-instances", "vcpu": 2, "memory_mib": 4096})
    def on_managed_instances() -> str:
        return "ran as an ECS task"

    on_managed_instances()


e2e_managed()
