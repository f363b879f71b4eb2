"""What the executor did to a try, written where the task's own log pane finds it.

Airflow's UI asks the executor for a try's log only while the task is RUNNING (``get_task_log``); a
task queued, or failed by the executor before it ran, shows only what its log files hold. Airflow reads
every file of the try's log folder whose name starts with the try's log file name (``FileTaskHandler``
``_read_from_local``: ``attempt=1.log*``, inside ``[logging] base_log_folder``), so the executor writes
its notes beside it, as ``<the try's log file>.batch-router``, in the JSON lines Airflow's own task logs
use; the UI interleaves them with the task's lines by time. The path is Airflow's own rendering of
``[logging] log_filename_template`` for the try. The API server shows the notes when it reads the
scheduler's log folder (one host, or a shared volume, as for any local task log).

Notes are written on the scheduler thread: each is one small append, and they come a few per queue
(a job blocking its queue), one per failed try (every failure the executor decides: a refused
``executor_config``, no route, a job that failed or vanished) or per resubmission (a job lost before its
task started: a Spot reclaim, an image that could not be pulled), never one per try that runs. A running
try's route, job and links come from ``get_task_log`` instead (aws/task_logs.py), read by the API
server. A note that cannot be written is dropped with one line in the scheduler log, which says the same.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from batch_router.aws.log import Log
from batch_router.plan.model import TaskIdentity

__all__ = ["NOTES_SUFFIX", "TaskNotes", "airflow_task_notes", "identity_of_key"]

NOTES_SUFFIX = ".batch-router"


class TaskNotes:
    def __init__(self, base_folder: Path, render: Callable[..., str], log: Log):
        self._base = base_folder
        self._render = render
        self._log = log

    def path_of(self, identity: TaskIdentity) -> Path:
        ti = SimpleNamespace(
            dag_id=identity.dag_id,
            task_id=identity.task_id,
            run_id=identity.run_id,
            map_index=identity.map_index,
            try_number=identity.try_number,
        )
        return self._base / (self._render(ti=ti, try_number=identity.try_number) + NOTES_SUFFIX)

    def note(self, identity: TaskIdentity, text: str, *, level: str = "warning") -> None:
        """Append ``text`` to the try's notes; never raises."""
        try:
            path = self.path_of(identity)
            path.parent.mkdir(parents=True, exist_ok=True)
            line = {
                "timestamp": datetime.now(UTC).isoformat(),
                "event": text,
                "level": level,
                "logger": "batch_router.executor",
            }
            with path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
        except Exception as exc:
            with contextlib.suppress(Exception):
                self._log.info("batch-router: could not write a note for %s: %s", identity, exc)


def identity_of_key(key: Any) -> TaskIdentity | None:
    """The try a scheduler key (``TaskInstanceKey``) names, or None for a key that names no task."""
    try:
        return TaskIdentity(
            dag_id=str(key.dag_id),
            task_id=str(key.task_id),
            run_id=str(key.run_id),
            try_number=int(key.try_number),
            map_index=int(key.map_index),
        )
    except (AttributeError, TypeError, ValueError):
        return None


def airflow_task_notes(log: Log) -> TaskNotes:
    """Notes in Airflow's configured log folder, at the paths its log reader renders."""
    from airflow.configuration import conf
    from airflow.utils.helpers import log_filename_template_renderer

    render: Callable[..., Any] = log_filename_template_renderer()
    return TaskNotes(Path(conf.get("logging", "base_log_folder")).expanduser(), render, log)
