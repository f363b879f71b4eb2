"""``batch-router provision``'s template deployed into moto's CloudFormation, then used by the executor.

The template is the one users get, unchanged; moto's gaps are closed by the local Batch's own
``batch_router.dev.local.cloudformation_gaps``. The
executor's start-up health check must pass against what the stack made, and a task must land on the
queue and job definition its route names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from batch_world import REGION, BatchWorld, Faults
from executor_kit import drive, make_workload, queue_all

from batch_router import examples
from batch_router.config.routes import read_route_file
from batch_router.dev.local import cloudformation_gaps
from batch_router.executor import BatchRouterExecutor
from batch_router.provision import ProvisionOptions, build_template
from batch_router.provision.template import template_yaml

CLUSTER = f"arn:aws:eks:{REGION}:123456789012:cluster/airflow"
IMAGE = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/airflow-worker:3.3"
ROUTE_TABLES = [examples.ROUTES_FILE, examples.EXAMPLES_DIR / "routes_spot.yaml"]


def deploy(world: BatchWorld, routes_file: Any, *, events: bool = False) -> dict[str, str]:
    template = build_template(
        read_route_file(routes_file),
        ProvisionOptions(
            image=IMAGE,
            api_server_url="https://airflow.example/execution/",
            eks_cluster_arn=CLUSTER,
            events=events,
        ),
    )
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_subnets(SubnetIds=[world.subnet])["Subnets"][0]["VpcId"]
    given = {"VpcId": vpc, "Subnets": world.subnet, "SecurityGroupIds": world.security_group}
    parameters = [
        {"ParameterKey": key, "ParameterValue": value}
        for key, value in given.items()
        if key in template["Parameters"]
    ]
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName="batch-router",
        TemplateBody=template_yaml(template),
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName="batch-router")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


@pytest.fixture
def moto_gaps_closed(world: BatchWorld) -> Iterator[None]:
    cloudformation_gaps.install()  # the local Batch's own fixes of moto's CloudFormation
    try:
        yield
    finally:
        cloudformation_gaps.uninstall()


@pytest.fixture
def start_on(set_option: Callable[..., None]) -> Iterator[Callable[..., BatchRouterExecutor]]:
    started: list[BatchRouterExecutor] = []

    def start(routes_file: Any, **options: Any) -> BatchRouterExecutor:
        set_option(
            routes_file=routes_file,
            region_name=REGION,
            poll_interval=0.02,
            check_health_on_startup=True,
            **options,
        )
        executor = BatchRouterExecutor()
        executor.start()  # raises ConfigError naming each route the health check finds wrong
        started.append(executor)
        return executor

    yield start
    for executor in started:
        executor.end()


@pytest.mark.parametrize("routes_file", ROUTE_TABLES, ids=lambda p: p.name)
def test_the_health_check_passes_on_what_the_provisioned_stack_made(
    routes_file: Any,
    world: BatchWorld,
    moto_gaps_closed: None,
    start_on: Callable[..., BatchRouterExecutor],
) -> None:
    deploy(world, routes_file)

    executor = start_on(routes_file)

    assert executor._hub.runtime().plan.table.source == str(routes_file)


def test_the_stack_outputs_each_routes_queue_and_job_definition(
    world: BatchWorld, moto_gaps_closed: None
) -> None:
    outputs = deploy(world, examples.ROUTES_FILE)

    assert outputs["FargateSmallJobQueueArn"].endswith(":job-queue/airflow-fargate")
    assert ":job-definition/airflow-worker-gpu:" in outputs["Ec2GpuJobDefinitionArn"]
    assert outputs["SchedulerPolicyArn"].startswith("arn:aws:iam::")


def test_the_fargate_queue_places_jobs_on_spot_first_then_on_demand(
    world: BatchWorld, moto_gaps_closed: None
) -> None:
    deploy(world, examples.ROUTES_FILE)
    batch = boto3.client("batch", region_name=REGION)

    (queue,) = batch.describe_job_queues(jobQueues=["airflow-fargate"])["jobQueues"]
    order = sorted(queue["computeEnvironmentOrder"], key=lambda entry: entry["order"])
    arns = [entry["computeEnvironment"] for entry in order]
    kinds = [
        env["computeResources"]["type"]
        for arn in arns
        for env in batch.describe_compute_environments(computeEnvironments=[arn])["computeEnvironments"]
    ]

    assert kinds == ["FARGATE_SPOT", "FARGATE"]


def test_a_task_lands_on_the_queue_and_job_definition_of_its_route(
    world: BatchWorld, moto_gaps_closed: None, start_on: Callable[..., BatchRouterExecutor]
) -> None:
    deploy(world, examples.ROUTES_FILE)
    executor = start_on(examples.ROUTES_FILE)
    workload = make_workload(task_id="train", executor_config={"gpu": 4})

    queue_all(executor, workload)
    drive(executor, lambda: world.job_ids())

    (job_id,) = world.job_ids()
    job = world.describe(job_id)
    assert job["jobQueue"].endswith(":job-queue/airflow-gpu")
    assert ":job-definition/airflow-worker-gpu:" in job["jobDefinition"]


def test_with_events_the_stacks_rule_brings_a_jobs_end_to_the_executor_through_its_queue(
    world: BatchWorld, faults: Faults, moto_gaps_closed: None, start_on: Callable[..., BatchRouterExecutor]
) -> None:
    outputs = deploy(world, examples.ROUTES_FILE, events=True)
    executor = start_on(
        examples.ROUTES_FILE,
        job_events_queue=outputs["JobEventsQueueUrl"],
        events_wait_seconds=1,
        reconcile_interval=1000,
    )
    drive(executor, lambda: executor._events.flowing)
    workload = make_workload(task_id="train", executor_config={"gpu": 4})
    queue_all(executor, workload)
    (job_id,) = drive(executor, lambda: executor._tracker.job_ids())
    drive(executor, lambda: executor._tracker.by_job(job_id).status)  # type: ignore[union-attr]
    polls = faults.count("DescribeJobs")  # the one sweep a new job gets is answered

    world.succeed(job_id)
    world.emit(job_id)

    drive(executor, lambda: executor.event_buffer.get(workload.ti.key))
    assert faults.count("DescribeJobs") == polls
