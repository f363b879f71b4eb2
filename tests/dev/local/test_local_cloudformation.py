"""docs/deployment.md can be rehearsed on `batch-router local`: the template `provision` writes deploys
there with the AWS CLI, unchanged, and makes what the route table names."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batch_router import examples
from batch_router.config.routes import read_route_file
from batch_router.dev.local import LocalBatch
from batch_router.provision import ProvisionOptions, build_template
from batch_router.provision.template import template_yaml

CLUSTER = "arn:aws:eks:us-east-1:123456789012:cluster/airflow"


def _aws(local_batch: LocalBatch, *args: str) -> subprocess.CompletedProcess[str]:
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(local_batch.env())
    return subprocess.run([aws, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _renamed_table() -> Any:
    """The example table under other queue and job definition names than the module's local Batch has."""
    table = read_route_file(examples.ROUTES_FILE)
    routes = tuple(
        dataclasses.replace(r, job_queue=f"cfn-{r.job_queue}", job_definition=f"cfn-{r.job_definition}")
        for r in table.routes
    )
    return dataclasses.replace(table, routes=routes)


def test_the_provisioned_template_deploys_on_the_local_batch_with_the_aws_cli(
    local_batch: LocalBatch, batch: Any, tmp_path: Path
) -> None:
    table = _renamed_table()
    template = tmp_path / "batch-router.cfn.yaml"
    options = ProvisionOptions(image="airflow-worker:3.3", api_server_url="http://127.0.0.1:8080/execution/",
                               eks_cluster_arn=CLUSTER)  # fmt: skip
    template.write_text(template_yaml(build_template(table, options)))
    ec2 = local_batch.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]

    created = _aws(
        local_batch, "cloudformation", "create-stack", "--stack-name", "airflow-batch",
        "--template-body", f"file://{template}", "--capabilities", "CAPABILITY_IAM",
        "--parameters", f"ParameterKey=VpcId,ParameterValue={vpc}",
        f"ParameterKey=Subnets,ParameterValue={subnet}",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    waited = _aws(
        local_batch, "cloudformation", "wait", "stack-create-complete", "--stack-name", "airflow-batch"
    )
    assert waited.returncode == 0, waited.stderr

    queues = batch.describe_job_queues(jobQueues=[r.job_queue for r in table.routes])["jobQueues"]
    assert sorted(q["jobQueueName"] for q in queues) == sorted(r.job_queue for r in table.routes)
    assert all((q["state"], q["status"]) == ("ENABLED", "VALID") for q in queues)
    fargate = batch.describe_job_definitions(jobDefinitionName="cfn-airflow-worker-fargate")["jobDefinitions"]
    assert fargate[0]["platformCapabilities"] == ["FARGATE"]


@pytest.fixture(autouse=True)
def _no_stack_left(local_batch: LocalBatch) -> Any:
    yield
    _aws(local_batch, "cloudformation", "delete-stack", "--stack-name", "airflow-batch")
