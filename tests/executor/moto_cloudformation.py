"""moto's CloudFormation for AWS Batch, with its gaps closed for the provisioning tests.

Each gap below is moto's, not AWS's: the template users get is deployed unchanged, and moto is taught
to read it as AWS Batch does. Found while deploying ``batch-router provision``'s templates (moto 5):

1. AWS::Batch::ComputeEnvironment: ``ServiceRole`` is required (a KeyError without it); AWS makes it
   optional and uses the AWSServiceRoleForBatch service-linked role. ``EksConfiguration`` is dropped,
   so an EKS environment describes as an ECS one; ``Tags`` are dropped.
2. AWS::Batch::JobQueue: ``SchedulingPolicyArn`` is dropped (every queue describes without one).
3. AWS::Batch::JobDefinition: ``RetryStrategy`` is required (a KeyError without it; AWS makes it
   optional); ``PlatformCapabilities`` is dropped, so a Fargate job definition describes as EC2; only
   the first level of keys is lower-cased, so nested properties keep CloudFormation's spelling.
4. AWS::Batch::SchedulingPolicy is not supported at all (moto warns and skips it).
5. CreateComputeEnvironment (any path) refuses the instance types ``default_x86_64`` and
   ``default_arm64``, which AWS Batch accepts (API_ComputeResource, instanceTypes).
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.batch import models as batch_models
from moto.batch.models import batch_backends
from moto.core.common_models import CloudFormationModel

from batch_router.dev.local import eks_environments

# Maps whose keys are data (tag names, log driver options), not CloudFormation property names.
_DATA_MAPS = frozenset({"Options", "Tags", "Labels", "Annotations", "Limits", "Requests", "Parameters"})


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
    """Gap 4: a scheduling policy made through CloudFormation, as the API would make it."""

    __module__ = "moto.batch.models"  # moto's model registry files a class under its module's service

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


def install(monkeypatch: pytest.MonkeyPatch, service_role: str) -> None:
    """Close gaps 1-3 for this test (gap 4 is closed by defining ``_SchedulingPolicy`` above). The
    caller installs ``eks_environments`` (the local Batch's own fix for gap 1's EKS half) around it."""

    def compute_environment(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        backend = batch_backends[account_id][region_name]
        name = properties.get("ComputeEnvironmentName", resource_name)
        env = backend.create_compute_environment(
            name,
            properties["Type"],
            properties.get("State", "ENABLED"),
            api_keys(properties["ComputeResources"]),
            properties.get("ServiceRole", service_role),
            tags=properties.get("Tags"),
        )
        if properties.get("EksConfiguration"):
            with eks_environments._lock:
                eks_environments._eks_by_name[name] = api_keys(properties["EksConfiguration"])
        return env

    def job_queue(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        return batch_backends[account_id][region_name].create_job_queue(
            queue_name=properties.get("JobQueueName", resource_name),
            priority=properties["Priority"],
            state=properties.get("State", "ENABLED"),
            compute_env_order=api_keys(properties["ComputeEnvironmentOrder"]),
            schedule_policy=properties.get("SchedulingPolicyArn"),
            tags=properties.get("Tags"),
        )

    def job_definition(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        return batch_backends[account_id][region_name].register_job_definition(
            def_name=properties.get("JobDefinitionName", resource_name),
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

    families = {*batch_models.EC2_INSTANCE_FAMILIES, "default_x86_64", "default_arm64"}
    monkeypatch.setattr(batch_models, "EC2_INSTANCE_FAMILIES", families)  # gap 5
    sizing = batch_models.BatchBackend.find_min_instances_to_meet_vcpus
    bundles = {"default_x86_64": "m6i", "default_arm64": "m6g"}  # the first family of each bundle

    def find_min_instances(instance_types: list[str], target: float) -> list[str]:
        return sizing([bundles.get(t, t) for t in instance_types], target)

    monkeypatch.setattr(
        batch_models.BatchBackend, "find_min_instances_to_meet_vcpus", staticmethod(find_min_instances)
    )
    monkeypatch.setattr(
        batch_models.ComputeEnvironment, "create_from_cloudformation_json", classmethod(compute_environment)
    )
    monkeypatch.setattr(batch_models.JobQueue, "create_from_cloudformation_json", classmethod(job_queue))
    monkeypatch.setattr(
        batch_models.JobDefinition, "create_from_cloudformation_json", classmethod(job_definition)
    )
