"""Why a local Batch job would block its queue in RUNNABLE, as AWS Batch decides it (for the dev loop).

AWS Batch blocks a RUNNABLE job at the head of its queue, and says why in its ``statusReason``, when
the queue's compute environments cannot run it (user guide, "Jobs stuck in a RUNNABLE status"). The
local Batch has no instances to run out of, so it decides two of the documented reasons from what it
knows, so that the executor, the demo and the end-to-end tests meet them as they would in AWS:

- ``MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE``: the job asks for more vCPUs than every
  compute environment of its queue may run (their ``maxvCpus``); it can never start.
- ``CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY``: the queue's capacity is held
  (``LocalBatch.hold_capacity``), the local stand-in for EC2 having no instances to give; the job
  waits until it is given back.

Pure: the caller reads the job and the compute environments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NO_CAPACITY", "TOO_BIG", "blocked_reason", "job_vcpus"]
# The statusReason messages as the user guide writes them.
NO_CAPACITY = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for "
    "instance type [local]"
)
TOO_BIG = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue cannot meet "
    "the CPU requirement of the job."
)


def job_vcpus(container_properties: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None) -> float:
    """The vCPUs an ECS job asks for: its request's override, else its job definition's
    (``resourceRequirements`` type VCPU, or the older ``vcpus``); 0 when neither says."""
    for source in (overrides or {}, container_properties or {}):
        for requirement in source.get("resourceRequirements") or ():
            if requirement.get("type") == "VCPU":
                return float(requirement["value"])
        if source.get("vcpus"):
            return float(source["vcpus"])
    return 0.0


def blocked_reason(vcpus: float, max_vcpus: Sequence[float | None], *, has_capacity: bool) -> str | None:
    """The statusReason of a RUNNABLE job asking for ``vcpus`` on a queue whose compute environments
    may run ``max_vcpus`` each (None: not said), or None when it can run."""
    limits = [limit for limit in max_vcpus if limit is not None]
    if limits and vcpus > max(limits):
        return TOO_BIG
    if not has_capacity:
        return NO_CAPACITY
    return None
