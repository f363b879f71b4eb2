"""The frozen heap is the process's: shared by every executor in it, thawed by the last to end, and
frozen again after a LocalExecutor in the same scheduler thaws it around its forks."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from airflow.executors.local_executor import LocalExecutor

from batch_router.executor.heap_freeze import YOUNG_THRESHOLD, Freeze


@pytest.fixture(autouse=True)
def _thawed_after() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def _local_executor_forks() -> None:
    """LocalExecutor's own code around its forks (gc.freeze(), fork, gc.unfreeze()), with no fork."""
    LocalExecutor._spawn_workers_with_gc_freeze(SimpleNamespace(_spawn_worker=lambda: None), 1)  # type: ignore[arg-type]


def test_a_local_executors_forks_thaw_the_heap_and_the_next_heartbeat_freezes_it_again() -> None:
    freeze = Freeze()
    freeze.hold()
    _local_executor_forks()
    assert gc.get_freeze_count() == 0

    freeze.keep()

    assert gc.get_freeze_count() > 0
    freeze.release()


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


def test_keep_does_nothing_for_an_executor_that_holds_no_freeze() -> None:
    Freeze().keep()

    assert gc.get_freeze_count() == 0
