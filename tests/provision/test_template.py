"""``batch-router provision``: the template for a route table, checked by cfn-lint and read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from batch_router import examples
from batch_router.cli import main
from batch_router.config.routes import parse_route_table, read_route_file
from batch_router.errors import ConfigError
from batch_router.provision import ArnScope, ProvisionOptions, build_template, scheduler_statements
from batch_router.provision.arns import CLOUDFORMATION_SCOPE
from batch_router.provision.template import template_yaml

EXAMPLE_TABLES = sorted(examples.EXAMPLES_DIR.glob("*.yaml"))
CLUSTER = "arn:aws:eks:us-east-1:123456789012:cluster/airflow"
FULL = ProvisionOptions(
    image="123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow-worker:3.3",
    api_server_url="https://airflow.example/execution/",
    eks_cluster_arn=CLUSTER,
    remote_log_group="/airflow/task-logs",
    events=True,
)


def table(*routes: dict[str, Any]) -> Any:
    return parse_route_table({"version": 1, "routes": list(routes)}, "routes.yaml")


def route(name: str, compute: str = "fargate", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "compute": compute,
        "job_queue": f"{name}-q",
        "job_definition": f"{name}-def",
        **extra,
    }


def without_subs(value: Any) -> Any:
    """``{"Fn::Sub": text}`` as ``text``, everywhere."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return value["Fn::Sub"]
        return {key: without_subs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_subs(item) for item in value]
    return value


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: res for key, res in template["Resources"].items() if res["Type"] == kind}


@pytest.mark.parametrize(
    "options", [ProvisionOptions(eks_cluster_arn=CLUSTER), FULL], ids=["bare", "every-option"]
)
@pytest.mark.parametrize("path", EXAMPLE_TABLES, ids=lambda p: p.name)
def test_every_example_route_tables_template_passes_cfn_lint(path: Path, options: ProvisionOptions) -> None:
    text = template_yaml(build_template(read_route_file(path), options))

    matches = lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))

    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_the_template_is_yaml_without_aliases_cloudformation_would_refuse() -> None:
    text = template_yaml(build_template(read_route_file(examples.ROUTES_FILE), FULL))

    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text)["AWSTemplateFormatVersion"] == "2010-09-09"


def test_spot_then_on_demand_puts_the_spot_environment_first_in_the_queue() -> None:
    template = build_template(table(route("etl", provision={"capacity": "spot-then-on-demand"})), FULL)

    (queue,) = of_type(template, "AWS::Batch::JobQueue").values()
    order = [entry["ComputeEnvironment"]["Ref"] for entry in queue["Properties"]["ComputeEnvironmentOrder"]]
    kinds = [template["Resources"][env]["Properties"]["ComputeResources"]["Type"] for env in order]
    assert kinds == ["FARGATE_SPOT", "FARGATE"]


def test_ec2_spot_uses_the_price_capacity_strategy_and_on_demand_best_fit_progressive() -> None:
    template = build_template(
        table(
            route(
                "gpu",
                "ec2",
                max_gpu=4,
                provision={"capacity": "spot-then-on-demand", "instance_types": ["g5"]},
            )
        ),
        FULL,
    )

    environments = of_type(template, "AWS::Batch::ComputeEnvironment").values()
    strategies = {
        e["Properties"]["ComputeResources"]["Type"]: e["Properties"]["ComputeResources"]["AllocationStrategy"]
        for e in environments
    }
    assert strategies == {"SPOT": "SPOT_PRICE_CAPACITY_OPTIMIZED", "EC2": "BEST_FIT_PROGRESSIVE"}


def test_a_cpu_route_without_instance_types_lets_batch_pick_its_default_families() -> None:
    template = build_template(table(route("etl", "ec2")), FULL)

    (env,) = of_type(template, "AWS::Batch::ComputeEnvironment").values()
    assert env["Properties"]["ComputeResources"]["InstanceTypes"] == ["default_x86_64"]


def test_ec2_instances_carry_their_route_for_cost_allocation_and_fargate_has_no_instances_to_tag() -> None:
    template = build_template(table(route("etl", "ec2"), route("small")), FULL)

    envs = of_type(template, "AWS::Batch::ComputeEnvironment").values()
    tags = {e["Properties"]["Tags"]["batch-router:route"]: e["Properties"]["ComputeResources"] for e in envs}
    assert tags["etl"]["Tags"] == {"managed-by": "batch-router", "batch-router:route": "etl"}
    assert "Tags" not in tags["small"]


def test_an_eks_route_joins_the_cluster_given_as_a_parameter() -> None:
    template = build_template(table(route("k8s", "eks", provision={"instance_types": ["m6i"]})), FULL)

    (env,) = of_type(template, "AWS::Batch::ComputeEnvironment").values()
    assert env["Properties"]["EksConfiguration"]["EksClusterArn"] == {"Ref": "EksClusterArn"}
    assert template["Parameters"]["EksClusterArn"]["Default"] == CLUSTER
    (definition,) = of_type(template, "AWS::Batch::JobDefinition").values()
    assert (
        "EksProperties" in definition["Properties"] and "PlatformCapabilities" not in definition["Properties"]
    )


def test_job_definitions_carry_the_platform_capability_of_their_compute() -> None:
    template = build_template(table(route("small"), route("big", "ec2")), FULL)

    capabilities = {
        res["Properties"]["JobDefinitionName"]: res["Properties"]["PlatformCapabilities"]
        for res in of_type(template, "AWS::Batch::JobDefinition").values()
    }
    assert capabilities == {"small-def": ["FARGATE"], "big-def": ["EC2"]}


def test_worker_jobs_are_told_where_the_execution_api_is() -> None:
    template = build_template(table(route("small")), FULL)

    (definition,) = of_type(template, "AWS::Batch::JobDefinition").values()
    env = {e["Name"]: e["Value"] for e in definition["Properties"]["ContainerProperties"]["Environment"]}
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == {"Ref": "ExecutionApiServerUrl"}
    assert template["Parameters"]["ExecutionApiServerUrl"]["Default"] == FULL.api_server_url
    assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "True"


def test_a_fair_share_route_gets_a_scheduling_policy_on_its_queue() -> None:
    template = build_template(
        table(route("shared", fair_share=True, submit_job_kwargs={"shareIdentifier": "etl"})), FULL
    )

    (policy_id,) = of_type(template, "AWS::Batch::SchedulingPolicy")
    (queue,) = of_type(template, "AWS::Batch::JobQueue").values()
    assert queue["Properties"]["SchedulingPolicyArn"] == {"Ref": policy_id}


def test_a_queue_or_job_definition_named_by_arn_is_referenced_not_created() -> None:
    queue_arn = "arn:aws:batch:us-east-1:123456789012:job-queue/existing"
    definition = "existing-def:7"
    template = build_template(
        table({**route("old"), "job_queue": queue_arn, "job_definition": definition}), FULL
    )

    assert of_type(template, "AWS::Batch::JobQueue") == {}
    assert of_type(template, "AWS::Batch::ComputeEnvironment") == {}
    assert of_type(template, "AWS::Batch::JobDefinition") == {}
    assert template["Outputs"]["OldJobQueueArn"]["Value"] == queue_arn
    scope = "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}"
    assert template["Outputs"]["OldJobDefinitionArn"]["Value"] == {
        "Fn::Sub": f"{scope}:job-definition/existing-def:7"
    }


def test_routes_sharing_a_queue_make_it_once() -> None:
    template = build_template(table(route("a"), {**route("b"), "job_queue": "a-q"}), FULL)

    assert len(of_type(template, "AWS::Batch::JobQueue")) == 1


def test_the_scheduler_policy_in_the_template_is_the_one_iam_policy_prints() -> None:
    routes = read_route_file(examples.ROUTES_FILE)
    template = build_template(routes, FULL)

    document = template["Resources"]["SchedulerPolicy"]["Properties"]["PolicyDocument"]
    unwrapped = without_subs(document)
    printed = scheduler_statements(
        routes, CLOUDFORMATION_SCOPE, [FULL.log_group], events_queue="${JobEventsQueue.Arn}"
    )
    assert unwrapped["Statement"] == printed
    assert scheduler_statements(routes, ArnScope("aws", "us-east-1", "1"), ["g"]) != printed


def test_an_eks_route_without_a_cluster_fails_naming_the_route_and_the_flag() -> None:
    with pytest.raises(ConfigError) as raised:
        build_template(table(route("k8s", "eks")), ProvisionOptions())

    text = str(raised.value)
    assert "route 'k8s' runs on EKS" in text and "--eks-cluster-arn" in text


def test_a_gpu_route_without_a_gpu_instance_family_fails_saying_what_to_add() -> None:
    with pytest.raises(ConfigError) as raised:
        build_template(table(route("gpu", "ec2", max_gpu=2, provision={"instance_types": ["m6i"]})), FULL)

    text = str(raised.value)
    assert "routes[0].provision.instance_types" in text and "route 'gpu'" in text and "g5" in text


def test_a_spot_strategy_on_an_on_demand_route_fails() -> None:
    with pytest.raises(ConfigError, match="is for Spot capacity"):
        build_template(
            table(route("etl", "ec2", provision={"allocation_strategy": "SPOT_CAPACITY_OPTIMIZED"})), FULL
        )


def test_one_job_definition_for_two_kinds_of_compute_fails() -> None:
    with pytest.raises(ConfigError, match="one job definition runs on one kind of compute"):
        build_template(table(route("a"), {**route("b", "ec2"), "job_definition": "a-def"}), FULL)


def test_routes_sharing_a_queue_with_different_capacity_fail() -> None:
    with pytest.raises(ConfigError, match="shares job queue 'a-q'"):
        build_template(
            table(route("a"), {**route("b", provision={"capacity": "spot"}), "job_queue": "a-q"}), FULL
        )


def test_provision_writes_the_template_to_the_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "template.yaml"

    code = main(["provision", "--routes", str(examples.EXAMPLES_DIR / "routes_spot.yaml"), "-o", str(out)])

    assert code == 0
    assert (
        yaml.safe_load(out.read_text())["Resources"]["SchedulerPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["template.yaml"]


def test_provision_that_fails_leaves_the_output_file_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "template.yaml"
    out.write_text("the previous template\n")

    code = main(["provision", "--routes", str(examples.ROUTES_FILE), "-o", str(out)])  # EKS route, no cluster

    assert code == 1
    assert out.read_text() == "the previous template\n"
    assert [p.name for p in tmp_path.iterdir()] == ["template.yaml"]
    captured = capsys.readouterr()
    assert "route 'eks-general' runs on EKS" in captured.out and "nothing written" in captured.err


def test_ec2_and_eks_instances_require_imdsv2_with_a_hop_limit_of_one() -> None:
    template = build_template(table(route("batch", "ec2"), route("k8s", "eks"), route("light")), FULL)

    (launch,) = of_type(template, "AWS::EC2::LaunchTemplate").values()
    assert launch["Properties"]["LaunchTemplateData"]["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
    }
    envs = of_type(template, "AWS::Batch::ComputeEnvironment").values()
    with_template = {
        env["Properties"]["ComputeResources"]["Type"]: env["Properties"]["ComputeResources"].get(
            "LaunchTemplate"
        )
        for env in envs
    }
    assert with_template["EC2"] == {
        "LaunchTemplateId": {"Ref": "WorkerLaunchTemplate"},
        "Version": {"Fn::GetAtt": ["WorkerLaunchTemplate", "LatestVersionNumber"]},
    }
    assert with_template["FARGATE"] is None  # Fargate takes no launch template


def test_a_fargate_only_table_makes_no_launch_template() -> None:
    assert not of_type(build_template(table(route("light")), FULL), "AWS::EC2::LaunchTemplate")


def test_worker_roles_trust_ecs_only_for_this_accounts_tasks() -> None:
    template = build_template(table(route("batch", "ec2")), FULL)

    roles = of_type(template, "AWS::IAM::Role")
    for name in ("WorkerExecutionRole", "WorkerJobRole"):
        (statement,) = without_subs(roles[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"])
        assert statement["Condition"] == {
            "ArnLike": {"aws:SourceArn": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*"},
            "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        }
    (instance,) = roles["EcsInstanceRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert "Condition" not in instance  # EC2 sets no source keys when it assumes an instance role


def test_an_eks_job_definition_runs_as_a_service_account_of_its_own_with_a_pod_identity_role() -> None:
    template = build_template(table(route("k8s", "eks", provision={"instance_types": ["m6i"]})), FULL)

    (definition,) = of_type(template, "AWS::Batch::JobDefinition").values()
    account = definition["Properties"]["EksProperties"]["PodProperties"]["ServiceAccountName"]
    (association,) = of_type(template, "AWS::EKS::PodIdentityAssociation").values()
    assert account == "batch-router-k8s-def" != "default"
    assert association["Properties"]["ServiceAccount"] == account
    assert association["Properties"]["Namespace"] == {"Ref": "EksNamespace"}
    assert association["Properties"]["RoleArn"] == {"Fn::GetAtt": ["EksPodRole", "Arn"]}
    (trust,) = of_type(template, "AWS::IAM::Role")["EksPodRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert (trust["Principal"], trust["Action"]) == (
        {"Service": "pods.eks.amazonaws.com"},
        ["sts:AssumeRole", "sts:TagSession"],
    )


def test_an_eks_route_that_asks_for_its_own_role_gets_one() -> None:
    eks = route("k8s", "eks", provision={"instance_types": ["m6i"], "own_role": True})
    template = build_template(table(eks), FULL)

    (association,) = of_type(template, "AWS::EKS::PodIdentityAssociation").values()
    role = association["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assert role != "EksPodRole"
    trust = of_type(template, "AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_own_role_is_for_eks_routes_only() -> None:
    with pytest.raises(ConfigError, match=r"routes\[0\]\.provision\.own_role: is for EKS routes"):
        table(route("light", provision={"own_role": True}))


def test_a_routes_wait_limits_become_its_queues_job_state_time_limit_actions() -> None:
    limited = route("gpu", "ec2", wait_limits={"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 7200})

    (queue,) = of_type(build_template(table(limited), ProvisionOptions()), "AWS::Batch::JobQueue").values()

    assert queue["Properties"]["JobStateTimeLimitActions"] == [
        {
            "Action": "CANCEL",
            "MaxTimeSeconds": 7200,
            "Reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
            "State": "RUNNABLE",
        }
    ]


def test_a_queue_without_wait_limits_has_no_job_state_time_limit_actions() -> None:
    (queue,) = of_type(build_template(table(route("q")), ProvisionOptions()), "AWS::Batch::JobQueue").values()

    assert "JobStateTimeLimitActions" not in queue["Properties"]


def _consumable_table() -> Any:
    data = {
        "version": 1,
        "consumable_resources": {"licence-x": {"total": 20}},
        "routes": [route("licensed", "ec2", consumable_resources={"licence-x": {"quantity": 1, "max": 4}})],
    }
    return parse_route_table(data, "routes.yaml")


def test_the_tables_consumable_resources_are_made_with_their_total_and_type() -> None:
    template = build_template(_consumable_table(), ProvisionOptions())

    (resource,) = of_type(template, "AWS::Batch::ConsumableResource").values()

    assert resource["Properties"]["ConsumableResourceName"] == "licence-x"
    assert (resource["Properties"]["TotalQuantity"], resource["Properties"]["ResourceType"]) == (
        20,
        "REPLENISHABLE",
    )


def test_a_template_with_consumable_resources_and_wait_limits_passes_cfn_lint() -> None:
    table = _consumable_table()
    limited = parse_route_table(
        {
            "version": 1,
            "consumable_resources": {"licence-x": {"total": 20}},
            "routes": [
                route(
                    "licensed",
                    "ec2",
                    consumable_resources={"licence-x": 1},
                    wait_limits={"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 3600},
                )
            ],
        },
        "routes.yaml",
    )
    for each in (table, limited):
        text = template_yaml(build_template(each, ProvisionOptions()))
        matches = lint(text, config=ManualArgs(regions=["us-east-1"]))
        assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_the_scheduler_may_submit_jobs_using_the_tables_consumable_resources() -> None:
    from batch_router.provision.arns import ArnScope

    statements = scheduler_statements(_consumable_table(), ArnScope("aws", "us-east-1", "123456789012"), [])

    submit = next(s for s in statements if s["Sid"] == "SubmitToTheRouteTable")
    assert "arn:aws:batch:us-east-1:123456789012:consumable-resource/licence-x" in submit["Resource"]


def test_an_ecs_managed_instances_route_passes_cfn_lint_on_demand_and_spot_first() -> None:
    for capacity in ("on-demand", "spot-then-on-demand"):
        managed = route(
            "managed",
            "ecs-managed-instances",
            max_gpu=2,
            provision={"capacity": capacity, "instance_types": ["g5", "g6.xlarge"]},
        )
        text = template_yaml(build_template(table(managed), FULL))

        matches = lint(text, config=ManualArgs(regions=["us-east-1"]))

        assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_managed_instances_ask_for_spot_by_capacity_option_in_one_environment_type() -> None:
    managed = route("managed", "ecs-managed-instances", provision={"capacity": "spot-then-on-demand"})

    template = build_template(table(managed), ProvisionOptions())

    queue = next(iter(of_type(template, "AWS::Batch::JobQueue").values()))
    order = [entry["ComputeEnvironment"]["Ref"] for entry in queue["Properties"]["ComputeEnvironmentOrder"]]
    environments = of_type(template, "AWS::Batch::ComputeEnvironment")
    resources = [environments[name]["Properties"]["ComputeResources"] for name in order]
    assert [r["Type"] for r in resources] == ["ECS_MANAGED_INSTANCES", "ECS_MANAGED_INSTANCES"]
    options = [
        r["ManagedInstancesProvider"]["InstanceLaunchTemplate"]["CapacityOptionType"] for r in resources
    ]
    assert options == ["SPOT", "ON_DEMAND"]
    assert "InstanceTypes" not in resources[0] and "LaunchTemplate" not in resources[0]


def test_managed_instances_families_are_allowed_as_wildcards() -> None:
    managed = route("managed", "ecs-managed-instances", provision={"instance_types": ["m7i", "c7i.2xlarge"]})

    (environment,) = of_type(
        build_template(table(managed), ProvisionOptions()), "AWS::Batch::ComputeEnvironment"
    ).values()

    template = environment["Properties"]["ComputeResources"]["ManagedInstancesProvider"][
        "InstanceLaunchTemplate"
    ]
    assert template["InstanceRequirements"]["AllowedInstanceTypes"] == ["m7i.*", "c7i.2xlarge"]


def test_a_managed_instances_job_definition_is_an_ecs_properties_task_on_managed_instances() -> None:
    template = build_template(table(route("managed", "ecs-managed-instances")), ProvisionOptions())

    (definition,) = of_type(template, "AWS::Batch::JobDefinition").values()

    properties = definition["Properties"]
    assert properties["PlatformCapabilities"] == ["MANAGED_INSTANCES"]
    assert "ContainerProperties" not in properties
    (container,) = properties["EcsProperties"]["TaskProperties"][0]["Containers"]
    assert container["Essential"] is True and container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert "ManagedInstancesInfrastructureRole" in template["Resources"]
    trust = template["Resources"]["ManagedInstancesInfrastructureRole"]["Properties"][
        "AssumeRolePolicyDocument"
    ]
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs.amazonaws.com"}
