from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_router.rules.fargate import FARGATE_COMBINATIONS, MAX_MEMORY_MIB, MAX_VCPU, round_up


@pytest.mark.parametrize(("vcpu", "memory_mib"), FARGATE_COMBINATIONS)
def test_every_valid_combination_rounds_to_itself(vcpu: float, memory_mib: int) -> None:
    assert round_up(vcpu, memory_mib) == (vcpu, memory_mib)


def test_combinations_are_exactly_the_sizes_in_the_aws_batch_user_guide() -> None:
    # The guide lists memory in GiB per vCPU value: (vCPU, first GiB, last GiB, step GiB).
    documented = {(0.25, 0.5), (0.25, 1), (0.25, 2)}
    for vcpu, first, last, step in [
        (0.5, 1, 4, 1),
        (1, 2, 8, 1),
        (2, 4, 16, 1),
        (4, 8, 30, 1),
        (8, 16, 60, 4),
        (16, 32, 120, 8),
    ]:
        documented |= {(vcpu, gib) for gib in range(first, last + 1, step)}
    documented |= {(32, 60), (32, 120), (32, 244)}  # API_ResourceRequirement also lists VCPU = 32
    assert {(vcpu, memory / 1024) for vcpu, memory in FARGATE_COMBINATIONS} == documented
    assert len(FARGATE_COMBINATIONS) == len(documented)


def test_combinations_are_unique_and_ordered_by_vcpu_then_memory() -> None:
    assert list(FARGATE_COMBINATIONS) == sorted(set(FARGATE_COMBINATIONS))


@pytest.mark.parametrize(
    ("vcpu", "memory_mib"),
    [
        (0.25, 4096),
        (0.5, 512),
        (1, 1024),
        (2, 2048),
        (4, 4096),
        (8, 8192),
        (8, 17408),
        (16, 16384),
        (16, 36864),
    ],
)
def test_sizes_aws_does_not_sell_are_not_combinations(vcpu: float, memory_mib: int) -> None:
    assert (vcpu, memory_mib) not in FARGATE_COMBINATIONS


def test_the_largest_size_is_32_vcpu_and_244_gib() -> None:
    # API_ResourceRequirement lists VCPU = 32 with MEMORY = 61440, 122880 or 249856.
    assert (MAX_VCPU, MAX_MEMORY_MIB) == (32, 249856)
    assert FARGATE_COMBINATIONS[-1] == (MAX_VCPU, MAX_MEMORY_MIB)


def test_a_small_odd_size_rounds_up_to_half_a_vcpu() -> None:
    assert round_up(0.3, 600) == (0.5, 1024)


def test_memory_alone_picks_the_fewest_vcpus_that_allow_it() -> None:
    assert round_up(None, 20000) == (4, 20480)


def test_vcpu_alone_picks_the_least_memory_allowed_with_it() -> None:
    assert round_up(2, None) == (2, 4096)


def test_no_hints_pick_the_smallest_size() -> None:
    assert round_up(None, None) == FARGATE_COMBINATIONS[0]


@pytest.mark.parametrize(
    ("vcpu", "memory_mib", "limit"), [(33, None, "32 vCPU"), (None, 249857, "249856 MiB")]
)
def test_sizes_beyond_fargate_are_refused_with_the_limit(
    vcpu: float | None, memory_mib: int | None, limit: str
) -> None:
    with pytest.raises(ValueError, match=limit):
        round_up(vcpu, memory_mib)


@pytest.mark.parametrize("vcpu", [0, -1, float("nan"), float("inf")])
def test_a_vcpu_that_is_not_a_positive_number_is_refused(vcpu: float) -> None:
    with pytest.raises(ValueError, match="vcpu"):
        round_up(vcpu, None)


@given(
    vcpu=st.none() | st.floats(min_value=0.01, max_value=MAX_VCPU),
    memory_mib=st.none() | st.integers(min_value=1, max_value=MAX_MEMORY_MIB),
)
def test_round_up_returns_the_smallest_valid_size_that_holds_both(
    vcpu: float | None, memory_mib: int | None
) -> None:
    def holds(size: tuple[float, int]) -> bool:
        return (vcpu is None or size[0] >= vcpu) and (memory_mib is None or size[1] >= memory_mib)

    result = round_up(vcpu, memory_mib)
    assert result in FARGATE_COMBINATIONS
    assert holds(result)
    assert not any(holds(size) for size in FARGATE_COMBINATIONS if size < result)
