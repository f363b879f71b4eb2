"""A small HTTP proxy in front of moto that makes it cost what AWS costs: latency, a rate limit, a bill.

Every Batch API call waits ``latency`` seconds (AWS's round trip, which moto on loopback does not
have), SubmitJob above the token bucket's rate is answered the way AWS answers it (HTTP 429,
``TooManyRequestsException``) without reaching moto, and every call is counted by operation so the
harness can report API calls per task. Batch is a REST-JSON API: the operation is the path
(``/v1/submitjob``). Paths under ``/_bench/`` are the harness's own controls: no latency, not counted.

The memory pass counts what an executor keeps per try while no DescribeJobs answer is on its way: it
holds new DescribeJobs calls at the proxy (``/_bench/quiet?seconds=S``, for at most S seconds, so a
worker that dies never leaves the API stuck) and waits until none is being answered.
"""

from __future__ import annotations

import gc
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks import fake_batch
from benchmarks.rate_limit import TokenBucket

SUBMIT_JOB = "SubmitJob"
DESCRIBE_JOBS = "DescribeJobs"
# REST paths of the Batch operations the executors use, as botocore sends them.
OPERATIONS = {
    "submitjob": SUBMIT_JOB,
    "describejobs": DESCRIBE_JOBS,
    "terminatejob": "TerminateJob",
    "canceljob": "CancelJob",
    "listjobs": "ListJobs",
}
QUIET_CAP_SECONDS = 60.0
THROTTLE_BODY = json.dumps({"__type": "TooManyRequestsException", "message": "Too Many Requests"}).encode()
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})


def operation_of(path: str) -> str:
    """``/v1/submitjob?x`` -> ``SubmitJob``; paths this proxy does not know keep their own name."""
    word = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
    return OPERATIONS.get(word, word or "/")


class ApiStats:
    """What the fake API has been asked, with the moments that matter for submission throughput."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.submit_ok_at: list[float] = []
        self.submit_throttled = 0
        self.first_call_at: float | None = None
        self.describe_ids = 0
        self.describe_max_ids = 0
        self.describe_in_flight = 0  # let through the quiet gate and not yet answered
        self._full_collections_before = gc.get_stats()[2]["collections"]

    def record(self, op: str, at: float, *, ok: bool, throttled: bool = False, ids: int = 0) -> None:
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1
            if self.first_call_at is None:
                self.first_call_at = at
            if op == SUBMIT_JOB:
                if throttled:
                    self.submit_throttled += 1
                elif ok:
                    self.submit_ok_at.append(at)
            elif op == DESCRIBE_JOBS:
                self.describe_ids += ids
                self.describe_max_ids = max(self.describe_max_ids, ids)

    def describe_started(self) -> None:
        with self._lock:
            self.describe_in_flight += 1

    def describe_ended(self) -> None:
        with self._lock:
            self.describe_in_flight -= 1

    def snapshot(self, *, times: bool = True) -> dict[str, Any]:
        """``times``: with every SubmitJob's time (20,000 of them at the largest size), which the worker,
        asking once a second, does not need."""
        with self._lock:
            return {
                "now": time.monotonic(),
                "calls": dict(self.calls),
                "submit_ok": len(self.submit_ok_at),
                "submit_ok_at": list(self.submit_ok_at) if times else [],
                "submit_throttled": self.submit_throttled,
                "first_call_at": self.first_call_at,
                "describe_calls": self.calls.get(DESCRIBE_JOBS, 0),
                "describe_ids": self.describe_ids,
                "describe_max_ids": self.describe_max_ids,
                "describe_in_flight": self.describe_in_flight,
                "held_jobs": fake_batch.held_count(),
                "full_collections": gc.get_stats()[2]["collections"] - self._full_collections_before,
            }


class QuietGate:
    """Holds DescribeJobs calls at the door until it opens again or its time is up."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._until = 0.0

    def close_for(self, seconds: float) -> float:
        """Closed for ``seconds`` (at most ``QUIET_CAP_SECONDS``; 0 opens it); how long it is closed."""
        seconds = min(max(seconds, 0.0), QUIET_CAP_SECONDS)
        with self._lock:
            self._until = time.monotonic() + seconds
            if seconds > 0:
                self._open.clear()
            else:
                self._open.set()
        return seconds

    def wait(self) -> None:
        while not self._open.is_set():
            with self._lock:
                left = self._until - time.monotonic()
                if left <= 0:
                    self._open.set()
                    return
            self._open.wait(left)


class LatencyProxy(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        *,
        upstream: tuple[str, int],
        latency: float,
        bucket: TokenBucket | None,
    ) -> None:
        super().__init__(address, _Handler)
        self.upstream = upstream
        self.latency = latency
        self.bucket = bucket
        self.stats = ApiStats()
        self.quiet = QuietGate()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK adds ~40 ms.
    disable_nagle_algorithm = True
    server: LatencyProxy
    _upstream_conn: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: at thousands of calls a second, logging would be the bottleneck being measured."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/_bench/"):
            self._control()
            return
        target = self.headers.get("X-Amz-Target")  # JSON-protocol services (SQS) name it in a header
        op = target.rsplit(".", 1)[-1] if target else operation_of(self.path)
        if op != DESCRIBE_JOBS:
            self._serve(op, body)
            return
        self.server.quiet.wait()
        self.server.stats.describe_started()
        try:
            self._serve(op, body)
        finally:
            self.server.stats.describe_ended()

    def _serve(self, op: str, body: bytes) -> None:
        arrived = time.monotonic()
        bucket = self.server.bucket
        allowed = op != SUBMIT_JOB or bucket is None or bucket.try_acquire(arrived)
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        if not allowed:
            self.server.stats.record(op, time.monotonic(), ok=False, throttled=True)
            self._reply(429, THROTTLE_BODY, [("x-amzn-ErrorType", "TooManyRequestsException")])
            return
        status, headers, answer = self._forward(body)
        ids = 0
        if op == DESCRIBE_JOBS:
            try:
                ids = len(json.loads(body or b"{}").get("jobs") or [])
            except ValueError:
                ids = 0
        self.server.stats.record(op, time.monotonic(), ok=200 <= status < 300, ids=ids)
        self._reply(status, answer, headers)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        if self._upstream_conn is None:
            self._upstream_conn = http.client.HTTPConnection(*self.server.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = self.headers.get("Host", "")
        for attempt in (1, 2):
            try:
                self._upstream_conn.request(self.command, self.path, body=body, headers=headers)
                response = self._upstream_conn.getresponse()
                answer = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
                return response.status, kept, answer
            except (http.client.HTTPException, ConnectionError):
                # moto closed an idle keep-alive connection: reconnect once.
                self._upstream_conn.close()
                self._upstream_conn = http.client.HTTPConnection(*self.server.upstream, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _control(self) -> None:
        if self.path.startswith("/_bench/stats"):
            answer: dict[str, Any] = self.server.stats.snapshot(times="brief=1" not in self.path)
        elif self.path.startswith("/_bench/released"):
            answer = {"released": fake_batch.released()}
        elif self.path.startswith("/_bench/release") and self.command == "POST":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            rate = float(query.get("rate", ["0"])[0] or 0)
            if rate > 0:
                answer = {"released": fake_batch.release_paced(rate)}
            else:
                answer = {"released": fake_batch.release_all(keep_holding="hold=1" in self.path)}
        elif self.path.startswith("/_bench/quiet") and self.command == "POST":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            try:
                seconds = float(query.get("seconds", ["0"])[0])
            except ValueError:
                self._reply(400, b'{"error": "seconds must be a number"}', [])
                return
            answer = {"quiet_seconds": self.server.quiet.close_for(seconds)}
        else:
            self._reply(404, b'{"error": "unknown control path"}', [])
            return
        self._reply(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-type" for name, _ in headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
