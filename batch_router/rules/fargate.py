"""The vCPU/memory sizes Fargate can run, and the smallest one that holds what a task asks for.

Fargate accepts only fixed pairs: a task asking for 0.3 vCPU and 600 MiB would be rejected by Batch
(or sit in RUNNABLE). Rounding up to a valid pair lets task authors say what they need, not what AWS
happens to sell.
"""

from __future__ import annotations

import math

# vCPU -> the memory sizes (MiB) Fargate allows with it: the table under type="VCPU" in
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html
_SIZES: tuple[tuple[float, range | tuple[int, ...]], ...] = (
    (0.25, (512, 1024, 2048)),
    (0.5, range(1024, 4096 + 1, 1024)),
    (1.0, range(2048, 8192 + 1, 1024)),
    (2.0, range(4096, 16384 + 1, 1024)),
    (4.0, range(8192, 30720 + 1, 1024)),
    (8.0, range(16384, 61440 + 1, 4096)),
    (16.0, range(32768, 122880 + 1, 8192)),
    (32.0, (61440, 122880, 249856)),
)

FARGATE_COMBINATIONS: tuple[tuple[float, int], ...] = tuple(
    (vcpu, memory) for vcpu, memories in _SIZES for memory in memories
)
MAX_VCPU: float = max(vcpu for vcpu, _ in FARGATE_COMBINATIONS)
MAX_MEMORY_MIB: int = max(memory for _, memory in FARGATE_COMBINATIONS)
_PAIRS: frozenset[tuple[float, float]] = frozenset(FARGATE_COMBINATIONS)
VCPU_VALUES: frozenset[float] = frozenset(vcpu for vcpu, _ in FARGATE_COMBINATIONS)
MEMORY_VALUES: frozenset[int] = frozenset(memory for _, memory in FARGATE_COMBINATIONS)


def is_valid(vcpu: float | None, memory_mib: float | None) -> bool:
    """Whether Fargate runs this size; a side that is ``None`` is taken from the job definition."""
    if vcpu is not None and memory_mib is not None:
        return (vcpu, memory_mib) in _PAIRS
    if vcpu is not None:
        return vcpu in VCPU_VALUES
    return memory_mib is None or memory_mib in MEMORY_VALUES


def round_up(vcpu: float | None, memory_mib: int | None) -> tuple[float, int]:
    """The smallest valid (vCPU, MiB) pair, by vCPU then memory, holding both; ``None`` asks for nothing.

    Raises ``ValueError`` naming Fargate's limit when no pair is large enough.
    """
    for name, value in (("vcpu", vcpu), ("memory_mib", memory_mib)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if vcpu is not None and vcpu > MAX_VCPU:
        raise ValueError(f"Fargate runs at most {MAX_VCPU:g} vCPU, task asks for {vcpu:g}")
    if memory_mib is not None and memory_mib > MAX_MEMORY_MIB:
        raise ValueError(
            f"Fargate runs at most {MAX_MEMORY_MIB} MiB ({MAX_MEMORY_MIB // 1024} GiB), "
            f"task asks for {memory_mib} MiB"
        )
    for pair_vcpu, pair_memory in FARGATE_COMBINATIONS:
        if (vcpu is None or pair_vcpu >= vcpu) and (memory_mib is None or pair_memory >= memory_mib):
            return pair_vcpu, pair_memory
    raise AssertionError("unreachable: the largest combination holds every value under the limits")
