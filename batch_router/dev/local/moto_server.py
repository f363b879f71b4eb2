"""moto's HTTP app on a socket this module binds itself, so a taken port fails fast and clearly.

moto's ``ThreadedMotoServer`` binds inside its thread (a bind error leaves ``start()`` waiting for
ever) and werkzeug's server calls ``sys.exit`` when the port is taken; binding here first avoids both.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

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

    def __init__(self, host: str = HOST, port: int = 0):
        sock = _listening_socket(host, port)
        try:
            self._server: BaseWSGIServer = make_server(
                host,
                sock.getsockname()[1],
                DomainDispatcherApplication(create_backend_app),
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
