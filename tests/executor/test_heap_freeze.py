"""The frozen heap is the process's: shared by every executor in it and thawed by the last to end."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from batch_router.executor.heap_freeze import YOUNG_THRESHOLD, Freeze


@pytest.fixture(autouse=True)
def _thawed_after() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_two_executors_share_the_frozen_heap_and_the_last_to_end_thaws_it() -> None:
    before = gc.get_threshold()
    first, second = Freeze(), Freeze()
    first.hold()
    second.hold()

    first.release()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
    second.release()

    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
