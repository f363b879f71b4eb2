"""moto's CloudFormation for AWS Batch, its gaps closed so `batch-router provision`'s template deploys
on the local Batch (`aws cloudformation create-stack`) as it does on AWS.

Each gap below is moto's, not AWS's: the template users get is deployed unchanged, and moto is taught
to read it as AWS Batch does. Found while deploying the templates (moto 5):

1. AWS::Batch::ComputeEnvironment: ``ServiceRole`` is required (a KeyError without it, answered as HTTP
   500); AWS makes it optional and uses the AWSServiceRoleForBatch service-linked role, which it creates
   itself (AWS Batch User Guide, "Using service-linked roles for AWS Batch"). ``EksConfiguration`` is
   dropped, so an EKS environment describes as an ECS one; ``Tags`` are dropped.
2. AWS::Batch::JobQueue: ``SchedulingPolicyArn`` is dropped (every queue describes without one).
3. AWS::Batch::JobDefinition: ``RetryStrategy`` is required (a KeyError without it; AWS makes it
   optional); ``PlatformCapabilities`` is dropped, so a Fargate job definition describes as EC2; only
   the first level of keys is lower-cased, so nested properties keep CloudFormation's spelling.
4. AWS::Batch::SchedulingPolicy is not supported at all (moto warns and skips it).
5. CreateComputeEnvironment (any path) refuses the instance types ``default_x86_64`` and
   ``default_arm64``, which AWS Batch accepts (API_ComputeResource, instanceTypes).

``install`` patches moto's classes for the whole process (a LocalBatch owns moto's state while it
runs; the tests install it around their own moto), ``uninstall`` puts them back.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.batch import models as batch_models
from moto.batch.models import batch_backends
from moto.core.common_models import CloudFormationModel

from batch_router.dev.local import eks_environments

__all__ = ["SERVICE_LINKED_ROLE", "api_keys", "install", "uninstall"]

SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"
_SERVICE_LINKED_PATH = "/aws-service-role/batch.amazonaws.com/"
# Maps whose keys are data (tag names, log driver options), not CloudFormation property names.
_DATA_MAPS = frozenset({"Options", "Tags", "Labels", "Annotations", "Limits", "Requests", "Parameters"})
_BUNDLES = {"default_x86_64": "m6i", "default_arm64": "m6g"}  # the first family of each bundle

_lock = threading.Lock()
_original: dict[str, Any] = {}


def api_keys(value: Any, *, data: bool = False) -> Any:
    """CloudFormation's PascalCase property names as the API's camelCase, at every level."""
    if isinstance(value, list):
        return [api_keys(item) for item in value]
    if isinstance(value, dict):
        return {
            (key if data else key[:1].lower() + key[1:]): api_keys(item, data=key in _DATA_MAPS)
            for key, item in value.items()
        }
    return value


class _SchedulingPolicy(CloudFormationModel):
    """Gap 4: a scheduling policy made through CloudFormation, as the API would make it. Defining the
    class registers it with moto's CloudFormation (by its module's service)."""

    __module__ = "moto.batch.models"

    def __init__(self, arn: str):
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Batch::SchedulingPolicy"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> _SchedulingPolicy:
        properties = cloudformation_json["Properties"]
        backend = batch_backends[account_id][region_name]
        fairshare = api_keys(properties.get("FairsharePolicy") or {})
        policy = backend.create_scheduling_policy(properties.get("Name", resource_name), fairshare, {})
        return cls(policy.arn)


def _service_linked_role(backend: Any) -> str:
    """The ARN of AWSServiceRoleForBatch in the backend's account, made the first time, as AWS does."""
    iam = backend.iam_backend
    try:
        role = iam.get_role(SERVICE_LINKED_ROLE)
    except Exception:  # moto raises its own IAMNotFoundException
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "batch.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(
            SERVICE_LINKED_ROLE, json.dumps(trust), _SERVICE_LINKED_PATH, None, "", [], None
        )
    return str(role.arn)


def _compute_environment(
    cls: Any, /, name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
) -> Any:
    properties = cloudformation_json["Properties"]
    backend = batch_backends[account_id][region_name]
    name = properties.get("ComputeEnvironmentName", name)
    env = backend.create_compute_environment(
        name,
        properties["Type"],
        properties.get("State", "ENABLED"),
        api_keys(properties["ComputeResources"]),
        properties.get("ServiceRole") or _service_linked_role(backend),
        tags=properties.get("Tags"),
    )
    if properties.get("EksConfiguration"):
        eks_environments.remember(name, api_keys(properties["EksConfiguration"]))
    return env


def _job_queue(
    cls: Any, /, name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
) -> Any:
    properties = cloudformation_json["Properties"]
    return batch_backends[account_id][region_name].create_job_queue(
        queue_name=properties.get("JobQueueName", name),
        priority=properties["Priority"],
        state=properties.get("State", "ENABLED"),
        compute_env_order=api_keys(properties["ComputeEnvironmentOrder"]),
        schedule_policy=properties.get("SchedulingPolicyArn"),
        tags=properties.get("Tags"),
    )


def _job_definition(
    cls: Any, /, name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
) -> Any:
    properties = cloudformation_json["Properties"]
    return batch_backends[account_id][region_name].register_job_definition(
        def_name=properties.get("JobDefinitionName", name),
        parameters=properties.get("Parameters", {}),
        _type=properties.get("Type", "container"),
        tags=properties.get("Tags", {}),
        retry_strategy=api_keys(properties.get("RetryStrategy", {})),
        container_properties=api_keys(properties["ContainerProperties"])
        if "ContainerProperties" in properties
        else None,
        node_properties=None,
        eks_properties=api_keys(properties["EksProperties"]) if "EksProperties" in properties else None,
        timeout=api_keys(properties.get("Timeout", {})),
        platform_capabilities=properties.get("PlatformCapabilities"),
        propagate_tags=properties.get("PropagateTags"),
    )


def _find_min_instances(instance_types: list[str], target: float) -> list[str]:
    found: list[str] = _original["sizing"]([_BUNDLES.get(t, t) for t in instance_types], target)
    return found


def _patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for gaps 1-3 and 5 (gap 4 is closed by defining the class)."""
    families = getattr(batch_models, "EC2_INSTANCE_FAMILIES")  # noqa: B009 - moto does not export it
    return [
        (batch_models, "EC2_INSTANCE_FAMILIES", {*families, *_BUNDLES}),
        (batch_models.BatchBackend, "find_min_instances_to_meet_vcpus", staticmethod(_find_min_instances)),
        (
            batch_models.ComputeEnvironment,
            "create_from_cloudformation_json",
            classmethod(_compute_environment),
        ),
        (batch_models.JobQueue, "create_from_cloudformation_json", classmethod(_job_queue)),
        (batch_models.JobDefinition, "create_from_cloudformation_json", classmethod(_job_definition)),
    ]


def install() -> None:
    """Close gaps 1-5 (and install ``eks_environments``, which gap 1's EKS half records into)."""
    with _lock:
        if _original:
            return
        eks_environments.install()
        _original["sizing"] = batch_models.BatchBackend.find_min_instances_to_meet_vcpus
        for owner, name, replacement in _patches():
            _original[f"{id(owner)}.{name}"] = (owner, name, vars(owner)[name])
            setattr(owner, name, replacement)


def uninstall() -> None:
    with _lock:
        if not _original:
            return
        _original.pop("sizing")
        for owner, name, value in _original.values():
            setattr(owner, name, value)
        _original.clear()
        eks_environments.uninstall()
