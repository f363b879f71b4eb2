"""Real ``ExecuteTask`` workloads, shaped as the scheduler hands them to an executor.

Each has its own task instance uuid, a pre-assigned ``external_executor_id`` (as the scheduler sets for
executors that ask for one) and no ``executor_config``, so both executors build the same plain job.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from airflow.executors.workloads import BundleInfo, ExecuteTask
from airflow.executors.workloads.task import TaskInstanceDTO

DAG_ID = "benchmark"
RUN_ID = "manual__2026-01-01T00:00:00+00:00"
TOKEN = "benchmark-token"  # a fixed string: the fake API never checks it, and nothing runs the task


def make_workloads(count: int, *, dag_id: str = DAG_ID, run_id: str = RUN_ID) -> list[ExecuteTask]:
    dag_version_id = uuid.uuid4()
    return [
        ExecuteTask(
            ti=TaskInstanceDTO(
                id=uuid.uuid4(),
                dag_id=dag_id,
                task_id=f"task_{index:05d}",
                run_id=run_id,
                try_number=1,
                map_index=-1,
                dag_version_id=dag_version_id,
                queue="default",
                pool_slots=1,
                priority_weight=1,
                executor_config=None,
                external_executor_id=str(uuid.uuid4()),
            ),
            dag_rel_path=Path(f"{dag_id}.py"),
            token=TOKEN,
            log_path=f"dag_id={dag_id}/run_id={run_id}/task_id=task_{index:05d}/attempt=1.log",
            bundle_info=BundleInfo(name="dags-folder"),
        )
        for index in range(count)
    ]
