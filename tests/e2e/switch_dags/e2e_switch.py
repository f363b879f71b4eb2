"""One task that keeps running until the test drops a release file next to this DAG file.

It starts under the amazon provider's AwsBatchExecutor; the test kills that scheduler, starts one with
batch-router on the same options, and releases the task only after batch-router has taken it over.
"""

from __future__ import annotations

import time
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

RELEASE_FILE = Path(__file__).with_name("e2e_switch.release")


@dag(dag_id="e2e_switch", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def e2e_switch() -> None:
    @task
    def long_running() -> None:
        deadline = time.monotonic() + 180
        while not RELEASE_FILE.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{RELEASE_FILE} did not appear")
            time.sleep(0.2)

    long_running()


e2e_switch()
