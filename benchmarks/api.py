"""The fake AWS Batch API process: moto's server on loopback, provisioned, behind the latency proxy.

Run by the harness as ``python -m benchmarks.api ...``; it prints one JSON line with the proxy's URL
when it is ready and serves until it is terminated. One process per measured run, so every executor
meets an API in the same fresh state.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer

from benchmarks import fake_batch, fake_sqs
from benchmarks.latency_proxy import LatencyProxy
from benchmarks.rate_limit import TokenBucket

REGION = "us-east-1"


@dataclass(frozen=True)
class ApiConfig:
    latency_ms: float
    rate: float
    burst: float
    job_queue: str
    job_definition: str
    hold_jobs: bool = True
    events: bool = False  # AWS Batch's job state change events into an SQS queue (fake_batch.EventSender)

    def argv(self) -> list[str]:
        args = [
            "--latency-ms",
            str(self.latency_ms),
            "--rate",
            str(self.rate),
            "--burst",
            str(self.burst),
            "--job-queue",
            self.job_queue,
            "--job-definition",
            self.job_definition,
        ]
        args += [] if self.hold_jobs else ["--no-hold"]
        return [*args, "--events"] if self.events else args


def provision(moto_url: str, job_queue: str, job_definition: str) -> None:
    """One EC2 job queue and one container job definition, created straight on moto (not counted)."""
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    iam = boto3.client("iam", endpoint_url=moto_url, **creds)
    role = iam.create_role(
        RoleName="bench-batch-service-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    batch = boto3.client("batch", endpoint_url=moto_url, **creds)
    env = batch.create_compute_environment(
        computeEnvironmentName="bench-ec2", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=job_queue,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
    )
    batch.register_job_definition(
        jobDefinitionName=job_definition,
        type="container",
        platformCapabilities=["EC2"],
        containerProperties={"image": "apache/airflow:3.3.2", "vcpus": 1, "memory": 512, "command": ["true"]},
    )


def no_full_collections() -> None:
    """Leave this process's old objects to the end of the run.

    moto keeps every job it was sent (a ``threading.Thread`` of some fifty objects each) for the whole
    run, so as jobs accumulate CPython's full collections scan hundreds of thousands of objects, and
    every answer waits behind them. In a run of 20,000 tries this process's CPU rose from 35 % to 57 %
    past 13,000 jobs, with dips in the SubmitJob rate and slow heartbeats in the executor measured;
    without full collections, neither. AWS does not slow down with the jobs an account has; young
    collections still run.
    """
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000)


def serve(config: ApiConfig) -> LatencyProxy:
    """Start moto and the proxy in this process; returns the proxy, not yet serving."""
    no_full_collections()
    if config.events:
        fake_sqs.install()
    fake_batch.install(hold_jobs=config.hold_jobs, events=config.events)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request would cost more than moto
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    provision(f"http://{host}:{port}", config.job_queue, config.job_definition)
    if config.events:
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
        boto3.client("sqs", endpoint_url=f"http://{host}:{port}", **creds).create_queue(
            QueueName=fake_batch.EVENTS_QUEUE
        )
    bucket = TokenBucket(config.rate, config.burst, time.monotonic()) if config.rate > 0 else None
    return LatencyProxy(
        ("127.0.0.1", 0), upstream=(host, port), latency=config.latency_ms / 1000, bucket=bucket
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate", type=float, default=50.0, help="SubmitJob calls per second; 0 for no limit")
    parser.add_argument("--burst", type=float, default=5.0)
    parser.add_argument("--job-queue", default="bench-queue")
    parser.add_argument("--job-definition", default="bench-jobdef")
    parser.add_argument("--no-hold", action="store_true", help="finish jobs at once instead of holding them")
    parser.add_argument("--events", action="store_true", help="send job state change events to SQS")
    args = parser.parse_args(argv)
    config = ApiConfig(
        latency_ms=args.latency_ms,
        rate=args.rate,
        burst=args.burst,
        job_queue=args.job_queue,
        job_definition=args.job_definition,
        hold_jobs=not args.no_hold,
        events=args.events,
    )
    proxy = serve(config)
    print(json.dumps({"endpoint": proxy.url}), flush=True)
    proxy.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
