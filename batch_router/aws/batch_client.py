"""The only place that talks to AWS: Batch and CloudWatch Logs clients, and what their errors mean.

Clients come from the amazon provider's hooks, so Airflow connections, assumed roles and endpoint
overrides work as they do for every other AWS hook. Reads (Describe*, List*, Cancel, Terminate, logs)
let botocore's adaptive retry mode pace and retry throttling and 5xx, because repeating them is
harmless. SubmitJob is different: it has no idempotency token, so a retried call whose first answer was
lost makes a second job. Its client therefore makes one attempt (standard mode, no retries); every
SubmitJob failure comes back to the executor as a ``BatchApiError`` whose ``kind`` says whether the job
may exist, and the executor paces, looks for the job, or submits again.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from botocore.config import Config
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
from botocore.retries.bucket import Clock, TokenBucket

from batch_router.errors import BatchRouterError

DESCRIBE_JOBS_MAX = 100  # DescribeJobs takes at most 100 ids per call
READ_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30
LOG_LINES_MAX = 10_000

THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "PriorRequestNotComplete",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
    }
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

T = TypeVar("T")


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
        self.code = code
        self.message = message
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
        if code in THROTTLING_CODES or status == 429:
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


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Non-empty slices of at most ``size`` items; nothing at all for an empty sequence."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class BatchClient:
    """Thread-safe access to AWS Batch and CloudWatch Logs for one connection and region.

    Clients are made on first use and can be dropped with ``reset()``: after an expired-credentials
    error the next call builds new ones, which re-reads the Airflow connection and the credential chain.
    Every method raises only ``BatchApiError``.
    """

    def __init__(
        self,
        *,
        aws_conn_id: str | None,
        region_name: str | None,
        retry_mode: str = "adaptive",
        submit_rate_limit: float = 0.0,
    ):
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.retry_mode = retry_mode
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        # SubmitJob has a fixed per-account quota (50/s); sending at that rate from the start keeps
        # every thread's calls under it instead of learning it from throttling answers.
        self.submit_bucket = TokenBucket(submit_rate_limit, Clock()) if submit_rate_limit > 0 else None

    # -- clients -------------------------------------------------------------------------------------

    def _config(self, *, max_attempts: int, mode: str) -> Config:
        return Config(
            retries={"mode": mode, "total_max_attempts": max_attempts},  # type: ignore[typeddict-item]
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )

    def _make(self, purpose: str) -> Any:
        if purpose == "logs":
            from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

            return AwsBaseHook(
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                client_type="logs",
                config=self._config(max_attempts=READ_MAX_ATTEMPTS, mode=self.retry_mode),
            ).conn
        from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

        if purpose == "submit":
            # One attempt: botocore would retry a read timeout, and a SubmitJob that timed out may
            # already have made a job (the executor looks before it submits again). With no fixed
            # rate, adaptive mode's client-side limiter paces SubmitJob once AWS starts throttling.
            mode = "standard" if self.submit_bucket is not None else "adaptive"
            config = self._config(max_attempts=1, mode=mode)
        else:
            config = self._config(max_attempts=READ_MAX_ATTEMPTS, mode=self.retry_mode)
        return BatchClientHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=config).conn

    def _client(self, purpose: str) -> Any:
        with self._lock:
            client = self._clients.get(purpose)
            if client is None:
                client = self._clients[purpose] = self._make(purpose)
            return client

    def prepare(self) -> None:
        """Make the Batch clients now rather than on the first call (no request is sent).

        A client holds tens of thousands of objects (its service model, endpoint rules, handlers); made
        before the scheduler freezes its start-up heap, they never weigh on a later garbage collection.
        """
        for purpose in ("submit", "read"):
            self._call(purpose, "CreateClient", lambda client: client)

    def reset(self) -> None:
        """Forget the clients; the next call makes new ones with freshly resolved credentials."""
        with self._lock:
            self._clients.clear()

    def _call(self, purpose: str, operation: str, call: Callable[[Any], T]) -> T:
        try:
            return call(self._client(purpose))
        except Exception as exc:
            raise classify(operation, exc) from exc

    # -- jobs ------------------------------------------------------------------------------------------

    def submit_job(self, request: Mapping[str, Any]) -> str:
        """Submit once, without botocore retries; the new job's id."""
        if self.submit_bucket is not None:
            self.submit_bucket.acquire()  # blocks this API thread, never the scheduler's
        response = self._call("submit", "SubmitJob", lambda c: c.submit_job(**request))
        return str(response["jobId"])

    def describe_jobs(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Full descriptions of the jobs Batch still knows, in chunks of at most 100 ids."""
        jobs: list[dict[str, Any]] = []
        for chunk in chunked(list(dict.fromkeys(job_ids)), DESCRIBE_JOBS_MAX):
            response = self._call("read", "DescribeJobs", _describe_jobs_call(chunk))
            jobs.extend(response.get("jobs", []))
        return jobs

    def list_job_ids_named(self, job_queue: str, job_name: str) -> list[str]:
        """Ids of every job in ``job_queue`` with exactly this name, in any status."""

        def call(client: Any) -> list[str]:
            paginator = client.get_paginator("list_jobs")
            pages = paginator.paginate(
                jobQueue=job_queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
            )
            # JOB_NAME is matched case-insensitively (and as a prefix with '*'): keep exact names only.
            return [
                str(summary["jobId"])
                for page in pages
                for summary in page.get("jobSummaryList", [])
                if summary.get("jobName") == job_name
            ]

        return self._call("read", "ListJobs", call)

    def find_jobs_named(self, job_queue: str, job_name: str) -> list[dict[str, Any]]:
        """Full descriptions (with tags) of every job in ``job_queue`` with exactly this name."""
        ids = self.list_job_ids_named(job_queue, job_name)
        return self.describe_jobs(ids) if ids else []

    def cancel_job(self, job_id: str, reason: str) -> None:
        self._call("read", "CancelJob", lambda c: c.cancel_job(jobId=job_id, reason=reason))

    def terminate_job(self, job_id: str, reason: str) -> None:
        self._call("read", "TerminateJob", lambda c: c.terminate_job(jobId=job_id, reason=reason))

    # -- resources (start-up checks) ---------------------------------------------------------------

    def describe_job_queues(self, names: Sequence[str]) -> list[dict[str, Any]]:
        def call(client: Any) -> list[dict[str, Any]]:
            pages = client.get_paginator("describe_job_queues").paginate(jobQueues=list(names))
            return [queue for page in pages for queue in page.get("jobQueues", [])]

        return self._call("read", "DescribeJobQueues", call)

    def describe_compute_environments(self, refs: Sequence[str]) -> list[dict[str, Any]]:
        def call(client: Any) -> list[dict[str, Any]]:
            pages = client.get_paginator("describe_compute_environments").paginate(
                computeEnvironments=list(refs)
            )
            return [env for page in pages for env in page.get("computeEnvironments", [])]

        return self._call("read", "DescribeComputeEnvironments", call)

    def describe_job_definitions(self, ref: str) -> list[dict[str, Any]]:
        """Every revision ``ref`` names: an ARN or ``name:revision`` names one, a bare name all active."""
        if ref.startswith("arn:") or ":" in ref:
            kwargs: dict[str, Any] = {"jobDefinitions": [ref]}
        else:
            kwargs = {"jobDefinitionName": ref, "status": "ACTIVE"}

        def call(client: Any) -> list[dict[str, Any]]:
            pages = client.get_paginator("describe_job_definitions").paginate(**kwargs)
            return [jd for page in pages for jd in page.get("jobDefinitions", [])]

        return self._call("read", "DescribeJobDefinitions", call)

    # -- logs ----------------------------------------------------------------------------------------

    def log_lines(self, log_group: str, log_stream: str, limit: int = LOG_LINES_MAX) -> list[str]:
        """The stream's messages from the start, oldest first, at most ``limit`` of them."""

        def call(client: Any) -> list[str]:
            lines: list[str] = []
            kwargs: dict[str, Any] = {
                "logGroupName": log_group,
                "logStreamName": log_stream,
                "startFromHead": True,
            }
            while len(lines) < limit:
                response = client.get_log_events(**kwargs)
                lines.extend(str(event.get("message", "")) for event in response.get("events", []))
                token = response.get("nextForwardToken")
                if not response.get("events") or not token or token == kwargs.get("nextToken"):
                    break
                kwargs["nextToken"] = token
            return lines[:limit]

        return self._call("logs", "GetLogEvents", call)


def _describe_jobs_call(job_ids: list[str]) -> Callable[[Any], Any]:
    return lambda client: client.describe_jobs(jobs=job_ids)
