"""The local AWS Batch: moto's server on 127.0.0.1 whose Batch jobs run as local processes.

moto keeps its state in process-wide backends, so one ``LocalBatch`` at a time owns them: ``start``
clears them, installs the local job runner and (given a route table) provisions it; ``stop`` kills
every job's process group, stops the server, puts moto's own job class back and clears the state.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.moto_api._internal.models import moto_api_backend

from batch_router.config.model import RouteTable
from batch_router.config.settings import env_var
from batch_router.dev.local import (
    cloudformation_gaps,
    credentials,
    job_definition_revisions,
    managed_instances,
    queue_snapshot,
    runner,
    runtime,
)
from batch_router.dev.local.clients import endpoint_client
from batch_router.dev.local.job_events import make_events_queue
from batch_router.dev.local.moto_server import HOST, MotoHttpServer
from batch_router.dev.local.provision import provision
from batch_router.errors import BatchRouterError

_active_lock = threading.Lock()
_active: LocalBatch | None = None


class LocalBatchError(BatchRouterError):
    """The local Batch cannot start (e.g. another one already runs in this process)."""


class LocalBatch:
    """Start with ``start()`` or ``with LocalBatch(...) as batch:``; point clients at ``env()``."""

    def __init__(
        self,
        table: RouteTable | None = None,
        *,
        port: int | None = None,
        region: str = "us-east-1",
        work_dir: Path | None = None,
        transition_seconds: float = 0.25,
        kill_grace_seconds: float = 5.0,
        max_concurrent_jobs: int = 256,
        events: bool = True,
        throttle_submits: int = 0,
    ):
        self.table = table
        self.events = events  # the job events path: a rule for the table's queues into an SQS queue
        self.region = region
        self._requested_port = port or 0
        self._throttle_submits = throttle_submits  # the first SubmitJob calls answered 429 (throttling.py)
        self._work_dir = Path(work_dir) if work_dir is not None else None
        self._transition_seconds = transition_seconds
        self._kill_grace_seconds = kill_grace_seconds
        self._max_concurrent_jobs = max_concurrent_jobs
        self._server: MotoHttpServer | None = None
        self._key: credentials.KeyPair | None = None
        self._runtime: runtime.JobRuntime | None = None
        self._temp_dir: Path | None = None
        self._events_queue: str | None = None

    # ------------------------------------------------------------------ where it is

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise LocalBatchError("the local Batch is not running; call start() first")
        return self._server.port

    @property
    def key(self) -> credentials.KeyPair:
        """The access key this run made; requests signed with any other are refused."""
        if self._key is None:
            raise LocalBatchError("the local Batch is not running; call start() first")
        return self._key

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def work_dir(self) -> Path:
        """Where each job runs, in its own ``<jobId>`` folder (a temporary one unless given)."""
        if self._work_dir is not None:
            return self._work_dir
        if self._temp_dir is None:
            raise LocalBatchError("the local Batch is not running; call start() first")
        return self._temp_dir

    @property
    def events_queue(self) -> str | None:
        """The job events queue's URL (the executor's JOB_EVENTS_QUEUE), when made."""
        return self._events_queue

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 and Airflow's amazon provider at this server."""
        endpoint = self.endpoint_url
        connection = {
            "conn_type": "aws",
            "login": self.key.access_key_id,
            "password": self.key.secret_access_key,
            "extra": {"endpoint_url": endpoint, "region_name": self.region},
        }
        return {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_BATCH": endpoint,
            "AWS_ENDPOINT_URL_LOGS": endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.key.secret_access_key,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection, separators=(",", ":")),
            **({env_var("job_events_queue"): self._events_queue} if self._events_queue else {}),
        }

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on this server."""
        return endpoint_client(
            service,
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=self.key.access_key_id,
            secret_access_key=self.key.secret_access_key,
        )

    # ------------------------------------------------------------------ lifecycle

    def hold_capacity(self, job_queue: str, held: bool = True) -> None:
        """Make the queue act as if EC2 had no instances to give its compute environments (``held``),
        or give them back: its jobs block in RUNNABLE with AWS's CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY
        reason meanwhile (``blocking``)."""
        if self._runtime is None:
            raise LocalBatchError("the local Batch is not running")
        self._runtime.hold_capacity(job_queue, held)

    def start(self) -> LocalBatch:
        global _active
        if self._server is not None:
            return self
        # raises PortInUseError at once
        server = MotoHttpServer(HOST, self._requested_port, throttle_submits=self._throttle_submits)
        with _active_lock:
            if _active is not None:
                server.stop()
                raise LocalBatchError(
                    f"a local Batch already runs in this process at {_active.endpoint_url}; stop it first"
                )
            _active = self
        try:
            moto_api_backend.reset()
            # A key pair of this run, and only requests signed with it answered (dev/local/credentials.py).
            self._key = credentials.issue()
            credentials.require_signed_requests()
            if self._work_dir is None:
                self._temp_dir = Path(tempfile.mkdtemp(prefix="batch-router-local-"))
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self._server = server
            self._runtime = runtime.JobRuntime(
                runtime.RunnerSettings(
                    work_dir=self.work_dir,
                    base_env=self.env(),
                    transition_seconds=self._transition_seconds,
                    kill_grace_seconds=self._kill_grace_seconds,
                    max_concurrent_jobs=self._max_concurrent_jobs,
                )
            )
            runner.install(self._runtime)
            cloudformation_gaps.install()  # with eks_environments: the template deploys as on AWS
            job_definition_revisions.install()
            managed_instances.install()
            queue_snapshot.install()
            server.start()
            atexit.register(self.stop)
            if self.table is not None:
                provision(self.table, self.client("batch"))
                if self.events:
                    self._events_queue = make_events_queue(
                        (route.job_queue for route in self.table.routes),
                        batch=self.client("batch"),
                        sqs=self.client("sqs"),
                        events=self.client("events"),
                    )
        except BaseException:
            self.stop()
            server.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every job (no process is left behind), then the server; safe to call twice."""
        global _active
        if _active is not self:
            return
        atexit.unregister(self.stop)
        try:
            if self._server is not None:
                self._server.stop()
            if self._runtime is not None:
                self._runtime.stop_all()
        finally:
            runner.uninstall()
            cloudformation_gaps.uninstall()
            job_definition_revisions.uninstall()
            managed_instances.uninstall()
            queue_snapshot.uninstall()
            credentials.release()
            moto_api_backend.reset()
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._server = None
            self._runtime = None
            self._temp_dir = None
            self._events_queue = None
            with _active_lock:
                _active = None

    def __enter__(self) -> LocalBatch:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
