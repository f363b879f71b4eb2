"""What a failed AWS call means for the work that made it: one ``BatchApiError`` with a ``kind``.

The executor never looks at a botocore exception itself: it asks the kind. Throttled calls are paced
and retried and never fail a task; a call that may have taken effect (a 5xx, a read timeout) makes the
executor look for the job before it submits again; expired credentials pause every call until they
are renewed; a request AWS refuses fails its task at once.
"""

from __future__ import annotations

import enum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from batch_router.errors import MAX_AWS_TEXT, BatchRouterError, shorten

__all__ = ["BatchApiError", "ErrorKind", "classify"]

# botocore's own judgement of a throttled answer (the checker its standard and adaptive retry modes use),
# called rather than its list of codes copied.
_THROTTLED = ThrottledRetryableChecker()


def is_throttling_code(code: str) -> bool:
    return bool(
        _THROTTLED.is_retryable(RetryContext(attempt_number=1, parsed_response={"Error": {"Code": code}}))
    )


CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "RequestExpired",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "MissingAuthenticationToken",
        "IncompleteSignature",
        "AuthFailure",
    }
)
SERVER_ERROR_CODES = frozenset(
    {"ServerException", "InternalFailure", "InternalServerError", "ServiceUnavailable", "InternalError"}
)


class ErrorKind(enum.Enum):
    """What a failed call means for the work that made it."""

    THROTTLED = "throttled"  # AWS declined to serve the call now; nothing happened. Pace, retry, never fail.
    TRANSIENT = "transient"  # the request never got through (connection refused, DNS, connect timeout)
    OUTCOME_UNKNOWN = "outcome unknown"  # sent, but the answer was lost or a 5xx: it may have taken effect
    CREDENTIALS = "credentials"  # missing or expired credentials: nothing works until they are renewed
    PERMANENT = "permanent"  # the request itself is wrong (validation, unknown queue or definition)


class BatchApiError(BatchRouterError):
    """A failed AWS call, classified; ``reason`` is the text a task's event log shows."""

    def __init__(self, kind: ErrorKind, operation: str, code: str, message: str):
        self.kind = kind
        self.operation = operation
        # From AWS (or a library): bounded before it reaches an event log, fail(info=) or a log line.
        self.code = shorten(code, 128)
        self.message = shorten(message, MAX_AWS_TEXT)
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.operation} failed ({self.kind.value}): {self.code}: {self.message}"


def classify(operation: str, exc: BaseException) -> BatchApiError:
    """Turn any exception from a boto3 call (or from building its client) into a ``BatchApiError``."""
    if isinstance(exc, BatchApiError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or name)
        message = str(error.get("Message") or exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if is_throttling_code(code) or status == 429:
            kind = ErrorKind.THROTTLED
        elif code in CREDENTIAL_CODES:
            kind = ErrorKind.CREDENTIALS
        elif status >= 500 or code in SERVER_ERROR_CODES:
            kind = ErrorKind.OUTCOME_UNKNOWN
        else:
            kind = ErrorKind.PERMANENT
        return BatchApiError(kind, operation, code, message)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError) or (
        isinstance(exc, BotoCoreError) and ("Credential" in name or "Token" in name or "SSO" in name)
    ):
        return BatchApiError(ErrorKind.CREDENTIALS, operation, name, str(exc))
    if isinstance(exc, ParamValidationError | NoRegionError):
        return BatchApiError(ErrorKind.PERMANENT, operation, name, str(exc))
    if isinstance(exc, ConnectionError):  # could not connect: the request was never sent
        return BatchApiError(ErrorKind.TRANSIENT, operation, name, str(exc))
    if isinstance(exc, HTTPClientError):  # read timeout, connection closed or reset after sending
        return BatchApiError(ErrorKind.OUTCOME_UNKNOWN, operation, name, str(exc))
    return BatchApiError(ErrorKind.TRANSIENT, operation, name, str(exc) or name)
