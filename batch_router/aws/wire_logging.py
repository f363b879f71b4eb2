"""Keep botocore's wire logging of batch-router's own calls out of the scheduler's logs unless asked for.

At DEBUG, botocore logs every request's parameters and prepared request (a SubmitJob body holds the
task's workload token), its signing material and every response body. An operator who turns the
scheduler's logging to DEBUG to chase a scheduling problem must not write tokens and signatures to the
log store. So the DEBUG records of those few loggers are dropped while one of batch-router's clients
makes a call (``quiet_calls``), unless ``LOG_AWS_REQUESTS`` is on; the loggers' levels and handlers stay
as the operator set them, and every other AWS hook in the process logs exactly as it would without
batch-router (the filter acts only inside batch-router's own calls, told apart by a context variable:
botocore logs on the calling thread).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["WIRE_LOGGERS", "install_filter", "quiet_calls"]

# The botocore modules that log request parameters and bodies, signatures, and response bodies.
WIRE_LOGGERS: tuple[str, ...] = ("botocore.endpoint", "botocore.parsers", "botocore.auth")

_QUIET: ContextVar[bool] = ContextVar("batch_router_quiet_wire_logs", default=False)


class _OursBelowInfo(logging.Filter):
    """Drops a DEBUG record logged inside a call batch-router asked to keep quiet."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or not _QUIET.get()


_FILTER = _OursBelowInfo("batch-router: no wire logging of its own AWS calls")


def install_filter() -> None:
    """Put the filter on the wire loggers (once; idempotent). Done when a quiet client is made, so the
    calls themselves only set the context variable."""
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


@contextlib.contextmanager
def quiet_calls(quiet: bool = True) -> Iterator[None]:
    """The AWS calls made inside write no botocore wire logging (``quiet``), or as botocore would."""
    if not quiet:
        yield
        return
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)
