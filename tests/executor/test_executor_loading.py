"""Airflow loads the executor the ways users configure it: by module path, and by alias beside another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from airflow.executors import executor_loader
from airflow.executors.executor_loader import ExecutorLoader
from airflow.executors.local_executor import LocalExecutor

from batch_router.executor import BatchRouterExecutor

PATH = "batch_router.executor.BatchRouterExecutor"


@pytest.fixture
def fresh_loader(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ExecutorLoader caches what it parsed from [core] executor; each test starts from nothing."""
    caches = [
        executor_loader._executor_names,
        executor_loader._alias_to_executors_per_team,
        executor_loader._module_to_executors_per_team,
        executor_loader._classname_to_executors_per_team,
    ]
    saved = [c.copy() for c in caches]
    for cache in caches:
        cache.clear()
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__JOB_QUEUE", "q")
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__JOB_DEFINITION", "d")
    yield
    for cache, old in zip(caches, saved, strict=True):
        cache.clear()
        if isinstance(cache, dict):
            cache.update(old)
        else:
            cache.extend(old)


def test_the_executor_loads_as_the_only_executor_by_module_path(
    fresh_loader: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", PATH)
    [executor] = ExecutorLoader.init_executors()
    assert isinstance(executor, BatchRouterExecutor)
    assert executor.name is not None and executor.name.module_path == PATH


def test_the_executor_loads_by_alias_beside_the_local_executor(
    fresh_loader: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", f"LocalExecutor,batch:{PATH}")
    executors = ExecutorLoader.init_executors()
    assert [type(e) for e in executors] == [LocalExecutor, BatchRouterExecutor]
    assert isinstance(
        ExecutorLoader.load_executor("batch"), BatchRouterExecutor
    )  # task-level executor="batch"


def test_the_executor_asks_the_scheduler_for_a_pre_assigned_try_id() -> None:
    # With several executors the scheduler pre-assigns external_executor_id only to opted-in ones.
    assert BatchRouterExecutor.pre_assigns_external_executor_id is True
    assert BatchRouterExecutor.supports_multi_team is True
