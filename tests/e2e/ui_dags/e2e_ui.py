"""Five tasks on three routes for the Batch routes page's browser test.

``quick`` and ``heavy`` succeed; ``fails`` raises (Airflow marks the task failed, and its job, whose
runner reported that, succeeds); ``killed`` takes its container down (as the OOM killer would), so the
job itself fails with exit code 137 and the executor fails the task with the job's reason; ``sleeper``
runs long enough for the page to show it RUNNING, then see it end.
"""

from __future__ import annotations

import os
import signal
import time

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="e2e_ui", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_ui() -> None:
    @task
    def quick() -> str:
        return "fargate-small, the default route"

    @task(retries=0)
    def fails() -> None:
        raise RuntimeError("this task fails on purpose")

    @task(retries=0)
    def killed() -> None:
        os.kill(os.getppid(), signal.SIGKILL)  # the Task SDK's supervisor: the container's main process
        time.sleep(60)

    @task(queue="heavy")
    def heavy() -> str:
        return "ec2-large, the route of the 'heavy' queue"

    @task(executor_config={"route": "ec2-gpu"})
    def sleeper() -> None:
        time.sleep(40)

    quick()
    fails()
    killed()
    heavy()
    sleeper()


e2e_ui()
