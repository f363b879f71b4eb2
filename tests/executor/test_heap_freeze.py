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


def test_a_local_executor_forking_in_the_same_process_leaves_the_shared_settings_to_the_last_holder() -> None:
    """LocalExecutor freezes the heap around its forks and thaws it after (its own documented choice,
    to spare its children copy-on-write); the young threshold and the hold count are ours, and the
    process gets its own settings back only when the last of our executors ends."""
    from airflow.executors.local_executor import LocalExecutor

    before = gc.get_threshold()
    first, second = Freeze(), Freeze()
    first.hold()
    second.hold()
    local = LocalExecutor(parallelism=1)
    local.start()  # forks one worker between gc.freeze() and gc.unfreeze()
    try:
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
        first.release()
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)  # the second still holds
    finally:
        local.end()
    third = Freeze()
    third.hold()  # an executor started after the fork freezes again what the fork thawed
    assert gc.get_freeze_count() > 0
    second.release()
    third.release()

    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
