"""The local Batch answering SubmitJob with AWS's throttling error, for a test or a try of the executor.

AWS Batch throttles by request rate per account and Region and answers HTTP 429 with the error code
``TooManyRequestsException`` (AWS Batch API Reference, "Common Errors"; botocore's retry handlers
name it a throttling error). ``batch-router local --throttle-submits N`` answers the first N SubmitJob
calls so, before moto sees them: no job is made, as with AWS, and the executor's throttling path
(backoff, the ``throttled`` metric) runs as it would on AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SubmitThrottle"]

_SUBMIT_PATH = "/v1/submitjob"


class SubmitThrottle:
    """WSGI middleware: the first ``times`` SubmitJob requests get 429 TooManyRequestsException."""

    def __init__(self, app: Callable[..., Iterable[bytes]], times: int):
        self._app = app
        self._left = times
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") == "POST"
            and str(environ.get("PATH_INFO", "")).lower() == _SUBMIT_PATH
        ):
            with self._lock:
                throttle = self._left > 0
                self._left -= 1 if throttle else 0
            if throttle:
                body = json.dumps(
                    {"__type": "TooManyRequestsException", "message": "Too Many Requests"}
                ).encode()
                start_response(
                    "429 Too Many Requests",
                    [
                        ("Content-Type", "application/json"),
                        ("x-amzn-ErrorType", "TooManyRequestsException"),
                        ("Content-Length", str(len(body))),
                    ],
                )
                return [body]
        return self._app(environ, start_response)
