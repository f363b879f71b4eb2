"""Faults on a share of AWS calls, above botocore's retries or below them, as AWS and networks make them.

Above (``before-call`` / ``after-call``): once per API call, after botocore's retry layer, so the
executor sees every fault. Below (``before-send``): once per HTTP attempt, under botocore's retries, as
AWS produces them: botocore retries what its mode retries and the executor sees the rest. Both layers
inject throttling (HTTP 429), server errors (HTTP 500), connection errors and answers lost after AWS
acted on the request (a read timeout after moto has made the job). Short spells of missing credentials
come on top, for every call in the spell.

The random choices come from one seeded ``random.Random``, so a run can be repeated.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError

__all__ = ["KINDS", "FaultMix"]

KINDS = ("throttle", "server", "connection", "lost")
ENDPOINT = "https://batch.us-east-1.amazonaws.com"


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._body


def _error_response(code: str, status: int) -> AWSResponse:
    body = json.dumps({"__type": code, "message": "injected by the soak"}).encode()
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json"}
    return AWSResponse(ENDPOINT, status, headers, _Raw(body))


def _parsed(code: str, status: int) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": "injected by the soak"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


@dataclass
class FaultMix:
    """Which layer, how often, and the spells of missing credentials (every ``spell_every`` seconds)."""

    layer: str  # "above" or "below"
    rate: float = 0.2
    seed: int = 1
    spell_every: float = 20.0
    spell_seconds: float = 1.4
    enabled: bool = True

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._lost: set[int] = set()  # requests (by id) whose answer is to be lost after moto acted
        self.injected: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    # -- what to inject ------------------------------------------------------------------------------

    def _pick(self, operation: str) -> str | None:
        with self._lock:
            if not self.enabled:
                return None
            self.calls[operation] += 1
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(KINDS)
            if kind == "lost" and operation not in ("SubmitJob", "TerminateJob", "CancelJob"):
                kind = "server"  # a lost read is a read timeout: the same to the caller as a 5xx
            self.injected[f"{self.layer}:{kind}"] += 1
            return kind

    def enable(self) -> None:
        self._started, self.enabled = time.monotonic(), True

    def _in_spell(self) -> bool:
        """The last ``spell_seconds`` of every ``spell_every``: the first spell comes mid-run."""
        if not self.enabled or self.spell_every <= 0:
            return False
        return (time.monotonic() - self._started) % self.spell_every >= self.spell_every - self.spell_seconds

    # -- botocore handlers ----------------------------------------------------------------------------

    def handlers(self) -> list[tuple[str, Any]]:
        handlers: list[tuple[str, Any]] = [("before-call.batch", self._credentials)]
        if self.layer == "above":
            handlers += [("before-call.batch", self._before_call), ("after-call.batch", self._after_call)]
        return handlers

    def send_handler(self) -> Any:
        """The ``before-send`` handler, which stands in for moto's: botocore calls every before-send
        handler, so moto's own would act on a request this one answers with a fault."""
        return self._before_send if self.layer == "below" else None

    def _credentials(self, **_: Any) -> None:
        if self._in_spell():
            with self._lock:
                self.injected["credentials"] += 1
            raise NoCredentialsError()

    def _before_call(self, params: dict[str, Any], event_name: str, **_: Any) -> Any:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self._lost.discard(threading.get_ident())  # a mark left by a call that raised on the way
        kind = self._pick(operation)
        if kind == "throttle":
            code = "TooManyRequestsException"
            return _error_response(code, 429), _parsed(code, 429)
        if kind == "server":
            return _error_response("ServerException", 500), _parsed("ServerException", 500)
        if kind == "connection":
            raise EndpointConnectionError(endpoint_url=ENDPOINT)
        if kind == "lost":
            with self._lock:
                self._lost.add(threading.get_ident())
        return None

    def _after_call(self, **_: Any) -> None:
        with self._lock:
            lost = threading.get_ident() in self._lost
            self._lost.discard(threading.get_ident())
        if lost:
            raise ReadTimeoutError(endpoint_url=ENDPOINT)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        from moto.core.models import botocore_stubber

        operation = event_name.rsplit(".", 1)[-1]
        kind = self._pick(operation)
        if kind == "throttle":
            return _error_response("TooManyRequestsException", 429)
        if kind == "server":
            return _error_response("ServerException", 500)
        if kind == "connection":
            raise EndpointConnectionError(endpoint_url=ENDPOINT)
        answer = botocore_stubber(event_name=event_name, request=request)  # moto acts on the request
        if kind == "lost":
            raise ReadTimeoutError(endpoint_url=ENDPOINT)  # ...and the answer never arrives
        return answer
