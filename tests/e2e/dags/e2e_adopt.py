"""Two tasks that keep running until the test drops a release file next to this DAG file.

The test kills the scheduler while both run, starts a new one, and releases them only after the new
scheduler has taken over, so the new scheduler must adopt jobs that are still running.
"""

from __future__ import annotations

import time
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

RELEASE_FILE = Path(__file__).with_name("e2e_adopt.release")


def _wait_for_release(limit_seconds: float = 120.0) -> None:
    deadline = time.monotonic() + limit_seconds
    while not RELEASE_FILE.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{RELEASE_FILE} did not appear within {limit_seconds:.0f}s")
        time.sleep(0.2)


@dag(dag_id="e2e_adopt", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_adopt() -> None:
    @task
    def first() -> None:
        _wait_for_release()

    @task
    def second() -> None:
        _wait_for_release()

    first()
    second()


e2e_adopt()
