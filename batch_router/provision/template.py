"""``batch-router provision``: the CloudFormation template for everything a route table names.

From the same route table the executor routes with: compute environments by route kind and capacity,
job queues with their environments in order (Spot first), fair-share scheduling policies, job
definitions per compute type, the job log group, the workers' roles and instance profiles, and the
scheduler's least-privilege managed policy. A queue or job definition a route names by ARN (or a job
definition by ``name:revision``) exists already and is referenced, not made. Pure: the table and the
options in, a template (plain dicts) out, or ``ConfigError`` naming every route that cannot be made.
"""

from __future__ import annotations

from typing import Any

import yaml

from batch_router.config.compute_kinds import KINDS, provisioned
from batch_router.config.model import RouteTable
from batch_router.errors import ConfigError
from batch_router.provision import batch_resources as batch
from batch_router.provision.arns import CLOUDFORMATION_SCOPE, job_definition_arns, job_queue_arn
from batch_router.provision.cfn import ref, sub_if_needed
from batch_router.provision.events import DEAD_LETTER_QUEUE, EVENTS_QUEUE, event_resources
from batch_router.provision.iam_policy import scheduler_statements
from batch_router.provision.iam_resources import iam_resources, managed_policy, pod_role
from batch_router.provision.options import (
    ProvisionOptions,
    created_job_definitions,
    created_queues,
    logical_id,
)
from batch_router.provision.problems import provision_problems

__all__ = ["build_template", "template_yaml"]

_NO_SECURITY_GROUPS = "UseWorkerSecurityGroup"


class _NoAliases(yaml.SafeDumper):
    """CloudFormation rejects YAML aliases; a value used twice is written out twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def template_yaml(template: dict[str, Any]) -> str:
    return yaml.dump(template, Dumper=_NoAliases, sort_keys=False, width=110)


def build_template(table: RouteTable, options: ProvisionOptions) -> dict[str, Any]:
    problems = provision_problems(table, options)
    if problems:
        raise ConfigError(table.source, problems)
    queues = created_queues(table)
    definitions = created_job_definitions(table)
    kinds: set[str] = {routes[0].declared_compute for routes in queues.values()}
    resources: dict[str, Any] = {}
    security_groups = {"Fn::If": [_NO_SECURITY_GROUPS, [ref("WorkerSecurityGroup")], ref("SecurityGroupIds")]}
    queue_ids: dict[str, str] = {}
    for queue, routes in queues.items():
        route = routes[0]
        environment_ids = []
        for kind, resource in batch.compute_environments(route, security_groups):
            env_id = logical_id(queue, f"{kind.title().replace('_', '')}Environment", list(resources))
            resources[env_id] = resource
            environment_ids.append(env_id)
        policy_id = None
        if route.fair_share:
            policy_id = logical_id(queue, "SchedulingPolicy", list(resources))
            resources[policy_id] = batch.scheduling_policy(queue)
        queue_ids[queue] = logical_id(queue, "JobQueue", list(resources))
        resources[queue_ids[queue]] = batch.job_queue(queue, environment_ids, policy_id, route.wait_limits)
    definition_ids: dict[str, str] = {}
    for name, routes in definitions.items():
        definition_ids[name] = logical_id(name, "JobDefinition", list(resources))
        resources[definition_ids[name]] = batch.job_definition(name, routes[0], options)
        if provisioned(routes[0].compute).pods:
            role = batch.EKS_POD_ROLE
            if any(route.provision.own_role for route in routes):
                role = logical_id(name, "PodRole", list(resources))
                resources[role] = pod_role(options.remote_log_group, f"job definition {name}'s own")
            resources[logical_id(name, "PodIdentity", list(resources))] = batch.pod_identity(name, role)
    for name, consumable in table.consumable_resources.items():
        resources[logical_id(name, "ConsumableResource", list(resources))] = batch.consumable_resource(
            name, consumable
        )
    if any(not KINDS[k].chooses_hosts for k in kinds):  # instances of our own: their launch template
        resources[batch.LAUNCH_TEMPLATE] = batch.launch_template()
    resources["JobLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": options.log_group, "RetentionInDays": 30},
    }
    if queues:
        resources["WorkerSecurityGroup"] = {
            "Type": "AWS::EC2::SecurityGroup",
            "Condition": _NO_SECURITY_GROUPS,
            "Properties": {
                "GroupDescription": "batch-router workers: no inbound, all outbound (image, API server, AWS)",
                "VpcId": ref("VpcId"),
                "SecurityGroupEgress": [{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}],
            },
        }
    resources.update(
        iam_resources(
            log_group=options.log_group,
            remote_log_group=options.remote_log_group,
            image=options.image,
            ecs_instances=any(not KINDS[k].chooses_hosts and not KINDS[k].pods for k in kinds),
            eks_instances=any(KINDS[k].pods for k in kinds),
            managed_instances=any(KINDS[k].spot_by == "capacity_option" for k in kinds),
        )
    )
    events_queue = None
    if options.events:
        queue_arns = [
            ref(queue_ids[q]) if q in queue_ids else sub_if_needed(job_queue_arn(CLOUDFORMATION_SCOPE, q))
            for q in dict.fromkeys(route.job_queue for route in table.routes)
        ]
        resources.update(event_resources(queue_arns))
        events_queue = f"${{{EVENTS_QUEUE}.Arn}}"
    log_groups = list(dict.fromkeys([options.log_group]))
    resources["SchedulerPolicy"] = managed_policy(
        "What BatchRouterExecutor calls, on exactly this route table (batch-router iam-policy)",
        scheduler_statements(table, CLOUDFORMATION_SCOPE, log_groups, options.deployment, events_queue),
    )
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"AWS Batch resources and IAM for the batch-router route table {table.source}",
        "Parameters": _parameters(table, options, bool(queues), kinds, bool(definitions)),
        "Resources": resources,
        "Outputs": _outputs(table, queue_ids, definition_ids, options.events),
    }
    if queues:
        template["Conditions"] = {
            _NO_SECURITY_GROUPS: {"Fn::Equals": [{"Fn::Join": [",", ref("SecurityGroupIds")]}, ""]}
        }
    return template


def _parameters(
    table: RouteTable, options: ProvisionOptions, networking: bool, kinds: set[str], definitions: bool
) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if definitions:
        parameters["WorkerImage"] = {
            "Type": "String",
            "Description": "The worker image (built from batch-router's Dockerfile), e.g. in ECR",
            **({"Default": options.image} if options.image else {}),
        }
        parameters["ExecutionApiServerUrl"] = {
            "Type": "String",
            "Description": "Airflow's Execution API as Batch jobs reach it, e.g. https://airflow.internal/execution/",
            **({"Default": options.api_server_url} if options.api_server_url else {}),
        }
    if networking:
        parameters["VpcId"] = {"Type": "AWS::EC2::VPC::Id", "Description": "The VPC of the subnets"}
        parameters["Subnets"] = {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Subnets the compute environments launch into (with a route to the API server)",
        }
        parameters["SecurityGroupIds"] = {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "Security groups for the workers; empty: one made here (no inbound, all outbound)",
        }
    if (
        any(provisioned(route.compute).platform_capability == "FARGATE" for route in table.routes)
        and definitions
    ):
        parameters["AssignPublicIp"] = {
            "Type": "String",
            "AllowedValues": ["ENABLED", "DISABLED"],
            "Default": "DISABLED",
            "Description": "ENABLED only for Fargate jobs in public subnets without a NAT gateway",
        }
    if any(KINDS[k].pods for k in kinds):
        parameters["EksClusterArn"] = {
            "Type": "String",
            "Description": "The existing EKS cluster the EKS compute environments join",
            **({"Default": options.eks_cluster_arn} if options.eks_cluster_arn else {}),
        }
        parameters["EksNamespace"] = {
            "Type": "String",
            "Default": options.eks_namespace,
            "Description": "The Kubernetes namespace Batch runs the pods in (set up for Batch beforehand)",
        }
    return parameters


def _outputs(
    table: RouteTable, queue_ids: dict[str, str], definition_ids: dict[str, str], events: bool
) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for route in table.routes:
        queue = queue_ids.get(route.job_queue)
        queue_value = (
            ref(queue) if queue else sub_if_needed(job_queue_arn(CLOUDFORMATION_SCOPE, route.job_queue))
        )
        definition = definition_ids.get(route.job_definition)
        definition_value = (
            ref(definition)
            if definition
            else sub_if_needed(job_definition_arns(CLOUDFORMATION_SCOPE, route.job_definition)[0])
        )
        outputs[logical_id(route.name, "JobQueueArn", list(outputs))] = {
            "Description": f"route {route.name}: job queue",
            "Value": queue_value,
        }
        outputs[logical_id(route.name, "JobDefinitionArn", list(outputs))] = {
            "Description": f"route {route.name}: job definition",
            "Value": definition_value,
        }
    outputs["SchedulerPolicyArn"] = {
        "Description": "Attach to the scheduler's role (the policy batch-router iam-policy prints)",
        "Value": ref("SchedulerPolicy"),
    }
    if events:
        outputs["JobEventsQueueUrl"] = {
            "Description": "The executor's JOB_EVENTS_QUEUE (AIRFLOW__AWS_BATCH_EXECUTOR__JOB_EVENTS_QUEUE)",
            "Value": ref(EVENTS_QUEUE),
        }
        outputs["JobEventsDeadLetterQueueUrl"] = {
            "Description": "Where events no scheduler could take end up (worth an alarm when not empty)",
            "Value": ref(DEAD_LETTER_QUEUE),
        }
    outputs["JobLogGroupName"] = {"Description": "The jobs' log group", "Value": ref("JobLogGroup")}
    return outputs
