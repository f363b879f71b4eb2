"""The SubmitJob pacer: evenly spaced calls, never a burst after an idle spell."""

from __future__ import annotations

import itertools
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_router.aws.submit_pacer import SubmitPacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sent_at(pacer: SubmitPacer, time: FakeTime, gaps: list[float]) -> list[float]:
    """When each call goes out, a caller arriving ``gap`` seconds after the last one went."""
    times = []
    for gap in gaps:
        time.now += gap
        pacer.acquire()
        times.append(time.now)
    return times


def test_calls_asked_for_at_once_go_out_one_interval_apart() -> None:
    time = FakeTime()
    pacer = SubmitPacer(50.0, clock=time.clock, sleep=time.sleep)

    times = sent_at(pacer, time, [0.0] * 5)

    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [0.02] * 4


def test_an_idle_second_does_not_let_a_burst_through() -> None:
    time = FakeTime()
    pacer = SubmitPacer(50.0, clock=time.clock, sleep=time.sleep)
    sent_at(pacer, time, [0.0])

    times = sent_at(pacer, time, [1.0, 0.0, 0.0])  # botocore's TokenBucket would send all three at once

    assert times[1] - times[0] == pytest.approx(0.02) and times[2] - times[1] == pytest.approx(0.02)


def test_a_burst_allowance_lets_that_many_calls_run_ahead_of_schedule() -> None:
    time = FakeTime()
    pacer = SubmitPacer(10.0, burst=3, clock=time.clock, sleep=time.sleep)
    sent_at(pacer, time, [0.0])

    times = sent_at(pacer, time, [5.0, 0.0, 0.0, 0.0])

    assert times[:3] == [times[0]] * 3  # three go at once, then the schedule holds
    assert times[3] - times[0] == pytest.approx(0.1)


@given(
    rate=st.floats(min_value=0.1, max_value=200.0),
    gaps=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=2, max_size=60),
)
def test_no_two_calls_are_ever_closer_than_one_interval(rate: float, gaps: list[float]) -> None:
    time = FakeTime()
    pacer = SubmitPacer(rate, clock=time.clock, sleep=time.sleep)

    times = sent_at(pacer, time, gaps)

    assert all(b - a >= 1 / rate - 1e-9 for a, b in itertools.pairwise(times))


def test_callers_always_waiting_get_the_full_rate() -> None:
    time = FakeTime()
    pacer = SubmitPacer(50.0, clock=time.clock, sleep=time.sleep)

    times = sent_at(pacer, time, [0.0] * 50)

    assert times[-1] - times[0] == pytest.approx(49 * 0.02)


def test_threads_waiting_together_are_given_distinct_slots() -> None:
    time = FakeTime()  # frozen: every thread books at the same instant
    pacer = SubmitPacer(1000.0, clock=time.clock, sleep=time.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def reserve() -> None:
        wait = pacer.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(round(w, 6) for w in waits) == [round(i * 0.001, 6) for i in range(20)]


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="rate above 0"):
        SubmitPacer(0.0)
