"""The zero-change start: with only the seed's options, the executor behaves as AwsBatchExecutor, and
start-up reads the implicit route's compute from its job definition and says which contract holds."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from batch_world import BatchWorld
from executor_kit import RecordingLog, drive, make_workload, queue_all

from batch_router.errors import ConfigError
from batch_router.executor import BatchRouterExecutor


def _env(world: BatchWorld, job_id: str) -> dict[str, str]:
    return {e["name"]: e["value"] for e in world.describe(job_id)["container"]["environment"]}


def test_a_tasks_variable_overrides_submit_job_kwargs_in_the_job_aws_receives(
    default_route: str, world: BatchWorld, set_option: Callable[..., None]
) -> None:
    set_option(
        submit_job_kwargs=json.dumps(
            {
                "containerOverrides": {
                    "environment": [{"name": "STAGE", "value": "prod"}, {"name": "KEEP", "value": "1"}]
                }
            }
        )
    )
    executor = BatchRouterExecutor()
    executor.start()
    try:
        task = {"containerOverrides": {"environment": [{"name": "STAGE", "value": "dev"}]}}
        queue_all(executor, make_workload(executor_config=task))
        [job_id] = drive(executor, lambda: world.job_ids())
    finally:
        executor.end()

    env = _env(world, job_id)
    assert (env["STAGE"], env["KEEP"], env["AIRFLOW_IS_EXECUTOR_CONTAINER"]) == ("dev", "1", "true")


def test_a_task_that_names_another_job_queue_is_sent_there(default_route: str, world: BatchWorld) -> None:
    gpu_queue = world.queue("airflow-gpu")
    executor = BatchRouterExecutor()
    executor.start()
    try:
        queue_all(executor, make_workload(executor_config={"jobQueue": gpu_queue}))
        [job_id] = drive(executor, lambda: world.job_ids())
    finally:
        executor.end()

    assert world.describe(job_id)["jobQueue"].endswith(f"job-queue/{gpu_queue}")


def test_start_up_reads_the_implicit_routes_compute_from_its_job_definition(default_route: str) -> None:
    executor = BatchRouterExecutor()
    log = RecordingLog()
    executor._log = log  # type: ignore[assignment]
    executor.start()
    executor.end()

    assert executor._hub.runtime().plan.table.routes[0].compute == "fargate"
    [said] = [line for line in log.infos if "no route table" in line]
    assert said.startswith("batch-router: no route table: executor_config may change any SubmitJob argument")
    assert said.endswith("compute fargate")


def test_without_the_health_check_the_compute_is_still_read_from_the_job_definition(
    default_route: str, set_option: Callable[..., None]
) -> None:
    set_option(check_health_on_startup=False)
    executor = BatchRouterExecutor()
    executor.start()
    executor.end()

    assert executor._hub.runtime().plan.table.routes[0].compute == "fargate"


def test_a_compute_setting_the_job_definition_contradicts_stops_start_up(
    default_route: str, set_option: Callable[..., None]
) -> None:
    set_option(compute="ec2")

    with pytest.raises(
        ConfigError, match=r"COMPUTE .* says ec2, but job definition 'airflow-task' runs on fargate"
    ):
        BatchRouterExecutor().start()


def test_a_job_definition_pinned_to_a_revision_is_found(
    world: BatchWorld, set_option: Callable[..., None]
) -> None:
    definition = world.job_definition("airflow-task")
    world.job_definition("airflow-task")  # revision 2; revision 1 stays pinned
    set_option(
        job_queue=world.queue("airflow-fargate"), job_definition=f"{definition}:1", region_name="us-east-1"
    )
    executor = BatchRouterExecutor()
    executor.start()
    executor.end()

    assert executor._hub.runtime().plan.table.routes[0].compute == "fargate"
