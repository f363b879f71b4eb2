"""docs/deployment.md, run: every command of the guide, in order, as written, against moto's server.

The guide's shell blocks are read from the file itself, so a command changed in the docs is the command
tested. Lines marked ``# yours`` set the reader's own values (account, VPC, URLs): the test sets its own
there. Lines marked ``# not run by the tests`` need Docker or a running Airflow. The AWS CLI and
batch-router run as subprocesses, the way a reader runs them, with AWS_ENDPOINT_URL pointing at moto.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from batch_world import ACCOUNT, REGION, BatchWorld

from batch_router import examples
from batch_router.dev.local import cloudformation_gaps

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deployment.md"
YOURS, NOT_RUN = "# yours", "# not run by the tests"


def guide_commands() -> tuple[list[str], set[str]]:
    """(the commands the test runs, the variables the reader sets on ``# yours`` lines)."""
    text = GUIDE.read_text(encoding="utf-8")
    commands: list[str] = []
    yours: set[str] = set()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#") or NOT_RUN in line:
                continue
            if YOURS in line:
                assert line.startswith("export "), f"only exports may be marked {YOURS!r}: {line}"
                yours |= set(re.findall(r"([A-Z_][A-Z0-9_]*)=", line.split("#", 1)[0]))
                continue
            commands.append(line)
    return commands, yours


@pytest.fixture
def reader(
    moto_server: str, world: BatchWorld, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The reader's values for the ``# yours`` lines, and an AWS account (moto) holding what they name."""
    cloudformation_gaps.install()  # as the local Batch does; uninstalled at the end of the test
    request.addfinalizer(cloudformation_gaps.uninstall)
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_server)
    vpc = ec2.describe_subnets(SubnetIds=[world.subnet])["Subnets"][0]["VpcId"]
    second = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    iam = boto3.client("iam", region_name=REGION, endpoint_url=moto_server)
    iam.create_role(RoleName="airflow-scheduler", AssumeRolePolicyDocument="{}")
    shutil.copy(examples.ROUTES_FILE, tmp_path / "routes.yaml")
    yield {
        "AWS_REGION": REGION,
        "ACCOUNT_ID": ACCOUNT,
        "VPC_ID": vpc,
        "SUBNETS": f"{world.subnet}\\,{second}",
        "API_URL": "https://airflow.internal.example.com/execution/",
        "EKS_CLUSTER_ARN": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/airflow",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
    }


def run_guide(
    commands: list[str], values: dict[str, str], cwd: Path, endpoint: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW__AWS_BATCH_EXECUTOR__"))}
    env.update(values)
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_PAGER": "",
        }
    )
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_the_guide_marks_what_the_reader_sets() -> None:
    _, yours = guide_commands()
    assert {"AWS_REGION", "ACCOUNT_ID", "VPC_ID", "SUBNETS", "API_URL", "EKS_CLUSTER_ARN"} <= yours


def test_every_command_of_the_deployment_guide_runs(
    reader: dict[str, str], moto_server: str, tmp_path: Path
) -> None:
    commands, yours = guide_commands()
    assert yours <= set(reader), f"the test has no value for {sorted(yours - set(reader))}"

    result = run_guide(commands, reader, tmp_path, moto_server)

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=moto_server)
    stack = cfn.describe_stacks(StackName="airflow-batch")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"] for o in stack["Outputs"]}
    assert {"FargateSmallJobQueueArn", "EksGeneralJobDefinitionArn", "SchedulerPolicyArn"} <= outputs
    iam = boto3.client("iam", region_name=REGION, endpoint_url=moto_server)
    attached = iam.list_attached_role_policies(RoleName="airflow-scheduler")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["airflow-batch-router-scheduler"]
    policy = json.loads((tmp_path / "scheduler-policy.json").read_text())
    assert {s["Sid"] for s in policy["Statement"]} >= {"SubmitToTheRouteTable", "ReadTaskLogs"}
    assert "routes.yaml: valid (4 routes" in result.stdout
