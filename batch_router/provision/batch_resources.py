"""The AWS Batch resources of a route table: compute environments, job queues, scheduling policies and
job definitions, each as its CloudFormation resource (AWS CloudFormation Template Reference,
AWS::Batch::ComputeEnvironment / JobQueue / SchedulingPolicy / JobDefinition).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_router.config.compute_kinds import provisioned
from batch_router.config.model import ConsumableResource, Route
from batch_router.provision.cfn import get_att, ref, sub
from batch_router.provision.iam_resources import (
    MANAGED_INSTANCES_INFRASTRUCTURE_ROLE,
    MANAGED_INSTANCES_PROFILE,
)
from batch_router.provision.options import BASE_MEMORY_MIB, BASE_VCPU, ProvisionOptions

__all__ = [
    "ECS_INSTANCE_PROFILE",
    "EKS_INSTANCE_PROFILE",
    "EKS_POD_ROLE",
    "EXECUTION_ROLE",
    "JOB_ROLE",
    "LAUNCH_TEMPLATE",
    "compute_environment",
    "consumable_resource",
    "job_definition",
    "job_queue",
    "launch_template",
    "pod_identity",
    "scheduling_policy",
    "service_account",
]

EXECUTION_ROLE, JOB_ROLE = "WorkerExecutionRole", "WorkerJobRole"
EKS_POD_ROLE = "EksPodRole"  # what EKS tasks may do in AWS, as WorkerJobRole for ECS tasks
# One launch template for every EC2 and EKS compute environment: IMDSv2 only, with a hop limit of 1, so
# a job's container (one network hop further than the host, in bridge mode or a pod) cannot reach the
# instance metadata service and borrow the instance role ("Use Amazon EC2 launch templates with AWS
# Batch"; Amazon EC2 User Guide, "Configure the instance metadata options"; Amazon EKS best practices,
# "Restrict access to the instance profile assigned to the worker node").
LAUNCH_TEMPLATE = "WorkerLaunchTemplate"
ECS_INSTANCE_PROFILE, EKS_INSTANCE_PROFILE = "EcsInstanceProfile", "EksInstanceProfile"
SUBNETS, SECURITY_GROUPS = "Subnets", "SecurityGroupIdsInUse"
WORKER_CONTAINER = "airflow-worker"
# For CPU routes that name no instance types: Batch picks from its x86_64 families (m6i, c6i, r6i, c7i)
# by the queue's demand (API_ComputeResource, instanceTypes: default_x86_64; "optimal" now means it too).
DEFAULT_INSTANCE_TYPES = ("default_x86_64",)


def _capacity_types(route: Route) -> list[tuple[str, str | None]]:
    """(resource type, capacity option) of each compute environment, in job-queue order: Spot first,
    then on-demand, so Batch places jobs on Spot while it has capacity and on on-demand after (the
    queue's own fallback). Kinds with one resource type ask for Spot with a capacity option instead
    (ECS Managed Instances: ``capacityOptionType`` SPOT or ON_DEMAND)."""
    compute = provisioned(route.compute)
    on_demand, spot = compute.environment_types
    slots = {"spot": [spot], "on-demand": [on_demand], "spot-then-on-demand": [spot, on_demand]}
    options = {"spot": ["SPOT"], "on-demand": ["ON_DEMAND"], "spot-then-on-demand": ["SPOT", "ON_DEMAND"]}
    capacity = route.provision.capacity
    if compute.spot_by == "capacity_option":
        return [(on_demand, option) for option in options[capacity]]
    return [(resource_type, None) for resource_type in slots[capacity]]


def compute_environment(
    route: Route, capacity_type: str, security_groups: Any, capacity_option: str | None = None
) -> dict[str, Any]:
    provision = route.provision
    compute = provisioned(route.compute)
    resources: dict[str, Any] = {"Type": capacity_type, "MaxvCpus": provision.max_vcpus}
    if compute.spot_by == "capacity_option":
        resources["ManagedInstancesProvider"] = _managed_instances_provider(
            route, security_groups, capacity_option or "ON_DEMAND"
        )
    else:
        resources.update({"Subnets": ref(SUBNETS), "SecurityGroupIds": security_groups})
    properties: dict[str, Any] = {"Type": "MANAGED", "State": "ENABLED", "ComputeResources": resources}
    if not compute.chooses_hosts:
        spot = capacity_type == compute.environment_types[1]
        strategy = provision.allocation_strategy
        if strategy is None or (not spot and strategy.startswith("SPOT_")):
            strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED" if spot else "BEST_FIT_PROGRESSIVE"
        resources.update(
            {
                "AllocationStrategy": strategy,
                "MinvCpus": provision.min_vcpus,
                "InstanceTypes": list(provision.instance_types or DEFAULT_INSTANCE_TYPES),
                "InstanceRole": get_att(
                    EKS_INSTANCE_PROFILE if compute.pods else ECS_INSTANCE_PROFILE, "Arn"
                ),
                "LaunchTemplate": {
                    "LaunchTemplateId": ref(LAUNCH_TEMPLATE),
                    "Version": get_att(LAUNCH_TEMPLATE, "LatestVersionNumber"),
                },
                # On the instances it launches (the environment's own Tags stay on it: "Compute
                # environment tags do not propagate", User Guide, "Tag your resources"), so the EC2 bill
                # reads per route with cost allocation tags (docs/metrics.md).
                "Tags": {"managed-by": "batch-router", "batch-router:route": route.name},
            }
        )
    if compute.pods:
        properties["EksConfiguration"] = {
            "EksClusterArn": ref("EksClusterArn"),
            "KubernetesNamespace": ref("EksNamespace"),
        }
    properties["Tags"] = {"managed-by": "batch-router", "batch-router:route": route.name}
    return {"Type": "AWS::Batch::ComputeEnvironment", "Properties": properties}


def _managed_instances_provider(route: Route, security_groups: Any, option: str) -> dict[str, Any]:
    """AWS Batch user guide, "Compute environments on Amazon ECS Managed Instances": the networking,
    instance profile and instance selection all live in ``managedInstancesProvider``; instance types are
    ``instanceRequirements.allowedInstanceTypes``, where a family (g5) is written ``g5.*`` (Amazon ECS
    API reference, InstanceRequirementsRequest ``allowedInstanceTypes``: "one or more wild cards,
    represented by an asterisk (*), to allow an instance type, size, or generation")."""
    template: dict[str, Any] = {
        "Ec2InstanceProfileArn": get_att(MANAGED_INSTANCES_PROFILE, "Arn"),
        "NetworkConfiguration": {"Subnets": ref(SUBNETS), "SecurityGroups": security_groups},
        "CapacityOptionType": option,
    }
    if route.provision.instance_types:
        allowed = [t if "." in t or "*" in t else f"{t}.*" for t in route.provision.instance_types]
        template["InstanceRequirements"] = {"AllowedInstanceTypes": allowed}
    return {
        "InfrastructureRoleArn": get_att(MANAGED_INSTANCES_INFRASTRUCTURE_ROLE, "Arn"),
        "InstanceLaunchTemplate": template,
    }


def compute_environments(route: Route, security_groups: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name for its logical id, resource) of each compute environment of the route's queue, in queue
    order."""
    return [
        (
            f"{resource_type}_{option}" if option else resource_type,
            compute_environment(route, resource_type, security_groups, option),
        )
        for resource_type, option in _capacity_types(route)
    ]


def launch_template() -> dict[str, Any]:
    return {
        "Type": "AWS::EC2::LaunchTemplate",
        "Properties": {
            "LaunchTemplateData": {
                "MetadataOptions": {
                    "HttpEndpoint": "enabled",
                    "HttpTokens": "required",
                    "HttpPutResponseHopLimit": 1,
                }
            },
        },
    }


def scheduling_policy(queue: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Batch::SchedulingPolicy",
        "Properties": {
            "Name": f"{queue}-fair-share",
            "FairsharePolicy": {"ShareDecaySeconds": 3600, "ComputeReservation": 0},
            "Tags": {"managed-by": "batch-router"},
        },
    }


def consumable_resource(name: str, resource: ConsumableResource) -> dict[str, Any]:
    """AWS::Batch::ConsumableResource: a name unique in the account, its total quantity and whether a
    job's use comes back when the job ends (ResourceType REPLENISHABLE) or is spent."""
    return {
        "Type": "AWS::Batch::ConsumableResource",
        "Properties": {
            "ConsumableResourceName": name,
            "TotalQuantity": resource.total,
            "ResourceType": resource.type,
            "Tags": {"managed-by": "batch-router"},
        },
    }


def job_queue(
    queue: str,
    environment_ids: list[str],
    policy_id: str | None,
    wait_limits: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The queue, and its routes' ``wait_limits`` as jobStateTimeLimitActions (AWS::Batch::JobQueue
    JobStateTimeLimitAction: State RUNNABLE, Action CANCEL, the only action for ECS, Fargate and EKS
    queues; Reason the statusReason it acts on; MaxTimeSeconds 600 to 86,400)."""
    properties: dict[str, Any] = {
        "JobQueueName": queue,
        "Priority": 1,
        "State": "ENABLED",
        "ComputeEnvironmentOrder": [
            {"Order": n, "ComputeEnvironment": ref(env)} for n, env in enumerate(environment_ids, start=1)
        ],
        "Tags": {"managed-by": "batch-router"},
    }
    if policy_id is not None:
        properties["SchedulingPolicyArn"] = ref(policy_id)
    if wait_limits:
        properties["JobStateTimeLimitActions"] = [
            {"Action": "CANCEL", "MaxTimeSeconds": seconds, "Reason": reason, "State": "RUNNABLE"}
            for reason, seconds in wait_limits.items()
        ]
    return {"Type": "AWS::Batch::JobQueue", "Properties": properties}


def _environment(options: ProvisionOptions) -> list[dict[str, Any]]:
    """What an Airflow 3.3 task process in the worker image needs: the Execution API to report to
    (workers no longer reach the metadata database), and remote logging if the platform uses it."""
    env: list[dict[str, Any]] = [
        {"Name": "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "Value": ref("ExecutionApiServerUrl")}
    ]
    if options.remote_log_group:
        folder = sub(
            f"cloudwatch://arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{options.remote_log_group}"
        )
        env += [
            {"Name": "AIRFLOW__LOGGING__REMOTE_LOGGING", "Value": "True"},
            {"Name": "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER", "Value": folder},
            {"Name": "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID", "Value": "aws_default"},
        ]
    return env


def _log_configuration(options: ProvisionOptions) -> dict[str, Any]:
    return {
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": ref("JobLogGroup"),
            "awslogs-region": ref("AWS::Region"),
            "awslogs-stream-prefix": "batch-router",
        },
    }


def service_account(job_definition_name: str) -> str:
    """The Kubernetes service account an EKS job definition's pods run as: one of batch-router's, tied
    to EKS_POD_ROLE by a Pod Identity association, never the namespace's ``default`` (which any pod of
    the namespace may use). A Kubernetes name: lowercase letters, digits and '-', at most 63."""
    text = "".join(c if c.isalnum() else "-" for c in f"batch-router-{job_definition_name}".lower())
    return text[:63].strip("-")


def pod_identity(job_definition_name: str, role: str = EKS_POD_ROLE) -> dict[str, Any]:
    """EKS Pod Identity: the job definition's service account in EksNamespace assumes ``role``
    (Amazon EKS User Guide, "Learn how EKS Pod Identity grants pods access to AWS services")."""
    return {
        "Type": "AWS::EKS::PodIdentityAssociation",
        "Properties": {
            "ClusterName": {"Fn::Select": [1, {"Fn::Split": ["/", ref("EksClusterArn")]}]},
            "Namespace": ref("EksNamespace"),
            "ServiceAccount": service_account(job_definition_name),
            "RoleArn": get_att(role, "Arn"),
        },
    }


def job_definition(name: str, route: Route, options: ProvisionOptions) -> dict[str, Any]:
    properties: dict[str, Any] = {"JobDefinitionName": name, "Type": "container"}
    env = _environment(options)
    compute = provisioned(route.compute)
    if compute.pods:
        properties["EksProperties"] = {
            "PodProperties": {
                "ServiceAccountName": service_account(name),
                "Containers": [
                    {
                        "Name": WORKER_CONTAINER,
                        "Image": ref("WorkerImage"),
                        "Env": env,
                        "Resources": {
                            "Requests": {"cpu": str(BASE_VCPU), "memory": f"{BASE_MEMORY_MIB}Mi"},
                            "Limits": {"cpu": str(BASE_VCPU), "memory": f"{BASE_MEMORY_MIB}Mi"},
                        },
                    }
                ],
            }
        }
    elif compute.shape == "task":
        # "Job definitions on Amazon ECS Managed Instances": ecsProperties, platform capability
        # MANAGED_INSTANCES, no containerProperties; the awslogs driver is supported.
        properties["PlatformCapabilities"] = [compute.platform_capability]
        properties["EcsProperties"] = {
            "TaskProperties": [
                {
                    "Containers": [
                        {
                            "Name": WORKER_CONTAINER,
                            "Image": ref("WorkerImage"),
                            "Essential": True,
                            "ResourceRequirements": [
                                {"Type": "VCPU", "Value": str(BASE_VCPU)},
                                {"Type": "MEMORY", "Value": str(BASE_MEMORY_MIB)},
                            ],
                            "Environment": env,
                            "LogConfiguration": _log_configuration(options),
                        }
                    ],
                    "ExecutionRoleArn": get_att(EXECUTION_ROLE, "Arn"),
                    "TaskRoleArn": get_att(JOB_ROLE, "Arn"),
                }
            ]
        }
    else:
        container: dict[str, Any] = {
            "Image": ref("WorkerImage"),
            "ResourceRequirements": [
                {"Type": "VCPU", "Value": str(BASE_VCPU)},
                {"Type": "MEMORY", "Value": str(BASE_MEMORY_MIB)},
            ],
            "Environment": env,
            "JobRoleArn": get_att(JOB_ROLE, "Arn"),
            "ExecutionRoleArn": get_att(EXECUTION_ROLE, "Arn"),
            "LogConfiguration": _log_configuration(options),
        }
        if compute.platform_capability == "FARGATE":
            container["NetworkConfiguration"] = {"AssignPublicIp": ref("AssignPublicIp")}
            container["FargatePlatformConfiguration"] = {"PlatformVersion": "LATEST"}
        properties["PlatformCapabilities"] = [compute.platform_capability]
        properties["ContainerProperties"] = container
    properties["Tags"] = {"managed-by": "batch-router"}
    return {"Type": "AWS::Batch::JobDefinition", "Properties": properties}
