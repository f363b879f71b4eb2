"""The environment every component of the stack, and every task process, runs with."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from batch_router.dev.airflow_stack.ports import HOST

__all__ = ["FAST_INTERVALS", "airflow_env", "parse_exports"]

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"

# Fast enough that a four-task DAG finishes in well under a minute on two cores, slow enough that the
# three components do not spend those cores polling SQLite. The health threshold is also how long a
# killed scheduler's tasks wait before a new scheduler adopts them.
FAST_INTERVALS: Mapping[str, str] = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "3",
    "AIRFLOW__SCHEDULER__POOL_METRICS_INTERVAL": "60",
    "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "600",
    "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
    "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "5",
}

DROPPED_PREFIXES = ("AIRFLOW", "AWS_")


def airflow_env(
    *,
    home: Path,
    dags_folder: Path,
    port: int,
    executor: str,
    jwt_secret: str,
    log_server_port: int,
    database_url: str | None = None,
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every component and every task process runs with.

    Every ``AIRFLOW*`` and ``AWS_*`` variable of ``base`` (the caller's environment) is dropped first,
    so that a developer's own settings, a test session's unit-test mode or a real AWS profile cannot
    leak into the stack; the local Batch's variables take the place of the AWS ones. The metadata
    database is SQLite in ``home`` unless ``database_url`` names another (PostgreSQL, for several
    schedulers).
    """
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(DROPPED_PREFIXES)}
    api_url = f"http://{HOST}:{port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url or f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": jwt_secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_port),
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "PYTHONUNBUFFERED": "1",
            **FAST_INTERVALS,
        }
    )
    env.update(extra or {})
    return env


def parse_exports(text: str) -> dict[str, str]:
    """``export NAME=value`` lines (POSIX shell quoting) as a dict; other lines are ignored."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("export "):
            continue
        words = shlex.split(line[len("export ") :])
        if len(words) == 1 and "=" in words[0]:
            name, value = words[0].split("=", 1)
            result[name] = value
    return result
