"""A job's output, line by line as it is written, into CloudWatch Logs of the same moto server.

Real Batch's awslogs driver writes to log group ``/aws/batch/job``, stream
``<jobDefinitionName>/default/<jobId>``; the local Batch does the same so that code reading task
logs from CloudWatch works unchanged against it.
"""

from __future__ import annotations

import logging
import time
from typing import IO, Any

logger = logging.getLogger(__name__)

LOG_GROUP = "/aws/batch/job"


def log_stream_name(job_definition_name: str, job_id: str) -> str:
    """Batch's own stream name for a job's container."""
    return f"{job_definition_name}/default/{job_id}"


class CloudWatchLines:
    """Puts one event per line into one stream of moto's logs backend (the server's own state)."""

    def __init__(self, logs_backend: Any, group: str, stream: str):
        self._backend = logs_backend
        self.group = group
        self.stream = stream
        logs_backend.ensure_log_group(group)
        logs_backend.ensure_log_stream(group, stream)

    def put(self, line: str) -> None:
        # CloudWatch rejects empty messages; the awslogs driver drops blank lines too.
        if not line.strip():
            return
        event = {"timestamp": int(time.time() * 1000), "message": line}
        try:
            self._backend.put_log_events(self.group, self.stream, [event])
        except Exception as err:  # e.g. someone deleted the group: keep draining the pipe regardless
            logger.warning("could not write to %s/%s: %s", self.group, self.stream, err)


def pump_lines(pipe: IO[bytes], sink: CloudWatchLines) -> None:
    """Copy every line of ``pipe`` to ``sink`` until the writer closes it."""
    with pipe:
        for raw in iter(pipe.readline, b""):
            sink.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
