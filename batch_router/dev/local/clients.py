"""boto3 clients for a local Batch, from the variables ``batch-router local`` prints.

The demo and the end-to-end tests read Batch through the project's own ``BatchClient`` (same calls, same
retries, same error classes as the executor); only where its clients come from differs: straight from
boto3 with the local endpoint, so the process needs no Airflow connection or configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from batch_router.aws.batch_client import BatchClient, ClientFactory

__all__ = ["endpoint_client", "endpoint_clients", "local_batch_client"]

DEFAULT_REGION = "us-east-1"


def endpoint_client(
    service: str,
    *,
    endpoint_url: str,
    region: str,
    access_key_id: str,
    secret_access_key: str,
    config: Config | None = None,
) -> Any:
    """A boto3 client for ``service`` on the server at ``endpoint_url``."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


def endpoint_clients(batch_env: Mapping[str, str]) -> ClientFactory:
    """A ``BatchClient`` client factory for the local Batch whose variables ``batch_env`` holds."""

    def make(service: str, config: Config) -> Any:
        return endpoint_client(
            service,
            endpoint_url=batch_env["AWS_ENDPOINT_URL"],
            region=batch_env.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
            access_key_id=batch_env["AWS_ACCESS_KEY_ID"],
            secret_access_key=batch_env["AWS_SECRET_ACCESS_KEY"],
            config=config,
        )

    return make


def local_batch_client(batch_env: Mapping[str, str]) -> BatchClient:
    """The project's ``BatchClient`` on the local Batch whose variables ``batch_env`` holds."""
    region = batch_env.get("AWS_DEFAULT_REGION", DEFAULT_REGION)
    return BatchClient(aws_conn_id=None, region_name=region, make_client=endpoint_clients(batch_env))
