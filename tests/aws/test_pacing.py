"""Pacing: how long the executor holds its AWS calls after throttling and credential failures."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from batch_router.aws.pacing import Pacing


@given(st.integers(min_value=1, max_value=60))
def test_backoff_grows_but_never_passes_the_cap(n: int) -> None:
    pacing = Pacing(base_seconds=2.0, max_seconds=120.0)
    delay = pacing.backoff(n)
    assert 0.5 * min(120.0, 2.0 * 2 ** (n - 1)) <= delay <= min(120.0, 2.0 * 2 ** (n - 1))


def test_throttling_pauses_every_call_until_the_returned_time() -> None:
    pacing = Pacing(base_seconds=10.0, max_seconds=10.0)
    until = pacing.throttled(now=100.0)
    assert 105.0 <= until <= 110.0
    assert pacing.paused(until - 0.01)
    assert not pacing.paused(until)


def test_throttling_in_a_row_pauses_longer_each_time() -> None:
    pacing = Pacing(base_seconds=1.0, max_seconds=1000.0)
    first = pacing.throttled(now=0.0)
    second = pacing.throttled(now=first) - first
    third = pacing.throttled(now=first + second) - (first + second)
    assert third >= 2.0 > first  # streak 3 waits at least 0.5 * 4 s; streak 1 at most 1 s


def test_a_successful_call_resets_the_streak() -> None:
    pacing = Pacing(base_seconds=1.0, max_seconds=1000.0)
    for _ in range(5):
        pacing.throttled(now=0.0)
    pacing.recovered()
    assert pacing.throttled(now=1000.0) <= 1001.0


def test_credential_failures_pause_calls_too() -> None:
    pacing = Pacing(base_seconds=4.0, max_seconds=4.0)
    until = pacing.credentials_failed(now=0.0)
    assert pacing.paused(until / 2)
    assert not pacing.paused(until)


def test_failures_of_calls_sent_before_a_pause_do_not_lengthen_it() -> None:
    pacing = Pacing(base_seconds=1.0, max_seconds=120.0)
    until = pacing.credentials_failed(now=0.0)
    for _ in range(50):  # the rest of the pipeline's calls, all in flight when the spell began
        assert pacing.credentials_failed(now=until / 2) == until
    assert until <= 1.0


def test_a_credentials_pause_ends_as_soon_as_a_call_goes_through() -> None:
    pacing = Pacing(base_seconds=60.0, max_seconds=60.0)
    pacing.credentials_failed(now=0.0)
    pacing.recovered()
    assert not pacing.paused(1.0)


def test_the_jitter_comes_from_the_random_source_given() -> None:
    class Fixed(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert Pacing(base_seconds=2.0, max_seconds=120.0, rng=Fixed()).backoff(3) == 8.0
