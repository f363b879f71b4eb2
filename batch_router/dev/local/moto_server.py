"""moto's HTTP app on a socket this module binds itself, so a taken port fails fast and clearly.

moto's ``ThreadedMotoServer`` binds inside its thread (a bind error leaves ``start()`` waiting for
ever) and werkzeug's server calls ``sys.exit`` when the port is taken; binding here first avoids both.

A job submitted here runs a command as the user who started the server, so the server answers only
what an SDK on this machine sends: it binds 127.0.0.1; it refuses a request whose ``Host`` is not the
address it listens on (a web page reaching it through DNS rebinding names its own host); it refuses any
request a browser sent (``Origin`` or ``Sec-Fetch-Site`` present: CORS would only hide the answer, the
job would still run); it refuses a request that is not signed (and moto, once ``credentials`` turns its
authentication on, one not signed with this run's key); and moto's global CORS, which reflects any
origin, is off.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from batch_router.dev.local.throttling import SubmitThrottle
from batch_router.errors import BatchRouterError

HOST = "127.0.0.1"

logger = logging.getLogger(__name__)


class PortInUseError(BatchRouterError):
    """The port asked for is taken by another program."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        super().__init__(
            f"port {port} on {host} is already in use; stop what is using it, choose another port,"
            " or leave the port out to use a free one"
        )


class _QuietRequestHandler(MotoRequestHandler):
    """Request lines go to the ``logging`` module at DEBUG instead of stderr (jobs poll a lot)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), message % args)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LocalOnly:
    """WSGI middleware: pass only requests addressed to ``host:port`` that no browser sent."""

    def __init__(self, app: WsgiApp, host: str, port: int, *, signed_only: bool = True):
        self._app = app
        self._hosts = {f"{host}:{port}", f"localhost:{port}"}
        # moto checks signatures itself once authentication is on (dev/local/credentials.py); an
        # unsigned request is refused here first, with a 403 that says why (moto would fail on it), and
        # so is moto's own unauthenticated /moto-api/ (it can reset or seed the server's state).
        self._signed_only = signed_only

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        why = self.refusal(environ)
        if why is None:
            return self._app(environ, start_response)
        logger.warning("batch-router local: refused a request: %s", why)
        body = f"batch-router local refuses this request: {why}\n".encode()
        start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def refusal(self, environ: dict[str, Any]) -> str | None:
        host = str(environ.get("HTTP_HOST", ""))
        if host not in self._hosts:
            return f"Host {host!r} is not this server ({' or '.join(sorted(self._hosts))})"
        if environ.get("HTTP_ORIGIN") or environ.get("HTTP_SEC_FETCH_SITE"):
            return "it comes from a web browser (Origin or Sec-Fetch-Site header)"
        if self._signed_only and not _signed(environ):
            return "it is not signed; use the credentials `batch-router local` printed"
        return None


def _signed(environ: dict[str, Any]) -> bool:
    """SigV4 in the Authorization header, or a presigned URL's query."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    query = str(environ.get("QUERY_STRING", ""))
    return authorization.startswith("AWS4-HMAC-SHA256 ") or "X-Amz-Signature=" in query


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise PortInUseError(host, port) from None
        raise
    return sock


class MotoHttpServer:
    """moto's full API (every service, one endpoint) served from a daemon thread."""

    def __init__(self, host: str = HOST, port: int = 0, *, throttle_submits: int = 0):
        # moto reads this when it makes each service's app (on first use), so it is set before any is made.
        setattr(werkzeug_app, "DISABLE_GLOBAL_CORS", True)  # noqa: B010 (not exported by moto)
        sock = _listening_socket(host, port)
        bound = sock.getsockname()[1]
        try:
            self._server: BaseWSGIServer = make_server(
                host,
                bound,
                LocalOnly(
                    SubmitThrottle(DomainDispatcherApplication(create_backend_app), throttle_submits),
                    host,
                    bound,
                ),
                threaded=True,
                request_handler=_QuietRequestHandler,
                fd=sock.fileno(),
            )
        finally:
            sock.close()  # the server holds its own duplicate of the descriptor
        self.host = host
        self.port: int = self._server.port
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="local-batch-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
