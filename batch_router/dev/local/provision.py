"""Create, in a (local) Batch, the compute environment, job queue and job definition each route names.

Idempotent: what already exists is left alone, so provisioning a route table twice, or provisioning
into a server that already has some of it, is fine. Talks only through boto3 clients, so it works
against any moto server, not only the embedded one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import boto3

from batch_router.config.compute_kinds import kind
from batch_router.config.model import DEFAULT_PROVISIONING, Compute, Route, RouteTable

logger = logging.getLogger(__name__)

# Nothing is pulled or run from it: the local runner executes the job's command directly.
LOCAL_IMAGE = "batch-router/local:latest"
EKS_CONTAINER_NAME = "main"
SERVICE_ROLE = "batch-router-local-service-role"
INSTANCE_PROFILE = "batch-router-local-instance-profile"
EKS_CLUSTER = "batch-router-local"
DEFAULT_VCPU = "1"
DEFAULT_MEMORY_MIB = "2048"

_BATCH_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)
_EC2_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)
_CE_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Network:
    """The IAM and VPC pieces every compute environment refers to."""

    service_role_arn: str
    instance_profile_arn: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


def resource_name(identifier: str) -> str:
    """A queue's or job definition's name from its name or ARN (``...:job-queue/NAME``)."""
    if identifier.startswith("arn:"):
        return identifier.rsplit("/", 1)[-1]
    return identifier


def split_revision(job_definition: str) -> tuple[str, int | None]:
    """``name:3`` -> (``name``, 3); ``name`` -> (``name``, None); ARNs are reduced to their name first."""
    name = resource_name(job_definition)
    base, sep, revision = name.rpartition(":")
    if sep and revision.isdigit():
        return base, int(revision)
    return name, None


def compute_environment_name(route: Route) -> str:
    """One compute environment per job queue and kind of compute, named after both."""
    raw = f"batch-router-{route.compute}-{resource_name(route.job_queue)}"
    return _CE_NAME_BAD_CHARS.sub("-", raw)[:128].rstrip("-_")


def provision(
    table: RouteTable, client: Any, *, iam_client: Any | None = None, ec2_client: Any | None = None
) -> None:
    """Make every route of ``table`` submittable: its compute environment, queue and job definition.

    ``client`` is a boto3 Batch client; the IAM and EC2 clients default to the same endpoint, region
    and credentials. When two routes name the same queue or job definition, the first one shapes it.
    """
    iam = iam_client or _sibling_client(client, "iam")
    ec2 = ec2_client or _sibling_client(client, "ec2")
    network = ensure_network(iam, ec2)
    for route in table.routes:
        ce_name = compute_environment_name(route)
        ensure_compute_environment(
            client, ce_name, route.declared_compute, network, max_vcpus=route.provision.max_vcpus
        )
        ensure_job_queue(client, resource_name(route.job_queue), ce_name)
        name, revision = split_revision(route.job_definition)
        ensure_job_definition(client, name, route.declared_compute, revision)


def _sibling_client(client: Any, service: str) -> Any:
    credentials = client._get_credentials()
    kwargs: dict[str, Any] = {}
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        kwargs = {
            "aws_access_key_id": frozen.access_key,
            "aws_secret_access_key": frozen.secret_key,
            "aws_session_token": frozen.token,
        }
    return boto3.client(
        service, endpoint_url=client.meta.endpoint_url, region_name=client.meta.region_name, **kwargs
    )


def ensure_network(iam: Any, ec2: Any) -> Network:
    """The service role, instance profile, default subnets and security group the environments use."""
    try:
        role = iam.get_role(RoleName=SERVICE_ROLE)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=SERVICE_ROLE, AssumeRolePolicyDocument=_BATCH_TRUST)["Role"]
    try:
        profile = iam.get_instance_profile(InstanceProfileName=INSTANCE_PROFILE)["InstanceProfile"]
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=INSTANCE_PROFILE, AssumeRolePolicyDocument=_EC2_TRUST)
        profile = iam.create_instance_profile(InstanceProfileName=INSTANCE_PROFILE)["InstanceProfile"]
        iam.add_role_to_instance_profile(InstanceProfileName=INSTANCE_PROFILE, RoleName=INSTANCE_PROFILE)

    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    if not subnets:
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]
        subnets = [ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.0.0/24")["Subnet"]]
    vpc_id = subnets[0]["VpcId"]
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    return Network(
        service_role_arn=role["Arn"],
        instance_profile_arn=profile["Arn"],
        subnets=tuple(s["SubnetId"] for s in subnets if s["VpcId"] == vpc_id),
        security_groups=tuple(g["GroupId"] for g in groups),
    )


def compute_environment_request(
    name: str,
    compute: Compute,
    network: Network,
    region: str,
    max_vcpus: int = DEFAULT_PROVISIONING.max_vcpus,
) -> dict[str, Any]:
    """A managed compute environment of the route's kind (EKS: EC2 capacity plus ``eksConfiguration``),
    as large as the route's ``provision.max_vcpus`` says (a job asking for more blocks its queue, as on
    AWS: ``blocking``)."""
    resources: dict[str, Any] = {
        "maxvCpus": max_vcpus,
        "subnets": list(network.subnets),
        "securityGroupIds": list(network.security_groups),
    }
    if kind(compute).spot_by == "capacity_option":  # ECS Managed Instances (local/managed_instances.py)
        network_configuration = {
            "subnets": resources.pop("subnets"),
            "securityGroups": resources.pop("securityGroupIds"),
        }
        resources |= {
            "type": kind(compute).environment_types[0],
            "managedInstancesProvider": {
                "infrastructureRoleArn": network.service_role_arn,
                "instanceLaunchTemplate": {
                    "ec2InstanceProfileArn": network.instance_profile_arn,
                    "networkConfiguration": network_configuration,
                },
            },
        }
    elif compute == "fargate":
        resources["type"] = "FARGATE"
    else:
        resources |= {
            "type": "EC2",
            "minvCpus": 0,
            "desiredvCpus": 0,
            "instanceTypes": ["optimal"],
            "instanceRole": network.instance_profile_arn,
        }
    request: dict[str, Any] = {
        "computeEnvironmentName": name,
        "type": "MANAGED",
        "state": "ENABLED",
        "serviceRole": network.service_role_arn,
        "computeResources": resources,
    }
    if compute == "eks":
        # moto alone drops this; local/eks_environments.py makes it stored and returned, as on AWS.
        request["eksConfiguration"] = {
            "eksClusterArn": f"arn:aws:eks:{region}:123456789012:cluster/{EKS_CLUSTER}",
            "kubernetesNamespace": "default",
        }
    return request


def ensure_compute_environment(
    client: Any,
    name: str,
    compute: Compute,
    network: Network,
    *,
    max_vcpus: int = DEFAULT_PROVISIONING.max_vcpus,
) -> None:
    found = client.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    if found:
        return
    client.create_compute_environment(
        **compute_environment_request(name, compute, network, client.meta.region_name, max_vcpus)
    )
    logger.info("created compute environment %s (%s)", name, compute)


def ensure_job_queue(client: Any, name: str, compute_environment: str) -> None:
    found = client.describe_job_queues(jobQueues=[name])["jobQueues"]
    if found:
        return
    client.create_job_queue(
        jobQueueName=name,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": compute_environment}],
    )
    logger.info("created job queue %s", name)


def job_definition_request(name: str, compute: Compute) -> dict[str, Any]:
    """A job definition with no command of its own: the executor sends each task's command."""
    if kind(compute).shape == "task":  # ecsProperties, as ECS Managed Instances take
        return {
            "jobDefinitionName": name,
            "type": "container",
            "platformCapabilities": [kind(compute).platform_capability],
            "ecsProperties": {
                "taskProperties": [
                    {
                        "containers": [
                            {
                                "name": EKS_CONTAINER_NAME,
                                "image": LOCAL_IMAGE,
                                "command": [],
                                "essential": True,
                                "resourceRequirements": [
                                    {"type": "VCPU", "value": DEFAULT_VCPU},
                                    {"type": "MEMORY", "value": DEFAULT_MEMORY_MIB},
                                ],
                            }
                        ]
                    }
                ]
            },
        }
    if compute == "eks":
        return {
            "jobDefinitionName": name,
            "type": "container",
            "eksProperties": {
                "podProperties": {
                    "containers": [
                        {
                            "name": EKS_CONTAINER_NAME,
                            "image": LOCAL_IMAGE,
                            "command": [],
                            "resources": {
                                "limits": {"cpu": DEFAULT_VCPU, "memory": f"{DEFAULT_MEMORY_MIB}Mi"}
                            },
                        }
                    ]
                }
            },
        }
    container: dict[str, Any] = {
        "image": LOCAL_IMAGE,
        "command": [],
        "resourceRequirements": [
            {"type": "VCPU", "value": DEFAULT_VCPU},
            {"type": "MEMORY", "value": DEFAULT_MEMORY_MIB},
        ],
    }
    if compute == "fargate":
        container["networkConfiguration"] = {"assignPublicIp": "ENABLED"}
    return {
        "jobDefinitionName": name,
        "type": "container",
        "platformCapabilities": ["FARGATE" if compute == "fargate" else "EC2"],
        "containerProperties": container,
    }


def ensure_job_definition(client: Any, name: str, compute: Compute, revision: int | None = None) -> None:
    """Register ``name`` once; if a route pins ``name:N``, register until revision N exists."""
    found = client.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    latest = max((d["revision"] for d in found), default=0)
    wanted = max(revision or 1, 1)
    while latest < wanted:
        latest = client.register_job_definition(**job_definition_request(name, compute))["revision"]
        logger.info("registered job definition %s:%s (%s)", name, latest, compute)
