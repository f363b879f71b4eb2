"""Make moto take ECS Managed Instances routes as AWS Batch does, so the local Batch runs them.

moto knows neither compute environments of type ECS_MANAGED_INSTANCES (it wants instance roles and
types for any type but Fargate's, and launches EC2 instances for them) nor ``ecsProperties`` job
definitions and ``ecsPropertiesOverride`` requests ("containerProperties or eksProperties must be
provided"). While a LocalBatch runs, these wrappers translate at moto's edge:

- such a compute environment is made as moto makes a Fargate one (no instances), its networking taken
  from ``managedInstancesProvider``, and described with the type and provider it was given;
- an ``ecsProperties`` job definition is kept by moto as the container its task's first container is (so
  moto validates it and the runner runs it), and described as it was registered;
- a request's ``ecsPropertiesOverride`` first container becomes the job's container overrides, and the
  job is described with its container under ``ecsProperties.taskProperties[0].containers[0]`` and its
  attempts' under ``taskProperties``, as DescribeJobs answers for a job on ECS Managed Instances.

Only what batch-router's routes use is translated: one task, whose first container runs the command.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from moto.batch.models import BatchBackend
from moto.batch.responses import BatchResponse

__all__ = ["install", "uninstall"]

_TYPE = "ECS_MANAGED_INSTANCES"
_lock = threading.Lock()
_ecs_by_definition: dict[str, dict[str, Any]] = {}  # job definition ARN -> its ecsProperties
_original: dict[str, Any] = {}


def _create_environment(self: BatchBackend, *args: Any, **kwargs: Any) -> Any:
    names = ("compute_environment_name", "_type", "state", "compute_resources", "service_role", "tags")
    call = dict(zip(names, args, strict=False)) | kwargs
    resources = call.get("compute_resources") or {}
    if resources.get("type") != _TYPE:
        return _original["create_environment"](self, **call)
    network = ((resources.get("managedInstancesProvider") or {}).get("instanceLaunchTemplate") or {}).get(
        "networkConfiguration"
    ) or {}
    as_fargate = {
        "type": "FARGATE",
        "maxvCpus": resources.get("maxvCpus"),
        "subnets": list(network.get("subnets") or ()),
        "securityGroupIds": list(network.get("securityGroups") or ()),
    }
    environment = _original["create_environment"](self, **(call | {"compute_resources": as_fargate}))
    environment.compute_resources = copy.deepcopy(resources)
    return environment


def _first_container(ecs: Any) -> dict[str, Any]:
    tasks = (ecs or {}).get("taskProperties") or [{}]
    containers = (tasks[0] or {}).get("containers") or [{}]
    return dict(containers[0] or {})


def _register(self: BatchResponse) -> str:
    ecs = self._get_param("ecsProperties")
    if not ecs or self._get_param("containerProperties"):
        registered: str = _original["register"](self)
        return registered
    container = _first_container(ecs)
    container.pop("name", None)
    container.pop("essential", None)
    job_def = self.batch_backend.register_job_definition(
        def_name=self._get_param("jobDefinitionName"),
        parameters=self._get_param("parameters"),
        _type=self._get_param("type"),
        tags=self._get_param("tags"),
        retry_strategy=self._get_param("retryStrategy"),
        container_properties=container,
        node_properties=None,
        eks_properties=None,
        timeout=self._get_param("timeout"),
        platform_capabilities=self._get_param("platformCapabilities"),
        propagate_tags=self._get_param("propagateTags"),
    )
    with _lock:
        _ecs_by_definition[job_def.arn] = copy.deepcopy(ecs)
    return json.dumps(
        {"jobDefinitionArn": job_def.arn, "jobDefinitionName": job_def.name, "revision": job_def.revision}
    )


def _describe_definitions(self: BatchResponse) -> str:
    answer = json.loads(_original["describe_definitions"](self))
    with _lock:
        for definition in answer.get("jobDefinitions", []):
            ecs = _ecs_by_definition.get(definition.get("jobDefinitionArn", ""))
            if ecs is not None:
                definition.pop("containerProperties", None)
                definition["ecsProperties"] = copy.deepcopy(ecs)
    return json.dumps(answer)


def _submit(self: BatchResponse) -> str:
    override = self._get_param("ecsPropertiesOverride")
    if not override or self._get_param("containerOverrides"):
        answer: str = _original["submit"](self)
        return answer
    name, job_id, job_arn = self.batch_backend.submit_job(
        self._get_param("jobName"),
        self._get_param("jobDefinition"),
        self._get_param("jobQueue"),
        depends_on=self._get_param("dependsOn"),
        container_overrides={k: v for k, v in _first_container(override).items() if k != "name"},
        eks_properties_override=None,
        timeout=self._get_param("timeout"),
        array_properties=self._get_param("arrayProperties", {}),
        parameters=self._get_param("parameters"),
        tags=self._get_param("tags"),
    )
    return json.dumps({"jobId": job_id, "jobName": name, "jobArn": job_arn})


def _describe_jobs(self: BatchBackend, jobs: list[str] | None) -> list[dict[str, Any]]:
    # A copy: moto's descriptions share their attempts with the jobs it keeps (the runner writes them).
    described: list[dict[str, Any]] = copy.deepcopy(_original["describe_jobs"](self, jobs))
    with _lock:
        for job in described:
            ecs = _ecs_by_definition.get(job.get("jobDefinition", ""))
            if ecs is None:
                continue
            container = {"name": _first_container(ecs).get("name"), **(job.pop("container", None) or {})}
            job["ecsProperties"] = {"taskProperties": [{"containers": [container]}]}
            for attempt in job.get("attempts") or ():
                if attempt.get("container") is not None:
                    attempt["taskProperties"] = [{"containers": [attempt.pop("container")]}]
    return described


def install() -> None:
    with _lock:
        if _original:
            return
        _original["create_environment"] = BatchBackend.create_compute_environment
        _original["register"] = BatchResponse.registerjobdefinition
        _original["describe_definitions"] = BatchResponse.describejobdefinitions
        _original["submit"] = BatchResponse.submitjob
        _original["describe_jobs"] = BatchBackend.describe_jobs
        BatchBackend.create_compute_environment = _create_environment  # type: ignore[method-assign]
        BatchResponse.registerjobdefinition = _register  # type: ignore[method-assign]
        BatchResponse.describejobdefinitions = _describe_definitions  # type: ignore[method-assign]
        BatchResponse.submitjob = _submit  # type: ignore[method-assign]
        BatchBackend.describe_jobs = _describe_jobs  # type: ignore[method-assign]


def uninstall() -> None:
    with _lock:
        if not _original:
            return
        BatchBackend.create_compute_environment = _original.pop("create_environment")  # type: ignore[method-assign]
        BatchResponse.registerjobdefinition = _original.pop("register")  # type: ignore[method-assign]
        BatchResponse.describejobdefinitions = _original.pop("describe_definitions")  # type: ignore[method-assign]
        BatchResponse.submitjob = _original.pop("submit")  # type: ignore[method-assign]
        BatchBackend.describe_jobs = _original.pop("describe_jobs")  # type: ignore[method-assign]
        _ecs_by_definition.clear()
