"""A job of an ecsProperties job definition (ECS Managed Instances) described by DescribeJobs: its
containers sit under ecsProperties.taskProperties[], and its attempts under taskProperties[] too."""

from __future__ import annotations

from batch_router.aws import job_states as states
from batch_router.aws.health import definition_problem
from batch_router.config.model import Route

FAILED_TASK_JOB = {
    "jobId": "j",
    "jobName": "n",
    "status": "FAILED",
    "statusReason": "Essential container in task exited",
    "startedAt": 5,
    "ecsProperties": {
        "taskProperties": [
            {
                "containers": [
                    {
                        "name": "main",
                        "command": ["python", "-m", "x"],
                        "exitCode": 3,
                        "logStreamName": "batch-router/main/abc",
                        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/mi"}},
                    }
                ]
            }
        ]
    },
    "attempts": [
        {"taskProperties": [{"containers": [{"exitCode": 3, "logStreamName": "batch-router/main/abc"}]}]}
    ],
}


def test_the_exit_code_log_stream_and_group_are_read_from_the_tasks_container() -> None:
    assert states.exit_code(FAILED_TASK_JOB) == 3
    assert states.log_stream(FAILED_TASK_JOB) == "batch-router/main/abc"
    assert states.log_group(FAILED_TASK_JOB, "/default") == "/mi"


def test_an_attempts_task_container_alone_tells_the_exit_code() -> None:
    job = {**FAILED_TASK_JOB, "ecsProperties": {"taskProperties": [{"containers": [{"name": "main"}]}]}}

    assert states.exit_code(job) == 3 and states.log_stream(job) == "batch-router/main/abc"


def test_a_task_job_that_exited_ran_its_task() -> None:
    assert not states.failed_before_start(FAILED_TASK_JOB, seen_running=False)
    assert "exit code 3" in states.failure_info(FAILED_TASK_JOB, "/default")


def test_the_workload_is_read_back_from_the_tasks_container_command() -> None:
    from batch_router.executor.workloads import command_of_job

    assert command_of_job(FAILED_TASK_JOB) == ["python", "-m", "x"]


def _definition(**fields: object) -> dict[str, object]:
    return {"jobDefinitionName": "jd", "revision": 1, "status": "ACTIVE", **fields}


def test_a_managed_instances_route_needs_an_ecs_properties_job_definition() -> None:
    route = Route("mi", "ecs-managed-instances", "q", "jd")
    legacy = _definition(platformCapabilities=["MANAGED_INSTANCES"], containerProperties={"image": "i"})
    task = _definition(platformCapabilities=["MANAGED_INSTANCES"], ecsProperties={"taskProperties": [{}]})

    assert "has no ecsProperties" in str(definition_problem(route, [legacy], implicit=False))
    assert definition_problem(route, [task], implicit=False) is None


def test_an_ec2_job_definition_on_a_managed_instances_route_names_its_capabilities() -> None:
    route = Route("mi", "ecs-managed-instances", "q", "jd")
    ec2 = _definition(platformCapabilities=["EC2"], ecsProperties={"taskProperties": [{}]})

    assert "platformCapabilities ['EC2']" in str(definition_problem(route, [ec2], implicit=False))
