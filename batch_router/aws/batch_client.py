"""The only place that talks to AWS: the Batch and CloudWatch Logs calls batch-router makes.

Clients come from the amazon provider's hooks, so Airflow connections, assumed roles and endpoint
overrides work as they do for every other AWS hook (the dev tools pass their own ``ClientFactory`` for
the local Batch, so they need no Airflow configuration). Reads (Describe*, List*, Cancel, Terminate, logs)
let botocore retry throttling, 5xx and connection errors (``RETRY_MODE``, standard by default), because
repeating them is harmless. Standard, not adaptive: AWS recommends standard mode and calls adaptive
"appropriate only for specialized use-cases" (https://docs.aws.amazon.com/sdkref/latest/guide/
feature-retry-behavior.html), and the soak (docs/performance.md) shows why here: adaptive's client-side
limiter takes every random throttle as a sign to slow down, so with faults under botocore's retries it
shrank the rate of every read of the executor to a crawl (a 1,000-task run took 297 s against 56 s).
SubmitJob is different: it has no idempotency token, so a retried call whose first answer was
lost makes a second job. Its client therefore makes one attempt (standard mode, no retries); every
SubmitJob failure comes back to the executor as a ``BatchApiError`` whose ``kind`` says whether the job
may exist, and the executor paces, looks for the job, or submits again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from airflow.utils.helpers import chunks
from botocore.config import Config

from batch_router.aws.brief_answers import BRIEF_PARSE_EVENT, shrink_describe_jobs
from batch_router.aws.errors import classify
from batch_router.aws.submit_pacer import SubmitPacer
from batch_router.aws.wire_logging import install_filter, quiet_calls
from batch_router.compat.botocore import without_parser_cycles

DESCRIBE_JOBS_MAX = 100  # DescribeJobs takes at most 100 ids per call
READ_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30
LOG_LINES_MAX = 10_000

T = TypeVar("T")
# Makes a boto3 client for a service ("batch" or "logs") with the given botocore configuration.
ClientFactory = Callable[[str, Config], Any]


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
        retry_mode: str = "standard",
        submit_rate_limit: float = 0.0,
        make_client: ClientFactory | None = None,
        log_requests: bool = False,
        read_attempts: int = READ_MAX_ATTEMPTS,
        timeouts: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
    ):
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.retry_mode = retry_mode
        # A reader with a person waiting (the UI page) gives up sooner than the executor's threads.
        self._read_attempts = read_attempts
        self._timeouts = timeouts
        self._make_client = make_client
        # LOG_AWS_REQUESTS: botocore's wire logging of these calls (aws/wire_logging.py).
        self._quiet = not log_requests
        if self._quiet:
            install_filter()
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        # SubmitJob has a fixed per-account quota (50/s); sending at that rate from the start keeps
        # every thread's calls under it instead of learning it from throttling answers (any rate above 0
        # holds: schedulers sharing the account's quota may each be given less than 1 a second).
        self.submit_pacer = SubmitPacer(submit_rate_limit) if submit_rate_limit > 0 else None

    # -- clients -------------------------------------------------------------------------------------

    def _config(self, *, max_attempts: int, mode: str) -> Config:
        return Config(
            retries={"mode": mode, "total_max_attempts": max_attempts},  # type: ignore[typeddict-item]
            connect_timeout=self._timeouts[0],
            read_timeout=self._timeouts[1],
        )

    def _make(self, purpose: str) -> Any:
        if purpose == "submit":
            # One attempt: botocore would retry a read timeout, and a SubmitJob that timed out may
            # already have made a job (the executor looks before it submits again). With no fixed
            # rate, adaptive mode's client-side limiter paces SubmitJob once AWS starts throttling.
            mode = "standard" if self.submit_pacer is not None else "adaptive"
            config = self._config(max_attempts=1, mode=mode)
        else:
            config = self._config(max_attempts=self._read_attempts, mode=self.retry_mode)
        service = purpose if purpose in ("logs", "sqs") else "batch"
        if self._make_client is not None:
            return self._make_client(service, config)
        if service == "logs":
            from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

            return AwsBaseHook(
                aws_conn_id=self.aws_conn_id, region_name=self.region_name, client_type="logs", config=config
            ).conn
        if service == "sqs":
            from airflow.providers.amazon.aws.hooks.sqs import SqsHook

            return SqsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=config).conn
        from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

        return BatchClientHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=config).conn

    def _client(self, purpose: str) -> Any:
        with self._lock:
            client = self._clients.get(purpose)
            if client is None:
                client = self._clients[purpose] = self._make(purpose)
                without_parser_cycles(client)  # no cyclic garbage per answer (see compat.botocore)
                if purpose == "submit" and self.submit_pacer is not None:
                    # A slot is taken just before the request goes on the wire, as botocore's own
                    # adaptive limiter takes its token (retries/adaptive.py, on ``before-send``): taken
                    # before the call, the request's validation, serialization and signing, slowed by
                    # every other thread wanting the GIL, would come between the slot and AWS, bunching
                    # evenly paced calls into bursts AWS answers with 429s.
                    client.meta.events.register("before-send.batch.SubmitJob", self._take_submit_slot)
                if purpose == "poll":
                    # The poll's own client: its DescribeJobs answers are cut down to what a status
                    # poll reads before botocore parses them (see brief_answers); every other read,
                    # adoption's and the task logs' among them, keeps the full descriptions.
                    client.meta.events.register(BRIEF_PARSE_EVENT, shrink_describe_jobs)
            return client

    def _take_submit_slot(self, **_: Any) -> None:
        """botocore's ``before-send`` handler of SubmitJob (None: send the request as it is)."""
        if self.submit_pacer is not None:
            self.submit_pacer.acquire()

    def prepare(self) -> None:
        """Make the Batch clients now rather than on the first call (no request is sent).

        A client holds tens of thousands of objects (its service model, endpoint rules, handlers); made
        before the scheduler freezes its start-up heap, they never weigh on a later garbage collection.
        """
        for purpose in ("submit", "read", "poll"):
            self._call(purpose, "CreateClient", lambda client: client)

    def region(self) -> str | None:
        """The region calls go to: the setting, else what the connection resolves to (no request sent)."""
        if self.region_name:
            return self.region_name
        try:
            return str(self._client("read").meta.region_name or "") or None
        except Exception:  # no credentials or connection yet: links can wait, the page must not
            return None

    def reset(self) -> None:
        """Forget the clients; the next call makes new ones with freshly resolved credentials."""
        with self._lock:
            self._clients.clear()

    def _call(self, purpose: str, operation: str, call: Callable[[Any], T]) -> T:
        try:
            with quiet_calls(self._quiet):
                return call(self._client(purpose))
        except Exception as exc:
            raise classify(operation, exc) from exc

    # -- jobs ------------------------------------------------------------------------------------------

    def submit_job(self, request: Mapping[str, Any]) -> str:
        """Submit once, without botocore retries; the new job's id."""
        # The submit pacer's slot is taken on ``before-send`` (see ``_client``): it blocks this API
        # thread, never the scheduler's.
        response = self._call("submit", "SubmitJob", lambda c: c.submit_job(**request))
        return str(response["jobId"])

    def describe_jobs(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Full descriptions of the jobs Batch still knows, in chunks of at most 100 ids."""
        return self._describe("read", job_ids)

    def describe_job_statuses(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Like ``describe_jobs``, but a job that has not FAILED comes back as its ``jobId`` and
        ``status`` only (a FAILED job whole): what the status poll reads, at a fraction of the parsing."""
        return self._describe("poll", job_ids)

    def _describe(self, purpose: str, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        for chunk in chunks(list(dict.fromkeys(job_ids)), DESCRIBE_JOBS_MAX):
            response = self._call(purpose, "DescribeJobs", _describe_jobs_call(chunk))
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

    def list_job_ids(self, job_queue: str, status: str) -> list[str]:
        """Ids of every job in ``job_queue`` in ``status`` (ListJobs answers one status at a time)."""

        def call(client: Any) -> list[str]:
            pages = client.get_paginator("list_jobs").paginate(jobQueue=job_queue, jobStatus=status)
            return [str(summary["jobId"]) for page in pages for summary in page.get("jobSummaryList", [])]

        return self._call("read", "ListJobs", call)

    def list_job_summaries(
        self,
        job_queue: str,
        *,
        status: str | None = None,
        created_after_ms: int | None = None,
        pages: int = 1,
    ) -> tuple[list[dict[str, Any]], bool, int]:
        """Job summaries of ``job_queue``, whether pages were left unread, and the calls made (pages read).

        ``created_after_ms`` lists every status at once (the AFTER_CREATED_AT filter; "When the filter
        is used, jobStatus is ignored", newest first, up to 100 a page); ``status`` lists one status (up
        to 1,000 a page). ListJobs, maxResults and filters, in botocore's service model of Batch.
        """
        kwargs: dict[str, Any] = {"jobQueue": job_queue}
        if created_after_ms is not None:
            kwargs["filters"] = [{"name": "AFTER_CREATED_AT", "values": [str(created_after_ms)]}]
        elif status is not None:
            kwargs["jobStatus"] = status

        def call(client: Any) -> tuple[list[dict[str, Any]], bool, int]:
            summaries: list[dict[str, Any]] = []
            token: str | None = None
            for page in range(1, max(1, pages) + 1):
                answer = client.list_jobs(**kwargs, **({"nextToken": token} if token else {}))
                summaries.extend(answer.get("jobSummaryList", []))
                token = answer.get("nextToken")
                if not token:
                    return summaries, False, page
            return summaries, True, max(1, pages)

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

    def job_queue_snapshot(self, job_queue: str) -> dict[str, Any]:
        """GetJobQueueSnapshot: the first RUNNABLE jobs in dispatch order, and the capacity in use."""
        answer = self._call(
            "read", "GetJobQueueSnapshot", lambda c: c.get_job_queue_snapshot(jobQueue=job_queue)
        )
        return {key: answer[key] for key in ("frontOfQueue", "queueUtilization") if key in answer}

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

    # -- job events (SQS) ---------------------------------------------------------------------------

    def sqs(self, operation: str, call: Callable[[Any], T]) -> T:
        """One call on the SQS client of the job events queue (aws/event_queue.py), same connection."""
        return self._call("sqs", operation, call)

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
