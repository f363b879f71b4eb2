"""The plan the executor would run with here: ``plan`` and ``validate`` answer for it, not for an example.

Settings are read from the environment and airflow.cfg exactly as the executor reads them
(``load_settings`` over Airflow's ``conf``), and the route table is what the executor would use:
``--routes`` when given, else ROUTES_FILE, inline ROUTES, or the implicit route of JOB_QUEUE /
JOB_DEFINITION. Only when none of these is configured does ``plan`` fall back to the bundled example,
and it says so.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch_router.config.routes import IMPLICIT_SOURCE, INLINE_SOURCE
from batch_router.config.settings import ExecutorSettings, load_settings
from batch_router.plan.planner import Plan

__all__ = ["Configured", "NothingConfigured", "configured_plan", "stdout_to_stderr"]


class NothingConfigured(Exception):
    """No route table, no JOB_QUEUE / JOB_DEFINITION, and no example to fall back to."""


@dataclass(frozen=True)
class Configured:
    plan: Plan
    settings: ExecutorSettings
    source: str  # where the route table came from, in words
    example: bool  # the bundled example, because nothing was configured


class _WithRoutes:
    """Airflow's conf with ROUTES_FILE pointing at one file (and ROUTES unset)."""

    def __init__(self, inner: Any, routes_file: Path):
        self._inner = inner
        self._routes_file = routes_file

    def get(self, section: str, key: str, *args: Any, **kwargs: Any) -> Any:
        if key == "routes_file":
            return str(self._routes_file)
        if key == "routes":
            return None
        return self._inner.get(section, key, *args, **kwargs)


def configured_plan(routes: Path | None, *, example: Path | None = None) -> Configured:
    """Raises ``ConfigError`` for bad settings or a bad table, ``NothingConfigured`` when nothing is
    configured and there is no ``example``."""
    with stdout_to_stderr():  # importing Airflow's configuration may log
        from airflow.configuration import conf

    default_queue = conf.get("operators", "default_queue", fallback="default") or "default"
    if routes is not None:
        settings = load_settings(_WithRoutes(conf, routes), route_table_given=True)
        return Configured(_plan(settings, default_queue), settings, f"the route file {routes}", False)
    settings = load_settings(conf, route_table_given=True)
    if settings.has_route_table:
        source = f"the route file {settings.routes_file}" if settings.routes_file else INLINE_SOURCE
        return Configured(_plan(settings, default_queue), settings, source, False)
    if settings.job_queue is not None or settings.job_definition is not None:
        settings = load_settings(conf)  # one without the other is the error start-up gives
        return Configured(_plan(settings, default_queue), settings, IMPLICIT_SOURCE, False)
    if example is None:
        raise NothingConfigured(
            "nothing to check: no ROUTES_FILE, ROUTES or JOB_QUEUE / JOB_DEFINITION in [aws_batch_executor]"
            " (environment or airflow.cfg); give a route file"
        )
    settings = load_settings(_WithRoutes(conf, example), route_table_given=True)
    source = f"the bundled example route table {example}"
    return Configured(_plan(settings, default_queue), settings, source, True)


def _plan(settings: ExecutorSettings, default_queue: str) -> Plan:
    return Plan.from_settings(settings, default_queue=default_queue)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout, by Python or by loggers holding the raw stream, to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
