"""Six tasks that keep running until the HA test drops a release file next to this DAG file.

Half go to the Fargate route, half (Airflow queue ``heavy``) to EC2, so adoption finds jobs in two job
queues. ``retries=0``: a try lost or run twice would show as a failure or a second try, not be hidden.
"""

from __future__ import annotations

import time
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

RELEASE_FILE = Path(__file__).with_name("e2e_ha.release")
TASKS = 6


def _wait_for_release(limit_seconds: float = 240.0) -> None:
    deadline = time.monotonic() + limit_seconds
    while not RELEASE_FILE.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{RELEASE_FILE} did not appear within {limit_seconds:.0f}s")
        time.sleep(0.2)


@dag(
    dag_id="e2e_ha",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=TASKS,
    default_args={"retries": 0},
)
def e2e_ha() -> None:
    for n in range(TASKS):
        task(task_id=f"wait_{n:02d}", queue="heavy" if n % 2 else "default")(_wait_for_release)()


e2e_ha()
