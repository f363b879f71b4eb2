"""GetJobQueueSnapshot on the local Batch, which moto does not answer.

AWS Batch's answer (API_GetJobQueueSnapshot): ``frontOfQueue.jobs``, the first 100 RUNNABLE jobs in the
order they will be dispatched (job ARN and ``earliestTimeAtPosition``), and ``queueUtilization``, the
capacity the queue's dispatched jobs use (``totalCapacityUsage``: capacity unit and quantity). The local
Batch dispatches in creation order, so that is the order given; the capacity in use is the vCPUs of its
STARTING and RUNNING jobs, as their job definitions and overrides ask.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from moto.batch import urls as batch_urls
from moto.batch.responses import BatchResponse

__all__ = ["install", "uninstall"]

_PATH = "{0}/v1/getjobqueuesnapshot$"
_FRONT_MAX = 100
_lock = threading.Lock()


def _vcpus(job: Any) -> float:
    """The vCPUs a moto job asks for: its overrides' resourceRequirements, else its definition's."""
    total = 0.0
    for source in (getattr(job, "container_overrides", None) or {}, _definition_container(job)):
        for requirement in source.get("resourceRequirements") or ():
            if requirement.get("type") == "VCPU":
                return float(requirement.get("value") or 0)
        if source.get("vcpus"):
            total = float(source["vcpus"])
    return total


def _definition_container(job: Any) -> Mapping[str, Any]:
    definition = getattr(job, "job_definition", None)
    return (getattr(definition, "container_properties", None) or {}) if definition is not None else {}


def _snapshot(self: BatchResponse) -> str:
    name = str(self._get_param("jobQueue"))
    backend = self.batch_backend
    queue = backend.get_job_queue(name)
    if queue is None:
        from moto.batch.exceptions import ClientException

        raise ClientException(f"Job queue {name} does not exist")
    jobs = list(queue.jobs)
    waiting = sorted((j for j in jobs if j.status == "RUNNABLE"), key=lambda j: j.job_created_at)
    dispatched = [j for j in jobs if j.status in ("STARTING", "RUNNING")]
    now_ms = int(time.time() * 1000)
    return json.dumps(
        {
            "frontOfQueue": {
                "jobs": [
                    {"jobArn": j.arn, "earliestTimeAtPosition": int(j.job_created_at.timestamp() * 1000)}
                    for j in waiting[:_FRONT_MAX]
                ],
                "lastUpdatedAt": now_ms,
            },
            "queueUtilization": {
                "totalCapacityUsage": [
                    {"capacityUnit": "VCPU", "quantity": sum(_vcpus(j) for j in dispatched)}
                ],
                "lastUpdatedAt": now_ms,
            },
        }
    )


def install() -> None:
    with _lock:
        batch_urls.url_paths[_PATH] = BatchResponse.dispatch
        BatchResponse.getjobqueuesnapshot = _snapshot  # type: ignore[attr-defined]


def uninstall() -> None:
    with _lock:
        batch_urls.url_paths.pop(_PATH, None)
        if hasattr(BatchResponse, "getjobqueuesnapshot"):
            del BatchResponse.getjobqueuesnapshot
