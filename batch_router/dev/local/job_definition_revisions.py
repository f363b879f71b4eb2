"""Make moto find a job definition named with its revision (``airflow-worker:4``), as AWS Batch does.

DescribeJobDefinitions takes "a short version using the form ${JobDefinitionName}:${Revision}" in
``jobDefinitions`` (API_DescribeJobDefinitions), and JOB_DEFINITION may pin a revision that way
(docs/local.md). moto's describe matches only names and ARNs there, so the health check of a pinned
revision would say it does not exist. While a LocalBatch runs (and around the executor tests' moto),
the look-up also takes ``name:revision``.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.batch.models import BatchBackend

__all__ = ["install", "uninstall"]

_lock = threading.Lock()
_original: dict[str, Any] = {}


def _get_job_definitions(self: BatchBackend, identifier: str) -> list[Any]:
    found: list[Any] = _original["get"](self, identifier)
    if found or identifier.startswith("arn:") or ":" not in identifier:
        return found
    name, revision = identifier.rsplit(":", 1)
    if not revision.isdigit():
        return found
    definition = self.get_job_definition_by_name_revision(name, revision)
    return [definition] if definition is not None else []


def install() -> None:
    with _lock:
        if _original:
            return
        _original["get"] = BatchBackend.get_job_definitions
        BatchBackend.get_job_definitions = _get_job_definitions  # type: ignore[method-assign]


def uninstall() -> None:
    with _lock:
        if not _original:
            return
        BatchBackend.get_job_definitions = _original.pop("get")  # type: ignore[method-assign]
