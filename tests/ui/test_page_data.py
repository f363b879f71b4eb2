"""What the routes table says about a queue, from a snapshot of AWS Batch (pure)."""

from __future__ import annotations

from batch_router.config.model import Route, RouteTable
from batch_router.plan.naming import DEPLOYMENT_TAG, ROUTE_TAG, TRY_ID_TAG
from batch_router.ui.batch_view import QueueState, Snapshot
from batch_router.ui.page_data import Place, route_rows

TABLE = RouteTable(routes=(Route("gpu", "ec2", "q-gpu", "jd"),), default_route="gpu")
PLACE = Place("airflow", "eu-west-1", "/aws/batch/job", "/")
CAPACITY = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - There is not enough capacity."
RESOURCE = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job asks for more vCPUs than the queue allows."


def snapshot(head: str | None) -> Snapshot:
    older = {"jobId": "older", "status": "RUNNABLE", "createdAt": 1_000, "statusReason": CAPACITY}
    newer = {"jobId": "newer", "status": "RUNNABLE", "createdAt": 2_000, "statusReason": RESOURCE}
    tags = {DEPLOYMENT_TAG: "airflow", TRY_ID_TAG: "t", ROUTE_TAG: "gpu"}
    return Snapshot(
        taken_ms=10_000,
        window_ms=3_600_000,
        queues={"q-gpu": QueueState("q-gpu", "ENABLED", "VALID", head_job_id=head)},
        jobs={"q-gpu": (newer, older)},
        descriptions={"older": {"tags": tags}, "newer": {"tags": tags}},
    )


def test_the_queue_is_blocked_for_the_reason_of_the_job_at_its_head() -> None:
    (row,) = route_rows(TABLE, snapshot(head="newer"), PLACE)
    assert row["blocked"]["code"] == "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"


def test_without_a_snapshot_the_oldest_runnable_job_with_a_documented_reason_stands_for_the_head() -> None:
    (row,) = route_rows(TABLE, snapshot(head=None), PLACE)
    assert row["blocked"]["code"] == "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
    assert row["counts"]["RUNNABLE"] == 2
