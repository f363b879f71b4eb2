"""The IAM resources of the template: the workers' roles, the instance profiles EC2 and EKS compute
environments launch with, and the scheduler's managed policy (the statements ``iam-policy`` prints)."""

from __future__ import annotations

from typing import Any

from batch_router.provision.arns import CLOUDFORMATION_SCOPE
from batch_router.provision.cfn import ref, sub, sub_if_needed
from batch_router.provision.iam_policy import (
    execution_role_statements,
    job_role_statements,
    policy_document,
)

__all__ = [
    "MANAGED_INSTANCES_INFRASTRUCTURE_ROLE",
    "MANAGED_INSTANCES_PROFILE",
    "ecr_repository_arn",
    "iam_resources",
    "managed_policy",
    "pod_role",
]

MANAGED_INSTANCES_INFRASTRUCTURE_ROLE = "ManagedInstancesInfrastructureRole"
MANAGED_INSTANCES_PROFILE = "ManagedInstancesProfile"


def _managed(name: str) -> dict[str, Any]:
    return sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}")


def _assumed_by(service: str, *, by_this_account_only: bool = False) -> dict[str, Any]:
    """A trust policy for ``service``; ``by_this_account_only`` adds the confused-deputy conditions ECS
    documents for task and task execution roles (Amazon ECS Developer Guide, "Amazon ECS task IAM role"
    and "task execution IAM role": aws:SourceArn of this account's ECS, aws:SourceAccount), so ECS
    assumes the role only for this account's tasks. EC2 sets neither key for instance roles, so those
    roles get none (they would never be assumed)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if by_this_account_only:
        statement["Condition"] = {
            "ArnLike": {"aws:SourceArn": sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*")},
            "StringEquals": {"aws:SourceAccount": sub("${AWS::AccountId}")},
        }
    return policy_document([statement])


def _with_subs(value: Any) -> Any:
    """Every string naming a pseudo parameter wrapped in Fn::Sub, through lists and dicts."""
    if isinstance(value, str):
        return sub_if_needed(value)
    if isinstance(value, list):
        return [_with_subs(item) for item in value]
    if isinstance(value, dict):
        return {key: _with_subs(item) for key, item in value.items()}
    return value


def managed_policy(description: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"Description": description, "PolicyDocument": _with_subs(policy_document(statements))},
    }


def ecr_repository_arn(image: str | None) -> str | None:
    """The ECR repository ARN of ``ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME[:TAG|@DIGEST]``, or None
    for an image elsewhere (a public registry needs no ECR permissions)."""
    if not image or ".dkr.ecr." not in image.split("/", 1)[0]:
        return None
    host, _, path = image.partition("/")
    account, _, rest = host.partition(".dkr.ecr.")
    region = rest.split(".", 1)[0]
    name = path.split("@", 1)[0]  # without a digest
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]  # without a tag
    partition = "aws-cn" if host.endswith(".cn") else "aws"
    return f"arn:{partition}:ecr:{region}:{account}:repository/{name}"


def iam_resources(
    *,
    log_group: str,
    remote_log_group: str | None,
    image: str | None,
    ecs_instances: bool,
    eks_instances: bool,
    managed_instances: bool = False,
) -> dict[str, Any]:
    repository = ecr_repository_arn(image)
    execution = execution_role_statements(
        CLOUDFORMATION_SCOPE, [log_group], [repository] if repository else []
    )
    resources: dict[str, Any] = {
        "WorkerExecutionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "ECS pulls the worker image and writes the job's log with it",
                "AssumeRolePolicyDocument": _assumed_by("ecs-tasks.amazonaws.com", by_this_account_only=True),
                "Policies": [
                    {
                        "PolicyName": "worker-execution",
                        "PolicyDocument": _with_subs(policy_document(execution)),
                    }
                ],
            },
        },
    }
    job_role: dict[str, Any] = {
        "Description": "The Airflow task's own AWS permissions (add what your tasks need)",
        "AssumeRolePolicyDocument": _assumed_by("ecs-tasks.amazonaws.com", by_this_account_only=True),
    }
    remote = job_role_statements(CLOUDFORMATION_SCOPE, [remote_log_group] if remote_log_group else [])
    if remote:
        job_role["Policies"] = [
            {"PolicyName": "airflow-remote-logging", "PolicyDocument": _with_subs(policy_document(remote))}
        ]
    resources["WorkerJobRole"] = {"Type": "AWS::IAM::Role", "Properties": job_role}
    if eks_instances:
        resources["EksPodRole"] = pod_role(remote_log_group, "every EKS route's")
    if ecs_instances:
        resources["EcsInstanceRole"] = _instance_role(
            "EC2 instances of the EC2 compute environments join ECS with it",
            ["service-role/AmazonEC2ContainerServiceforEC2Role"],
        )
        resources["EcsInstanceProfile"] = _instance_profile("EcsInstanceRole")
    if eks_instances:
        # AWS Batch User Guide, "Getting started with AWS Batch on Amazon EKS": the nodes' role.
        resources["EksInstanceRole"] = _instance_role(
            "EC2 instances of the EKS compute environments join the cluster with it",
            ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"],
        )
        resources["EksInstanceProfile"] = _instance_profile("EksInstanceRole")
    if managed_instances:
        # AWS Batch User Guide, "Tutorial: Create a managed compute environment using Amazon ECS Managed
        # Instances": an infrastructure role ECS assumes to manage the instances (trusted by
        # ecs.amazonaws.com; Amazon ECS Developer Guide, "Amazon ECS infrastructure IAM role"), and an
        # instance profile with AmazonECSInstanceRolePolicyForManagedInstances.
        resources[MANAGED_INSTANCES_INFRASTRUCTURE_ROLE] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "ECS launches, scales and ends the ECS Managed Instances with it",
                "AssumeRolePolicyDocument": _assumed_by("ecs.amazonaws.com"),
                "ManagedPolicyArns": [_managed("AmazonECSInfrastructureRolePolicyForManagedInstances")],
            },
        }
        resources["ManagedInstancesRole"] = _instance_role(
            "ECS Managed Instances join ECS with it", ["AmazonECSInstanceRolePolicyForManagedInstances"]
        )
        resources[MANAGED_INSTANCES_PROFILE] = _instance_profile("ManagedInstancesRole")
    return resources


def pod_role(remote_log_group: str | None, whose: str) -> dict[str, Any]:
    """The role EKS tasks' pods assume through EKS Pod Identity (Amazon EKS User Guide, "Create the IAM
    role for EKS Pod Identity": trusted by pods.eks.amazonaws.com for sts:AssumeRole and sts:TagSession),
    with what the task process itself needs (Airflow's remote logging, if used)."""
    properties: dict[str, Any] = {
        "Description": f"The Airflow task's own AWS permissions on EKS, {whose} (add what your tasks need)",
        "AssumeRolePolicyDocument": policy_document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ]
        ),
    }
    remote = job_role_statements(CLOUDFORMATION_SCOPE, [remote_log_group] if remote_log_group else [])
    if remote:
        properties["Policies"] = [
            {"PolicyName": "airflow-remote-logging", "PolicyDocument": _with_subs(policy_document(remote))}
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def _instance_role(description: str, managed: list[str]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": _assumed_by("ec2.amazonaws.com"),
            "ManagedPolicyArns": [_managed(name) for name in managed],
        },
    }


def _instance_profile(role: str) -> dict[str, Any]:
    return {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [ref(role)]}}
