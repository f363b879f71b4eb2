"""A local AWS Batch for development, the demo and end-to-end tests: moto's server plus a runner
that executes each job's command as a local process. Importing this package patches nothing."""

from batch_router.dev.local.command import run_local
from batch_router.dev.local.local_batch import LocalBatch, LocalBatchError
from batch_router.dev.local.moto_server import PortInUseError
from batch_router.dev.local.provision import provision

__all__ = ["LocalBatch", "LocalBatchError", "PortInUseError", "provision", "run_local"]
