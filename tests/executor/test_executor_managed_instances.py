"""A task on an ECS Managed Instances route, through the executor: the request in the task shape."""

from __future__ import annotations

import json
from collections.abc import Callable

from batch_world import BatchWorld, Faults
from executor_kit import Recorder, drive, make_workload, queue_all

from batch_router.executor import BatchRouterExecutor


def test_a_task_on_an_ecs_managed_instances_route_runs_as_an_ecs_task_and_succeeds(
    world: BatchWorld, faults: Faults, set_option: Callable[..., None]
) -> None:
    # moto takes the queue as an EC2 one and drops ecsProperties from job definitions, so the start-up
    # check (which would say so) is off; what is checked is the request the executor sends.
    queue = world.queue("airflow-mi")
    route = {
        "name": "managed",
        "compute": "ecs-managed-instances",
        "job_queue": queue,
        "job_definition": world.job_definition("airflow-task-mi", fargate=False),
    }
    set_option(
        routes=json.dumps({"version": 1, "routes": [route]}),
        region_name="us-east-1",
        check_health_on_startup=False,
        poll_interval=0.02,
    )
    executor = BatchRouterExecutor()
    executor.start()
    try:
        workload = make_workload(task_id="managed", executor_config={"vcpu": 2, "memory_mib": 4096})
        key = workload.ti.key
        queue_all(executor, workload)
        job_id = drive(executor, lambda: (r := executor._tracker.get(key)) and r.job_id)
        recorder = Recorder(executor)
        world.succeed(job_id)
        drive(executor, lambda: "success" in recorder.states(key))
    finally:
        executor.end()

    (sent,) = faults.params("SubmitJob")
    assert "containerOverrides" not in sent
    (container,) = sent["ecsPropertiesOverride"]["taskProperties"][0]["containers"]
    assert container["command"][:3] == ["python", "-m", "airflow.sdk.execution_time.execute_workload"]
    assert {r["type"]: r["value"] for r in container["resourceRequirements"]} == {
        "VCPU": "2",
        "MEMORY": "4096",
    }
