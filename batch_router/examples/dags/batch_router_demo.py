"""The demo DAG: four tasks, four routes, chosen four different ways.

- ``small``: no hints, Airflow's default queue -> ``fargate-small`` (the default route);
- ``train_on_gpu``: the 1-GPU template -> ``ec2-gpu`` (the first route that can hold a GPU);
- ``on_eks``: ``compute: eks`` -> ``eks-general``;
- ``heavy_report``: Airflow ``queue="heavy"`` -> ``ec2-large`` (the route that lists that queue).
"""

from __future__ import annotations

import os
import platform

import pendulum
from airflow.sdk import dag, task

from batch_router import templates


def _where() -> str:
    return (
        f"route={os.environ.get('BATCH_ROUTER_ROUTE', '?')} "
        f"job={os.environ.get('AWS_BATCH_JOB_ID', 'local')} host={platform.node()}"
    )


@dag(
    dag_id="batch_router_demo",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["batch-router", "demo"],
)
def batch_router_demo() -> None:
    @task
    def small() -> int:
        print(f"a small task on Fargate: {_where()}")
        return 21

    @task(executor_config=templates.gpu(1))
    def train_on_gpu(x: int) -> int:
        print(f"training on a GPU route: {_where()}")
        return x * 2

    @task(executor_config={"compute": "eks", "vcpu": 1, "memory_mib": 2048})
    def on_eks() -> str:
        print(f"running on EKS: {_where()}")
        return "eks"

    @task(queue="heavy")
    def heavy_report(answer: int, where: str) -> None:
        print(f"heavy report on the 'heavy' queue: {_where()}; answer={answer} from={where}")

    heavy_report(train_on_gpu(small()), on_eks())  # type: ignore[arg-type]  # TaskFlow passes XComArgs


batch_router_demo()
