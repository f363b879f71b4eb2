"""The only code that talks to AWS: Batch and CloudWatch Logs calls, what their errors mean, and how a
Batch job's description reads (its phase, why it failed, where its logs are)."""

from batch_router.aws.batch_client import DESCRIBE_JOBS_MAX, BatchClient, ClientFactory
from batch_router.aws.errors import BatchApiError, ErrorKind, classify
from batch_router.aws.health import check_routes

__all__ = [
    "DESCRIBE_JOBS_MAX",
    "BatchApiError",
    "BatchClient",
    "ClientFactory",
    "ErrorKind",
    "check_routes",
    "classify",
]
