"""AWS Batch's job state change events, sent by the local Batch as AWS Batch sends them.

Each time a job that was submitted changes status, AWS Batch puts a "Batch Job State Change" event
(source ``aws.batch``, ``detail`` the job as DescribeJobs describes it, ``resources`` its ARN) on the
account's default event bus; none for the submission itself (AWS Batch user guide, "Job state change
events"). moto's EventBridge then does what EventBridge does: every rule whose pattern matches sends it
to its targets, an SQS queue among them. The event is put on moto's backend in this process, as the
service itself would, not through PutEvents (AWS refuses ``aws.*`` sources from callers).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from batch_router.aws.job_events import DETAIL_TYPE, SOURCE

__all__ = ["emit"]

logger = logging.getLogger(__name__)


def emit(job: Any) -> None:
    """Send ``job``'s (a moto Batch ``Job``) current status as its state change event."""
    from moto.events.models import events_backends

    try:
        account, region = job.job_definition.backend.account_id, job.job_definition._region
        detail = json.dumps(job.describe(), default=str)
        events_backends[account][region].put_events(
            [{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": detail, "Resources": [job.arn]}]
        )
    except Exception:  # an event the local Batch cannot send is lost, as one can be in AWS
        logger.exception("local Batch: could not send the state change event of job %s", job.job_id)
