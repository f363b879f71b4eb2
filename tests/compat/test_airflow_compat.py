"""Airflow still has what ``compat.airflow`` reads; when one of these fails, re-read that part of Airflow."""

from __future__ import annotations

import hashlib
import inspect
from collections import deque
from types import SimpleNamespace
from typing import Any

from airflow.executors.base_executor import BaseExecutor

from batch_router.compat.airflow import EVENT_LOG_ATTRIBUTE, airflow_stats, select_queued

# BaseExecutor's selection as select_queued was written against (Airflow 3.3).
SELECTION_SHA256 = "d09066ef5300a9cf"


def _source_hash(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def test_base_executors_selection_is_the_one_select_queued_copies() -> None:
    assert _source_hash(BaseExecutor._get_workloads_to_schedule) == SELECTION_SHA256, (
        "BaseExecutor._get_workloads_to_schedule changed: make compat.airflow.select_queued select as it "
        "does now, then record its new hash here"
    )


def test_select_queued_picks_callbacks_first_then_tasks_by_priority_as_base_executor_does() -> None:
    def task(weight: int) -> Any:
        return SimpleNamespace(ti=SimpleNamespace(priority_weight=weight))

    executor = BaseExecutor()
    executor.queued_callbacks.update({"cb1": object(), "cb2": object()})  # type: ignore[dict-item]
    executor.queued_tasks.update({"low": task(1), "high": task(9), "mid": task(5)})  # type: ignore[dict-item]

    ours = select_queued(executor, 4)
    theirs = [key for key, _ in executor._get_workloads_to_schedule(4)]

    assert ours is not None
    assert [*ours[0], *ours[1]] == theirs == ["cb1", "cb2", "high", "mid"]


def test_an_executor_still_keeps_its_task_events_in_the_attribute_the_scheduler_drains() -> None:
    assert isinstance(getattr(BaseExecutor(), EVENT_LOG_ATTRIBUTE), deque)
    source = inspect.getsource(inspect.getmodule(BaseExecutor))  # type: ignore[arg-type]
    assert f"self.{EVENT_LOG_ATTRIBUTE}" in source


def test_airflows_metrics_module_still_counts_and_gauges() -> None:
    stats = airflow_stats()

    assert callable(stats.incr) and callable(stats.gauge)


def test_the_settings_name_environment_variables_as_airflows_configuration_does() -> None:
    """config.settings writes the names itself (the pure config room does not reach into Airflow's
    parser, whose ``_env_var_name`` is private); this fails when Airflow names them otherwise."""
    from airflow.configuration import conf

    from batch_router.config.settings import SECTION, _env_names

    for key, team in (("job_queue", None), ("submit_job_kwargs", "team_a"), ("ROUTES_FILE", "Data")):
        ours = _env_names(key, team)
        theirs = conf._env_var_name(SECTION, key, team_name=team)
        assert ours == [theirs, f"{theirs}_CMD", f"{theirs}_SECRET"]
