"""Make moto remember a compute environment's ``eksConfiguration``, as real AWS Batch does.

moto accepts ``eksConfiguration`` on CreateComputeEnvironment but neither stores nor returns it, so
DescribeComputeEnvironments makes an EKS environment look like an ECS one and the executor's start-up
health check (rightly) refuses an EKS route on it. While a LocalBatch runs, the create call records the
configuration and the describe call answers with it and with ``containerOrchestrationType``, as AWS does.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.batch.models import BatchBackend
from moto.batch.responses import BatchResponse

_lock = threading.Lock()
_eks_by_name: dict[str, dict[str, Any]] = {}
_original: dict[str, Any] = {}


def _create(self: BatchResponse) -> str:
    answer: str = _original["create"](self)
    config = self._get_param("eksConfiguration")
    if config:
        with _lock:
            _eks_by_name[json.loads(answer)["computeEnvironmentName"]] = dict(config)
    return answer


def _describe(self: BatchBackend, environments: list[str] | None = None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _original["describe"](self, environments)
    with _lock:
        for env in result:
            config = _eks_by_name.get(env.get("computeEnvironmentName", ""))
            env["containerOrchestrationType"] = "EKS" if config else "ECS"
            if config:
                env["eksConfiguration"] = dict(config)
                env.pop("ecsClusterArn", None)
    return result


def remember(name: str, config: dict[str, Any]) -> None:
    """Record an environment's EKS configuration made another way (CloudFormation, see
    ``cloudformation_gaps``), so it describes as AWS describes it."""
    with _lock:
        _eks_by_name[name] = dict(config)


def install() -> None:
    with _lock:
        if _original:
            return
        _original["create"] = BatchResponse.createcomputeenvironment
        _original["describe"] = BatchBackend.describe_compute_environments
        BatchResponse.createcomputeenvironment = _create  # type: ignore[method-assign]
        BatchBackend.describe_compute_environments = _describe  # type: ignore[method-assign]


def uninstall() -> None:
    with _lock:
        if not _original:
            return
        BatchResponse.createcomputeenvironment = _original.pop("create")  # type: ignore[method-assign]
        BatchBackend.describe_compute_environments = _original.pop("describe")  # type: ignore[method-assign]
        _eks_by_name.clear()
