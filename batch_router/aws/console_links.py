"""Links a person follows from Airflow to a job: the job in the AWS Batch console, its CloudWatch log stream.

Pure string building, so the UI page and the task's log pane give the same links. The CloudWatch
console keeps the log group and stream in the URL fragment, each URL-encoded twice with ``%`` written
as ``$`` (the form the console itself puts in the address bar when a log stream is opened); a plain
URL-encoded ``/`` in a stream name (``job-def/default/<task id>``) would be read as a path separator.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["job_console_url", "log_stream_url"]


def _console(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com"


def job_console_url(region: str, job_id: str) -> str:
    """The job's page in the AWS Batch console."""
    return f"{_console(region)}/batch/home?region={region}#jobs/detail/{quote(job_id, safe='')}"


def _fragment_part(text: str) -> str:
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_stream_url(region: str, log_group: str, log_stream: str) -> str:
    """The log stream's events in the CloudWatch console."""
    return (
        f"{_console(region)}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{_fragment_part(log_group)}/log-events/{_fragment_part(log_stream)}"
    )
