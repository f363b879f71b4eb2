"""Keep botocore's wire logging out of the scheduler's logs unless it is asked for.

At DEBUG, botocore logs every request's parameters and prepared request (a SubmitJob body holds the
task's workload token), its signing material and every response body. An operator who turns the
scheduler's logging to DEBUG to chase a scheduling problem must not write tokens and signatures to the
log store. So the DEBUG records of those few loggers are dropped, by a filter (the loggers' levels and
handlers stay as the operator set them), unless ``LOG_AWS_REQUESTS`` is on.
"""

from __future__ import annotations

import logging

__all__ = ["WIRE_LOGGERS", "quiet_wire_logging"]

# The botocore modules that log request parameters and bodies, signatures, and response bodies.
WIRE_LOGGERS: tuple[str, ...] = ("botocore.endpoint", "botocore.parsers", "botocore.auth")


class _BelowInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_FILTER = _BelowInfo("batch-router: no AWS wire logging")


def quiet_wire_logging(enabled: bool = True) -> None:
    """Drop (``enabled``) or let through (not ``enabled``) the DEBUG records of ``WIRE_LOGGERS``."""
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if enabled and _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        elif not enabled:
            logger.removeFilter(_FILTER)
