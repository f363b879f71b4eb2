"""Text that comes from AWS is cut to a bound before it reaches a task's event log, its failure info or
the scheduler's log: a 5 MB statusReason must not go through whole."""

from __future__ import annotations

from botocore.exceptions import ClientError

from batch_router.aws.errors import classify
from batch_router.aws.job_states import failure_info, status_reason
from batch_router.errors import MAX_AWS_TEXT

HUGE = "x" * 5_000_000


def test_a_huge_status_reason_is_cut_saying_how_much_was_left_out() -> None:
    reason = status_reason({"statusReason": HUGE})

    assert len(reason) < MAX_AWS_TEXT + 50
    assert reason.endswith("(4,998,976 more characters)")


def test_a_failed_jobs_info_line_is_bounded_whatever_aws_says() -> None:
    job = {"jobName": HUGE, "jobId": "j-1", "status": "FAILED", "statusReason": HUGE}

    assert len(failure_info(job, "/aws/batch/job")) < 2 * MAX_AWS_TEXT


def test_a_huge_error_message_is_cut_in_the_reason_the_event_log_shows() -> None:
    error = ClientError({"Error": {"Code": "ClientException", "Message": HUGE}}, "SubmitJob")

    assert len(classify("SubmitJob", error).reason) < MAX_AWS_TEXT + 100
