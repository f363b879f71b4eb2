"""Ports on the loopback address: one nobody holds, and a clear error when a wanted one is taken."""

from __future__ import annotations

import socket

from batch_router.dev.airflow_stack.errors import StackError

__all__ = ["HOST", "check_port_free", "free_port", "port_in_use"]

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when binding ``host:port`` fails, i.e. another program already holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_port_free(port: int, what: str) -> None:
    if port_in_use(port):
        raise StackError(
            f"port {port} on {HOST} is already in use, and {what} needs it; stop what is using it "
            "or choose another port"
        )
