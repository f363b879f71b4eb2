"""A tiny HTTP proxy in front of moto_server that can fail, slow down or drop AWS calls.

It sees the requests exactly as botocore sends them over the wire, so a fault here is what the
executor would meet from a real endpoint: a 429 answer, a 5xx, a delay, or a connection that closes
after the request reached the service (the answer is lost, the job exists).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# AWS Batch is REST-JSON: the operation is in the path; CloudWatch Logs names it in X-Amz-Target.
BATCH_PATHS = {
    "/v1/submitjob": "SubmitJob",
    "/v1/describejobs": "DescribeJobs",
    "/v1/listjobs": "ListJobs",
    "/v1/canceljob": "CancelJob",
    "/v1/terminatejob": "TerminateJob",
}


@dataclass
class _Fault:
    operation: str
    times: int
    status: int = 0  # answer with this status and code...
    code: str = ""
    drop_after_forwarding: bool = False  # ...or forward, then close the connection unanswered


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.delay = 0.0
        self.calls: list[str] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = proxy.operation(self.path, self.headers.get("X-Amz-Target"))
                fault = proxy.take(operation)
                if proxy.delay:
                    time.sleep(proxy.delay)
                if fault is not None and not fault.drop_after_forwarding:
                    self._answer(
                        fault.status,
                        {"x-amzn-ErrorType": fault.code},
                        json.dumps({"__type": fault.code, "message": "injected"}).encode(),
                    )
                    return
                try:
                    status, headers, data = proxy.forward(self.command, self.path, dict(self.headers), body)
                except OSError:  # the upstream server is gone (test teardown): answer as a proxy would
                    self._answer(502, {}, b"upstream unavailable")
                    return
                if fault is not None:  # the service acted on the request; the caller never hears
                    self.close_connection = True
                    return
                self._answer(status, headers, data)

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "date",
                        "server",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def operation(self, path: str, target: str | None) -> str:
        if target:
            return target.rsplit(".", 1)[-1]
        return BATCH_PATHS.get(path.split("?")[0].lower(), path)

    def take(self, operation: str) -> _Fault | None:
        with self._lock:
            self.calls.append(operation)
            for fault in self._faults:
                if fault.times > 0 and fault.operation in (operation, "*"):
                    fault.times -= 1
                    return fault
        return None

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    # what tests ask for -------------------------------------------------------------------------------

    def error(self, operation: str, status: int, code: str, *, times: int = 1) -> None:
        with self._lock:
            self._faults.append(_Fault(operation, times, status=status, code=code))

    def drop_answer(self, operation: str, *, times: int = 1) -> None:
        with self._lock:
            self._faults.append(_Fault(operation, times, drop_after_forwarding=True))

    def count(self, operation: str) -> int:
        with self._lock:
            return self.calls.count(operation)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.calls.clear()
        self.delay = 0.0
