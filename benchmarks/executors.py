"""The executors under comparison, and the one environment both are configured from."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

REFERENCE = "reference"
BATCH_ROUTER = "batch-router"
BATCH_ROUTER_EVENTS = "batch-router-events"  # batch-router on the job events path (JOB_EVENTS_QUEUE)
# The fake API's queue (benchmarks.fake_batch.EVENTS_QUEUE); moto finds a queue by the URL's last part.
EVENTS_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/bench-job-events"

JOB_QUEUE = "bench-queue"
JOB_DEFINITION = "bench-jobdef"
REGION = "us-east-1"


@dataclass(frozen=True)
class ExecutorSpec:
    name: str
    class_path: str
    # Settings only this executor has; everything in executor_env() is shared.
    own_settings: Mapping[str, str] = field(default_factory=dict)
    events: bool = False  # the fake API sends job state change events to SQS for it

    @property
    def module(self) -> str:
        return self.class_path.rsplit(".", 1)[0]

    def missing_reason(self) -> str | None:
        """Why this executor cannot be benchmarked here, or None when its module can be found."""
        try:
            found = importlib.util.find_spec(self.module)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return f"{self.module} is not importable (not written yet?)"
        return None


def reference_spec() -> ExecutorSpec:
    return ExecutorSpec(
        REFERENCE, "airflow.providers.amazon.aws.executors.batch.batch_executor.AwsBatchExecutor"
    )


def batch_router_spec(
    *,
    poll_interval: float | None = None,
    api_concurrency: int | None = None,
    poll_concurrency: int | None = None,
) -> ExecutorSpec:
    own: dict[str, str] = {}
    if poll_interval is not None:
        own["AIRFLOW__AWS_BATCH_EXECUTOR__POLL_INTERVAL"] = str(poll_interval)
    if api_concurrency is not None:
        own["AIRFLOW__AWS_BATCH_EXECUTOR__API_CONCURRENCY"] = str(api_concurrency)
    if poll_concurrency is not None:
        own["AIRFLOW__AWS_BATCH_EXECUTOR__POLL_CONCURRENCY"] = str(poll_concurrency)
    return ExecutorSpec(BATCH_ROUTER, "batch_router.executor.BatchRouterExecutor", own)


def batch_router_events_spec(**kwargs: float | int | None) -> ExecutorSpec:
    """batch-router reading the fake API's job events queue, the sweep only reconciling."""
    plain = batch_router_spec(**kwargs)  # type: ignore[arg-type]
    own = {**plain.own_settings, "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_EVENTS_QUEUE": EVENTS_QUEUE_URL}
    return ExecutorSpec(BATCH_ROUTER_EVENTS, plain.class_path, own, events=True)


def executor_env(
    spec: ExecutorSpec, *, endpoint: str, parallelism: int, airflow_home: str, base: Mapping[str, str]
) -> dict[str, str]:
    """The executor process's environment: the same settings for both, pointed at the fake API.

    Anything the calling shell says about Airflow or AWS is dropped first, so a developer's real
    account or airflow.cfg can never leak into a benchmark.
    """
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AWS_")) and k != "AIRFLOW_HOME"
    }
    connection = {"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": REGION}}
    env.update(
        {
            "AIRFLOW_HOME": airflow_home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{os.path.join(airflow_home, 'airflow.db')}",
            "AIRFLOW__API_AUTH__JWT_SECRET": "benchmark-only-secret",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_QUEUE": JOB_QUEUE,
            "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_DEFINITION": JOB_DEFINITION,
            "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_NAME": "airflow-task",
            "AIRFLOW__AWS_BATCH_EXECUTOR__REGION_NAME": REGION,
            "AIRFLOW__AWS_BATCH_EXECUTOR__CONN_ID": "aws_default",
            "AIRFLOW__AWS_BATCH_EXECUTOR__MAX_SUBMIT_JOB_ATTEMPTS": "3",
            "AIRFLOW__AWS_BATCH_EXECUTOR__CHECK_HEALTH_ON_STARTUP": "False",
        }
    )
    env.update(spec.own_settings)
    return env
