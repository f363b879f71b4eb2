"""The local Batch answers GetJobQueueSnapshot as AWS does: RUNNABLE jobs in dispatch order."""

from __future__ import annotations

import time

from batch_router.config.model import Route, RouteTable
from batch_router.dev.local import LocalBatch
from batch_router.dev.local.clients import local_batch_client

TABLE = RouteTable(routes=(Route("held", "ec2", "local-held", "local-def"),), default_route="held")


def test_the_snapshot_lists_the_waiting_jobs_oldest_first_and_no_capacity_in_use() -> None:
    with LocalBatch(TABLE, transition_seconds=0.02, kill_grace_seconds=1.0) as batch:
        batch.hold_capacity("local-held")
        client = local_batch_client(batch.env())
        request = {"jobQueue": "local-held", "jobDefinition": "local-def"}
        first = client.submit_job({**request, "jobName": "first"})
        second = client.submit_job({**request, "jobName": "second"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = client.job_queue_snapshot("local-held")
            front = [job["jobArn"].rsplit("/", 1)[-1] for job in answer["frontOfQueue"]["jobs"]]
            if len(front) == 2:
                break
            time.sleep(0.1)

        assert front == [first, second]
        assert answer["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 0.0}]
