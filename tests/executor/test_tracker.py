"""The tracker's indexes: what is due, how many calls are in flight, what each route holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import batch_router
from batch_router.executor.tracker import Tracker
from batch_router.executor.try_record import Stage, TryRecord
from batch_router.plan.model import TaskIdentity


def record(name: str, *, route: str = "r", at: float = 0.0) -> TryRecord:
    return TryRecord(
        key=name,  # type: ignore[arg-type]  # any hashable key will do for the tracker
        identity=TaskIdentity(dag_id="d", task_id=name, run_id="run", try_number=1, try_id=name),
        route=route,
        job_queue="q",
        job_name=f"job-{name}",
        payload=None,
        next_attempt_at=at,
    )


def due(tracker: Tracker, *, now: float, limit: int) -> list[TryRecord]:
    """What a heartbeat with room for ``limit`` calls would start, popped as the submitter pops them."""
    ready: list[TryRecord] = []
    while len(ready) < limit and (record := tracker.pop_due(now)) is not None:
        ready.append(record)
    return ready


def test_due_returns_pending_tries_whose_time_has_come_oldest_first() -> None:
    tracker = Tracker()
    late, early, future = record("late", at=2.0), record("early", at=1.0), record("future", at=9.0)
    for r in (late, early, future):
        tracker.add(r)

    assert due(tracker, now=5.0, limit=10) == [early, late]


def test_due_returns_no_more_than_the_limit_and_keeps_the_rest_for_later() -> None:
    tracker = Tracker()
    records = [record(f"t{i}", at=float(i)) for i in range(5)]
    for r in records:
        tracker.add(r)

    first = due(tracker, now=10.0, limit=2)
    for r in first:
        tracker.start_call(r)

    assert first == records[:2]
    assert due(tracker, now=10.0, limit=10) == records[2:]


def test_a_try_that_failed_its_call_is_due_again_at_its_next_attempt_only() -> None:
    tracker = Tracker()
    r = record("t")
    tracker.add(r)
    [picked] = due(tracker, now=0.0, limit=1)
    tracker.start_call(picked)
    tracker.call_failed(picked, next_attempt_at=3.0)

    assert due(tracker, now=2.0, limit=10) == []
    assert due(tracker, now=3.0, limit=10) == [r]


def test_a_removed_or_submitted_try_is_never_due() -> None:
    tracker = Tracker()
    gone, submitted = record("gone"), record("submitted")
    tracker.add(gone)
    tracker.add(submitted)
    tracker.remove(gone)
    tracker.attach_job(submitted, "job-1", "SUBMITTED")

    assert due(tracker, now=1.0, limit=10) == []


def test_in_flight_counts_calls_under_way() -> None:
    tracker = Tracker()
    a, b = record("a"), record("b")
    tracker.add(a)
    tracker.add(b)
    tracker.start_call(a)
    tracker.start_call(b)
    tracker.attach_job(a, "job-a")
    assert tracker.in_flight() == 1
    tracker.remove(b)
    assert tracker.in_flight() == 0


def test_counts_by_route_follow_stage_and_status() -> None:
    tracker = Tracker()
    waiting, queued, running = record("w", route="gpu"), record("q", route="gpu"), record("r", route="cpu")
    for r in (waiting, queued, running):
        tracker.add(r)
    tracker.attach_job(queued, "job-q", "RUNNABLE")
    tracker.attach_job(running, "job-r", "STARTING")
    tracker.set_status(running, "RUNNING")

    assert tracker.counts_by_route() == {
        "gpu": {"pending": 1, "queued": 1, "running": 0},
        "cpu": {"pending": 0, "queued": 0, "running": 1},
    }


def test_a_job_that_died_before_start_has_its_try_planned_again_then_due() -> None:
    tracker = Tracker()
    r = record("t")
    tracker.add(r)
    tracker.attach_job(r, "job-1", "RUNNABLE")
    tracker.detach_job(r, payload="{}", next_attempt_at=1.0)

    assert (r.stage, r.job_id, r.old_job_ids) == (Stage.PLANNING, None, ("job-1",))
    assert tracker.by_job("job-1") is None
    assert due(tracker, now=1.0, limit=5) == []  # nothing to send until it is planned again
    assert tracker.counts_by_route() == {"r": {"pending": 1, "queued": 0, "running": 0}}
    tracker.planned(r, request='{"jobName": "job-t"}')
    assert (r.stage, r.request, r.payload) == (Stage.PENDING, '{"jobName": "job-t"}', None)
    assert due(tracker, now=1.0, limit=5) == [r]


def test_a_record_cannot_be_changed_except_through_the_tracker() -> None:
    r = record("t")

    with pytest.raises(dataclasses.FrozenInstanceError):
        r.stage = Stage.TRACKED  # type: ignore[misc]


def test_no_module_but_the_tracker_sets_a_record_field() -> None:
    """``object.__setattr__`` is how the tracker changes a frozen record; anyone else doing it would
    change a record behind the tracker's indexes (the retry_route gauge drift came from that)."""
    package = Path(batch_router.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "tracker.py" and "__setattr__" in path.read_text()
    ]
    assert offenders == []


def test_a_try_put_back_after_a_lost_answer_looks_for_its_job_first() -> None:
    tracker = Tracker()
    r = record("t")
    tracker.add(r)
    tracker.start_call(r)

    assert tracker.put_back(r, next_attempt_at=0.0)
    assert (r.stage, r.lookup_first, tracker.in_flight()) == (Stage.PENDING, True, 0)
    assert tracker.pop_due(0.0) is r


def test_a_tracked_try_put_back_forgets_its_status_so_the_next_poll_reports_it() -> None:
    tracker = Tracker()
    r = record("t")
    tracker.add(r)
    tracker.attach_job(r, "job-1", "RUNNING")

    assert tracker.put_back(r, next_attempt_at=0.0)
    assert tracker.statuses_to_poll(["job-1"]) == {"job-1": None}


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["start", "fail", "attach", "run", "detach", "plan", "remove", "add", "move", "back"]
        ),
        st.integers(min_value=0, max_value=4),
    ),
    max_size=60,
)


@given(OPERATIONS)
def test_indexes_always_agree_with_a_scan_of_every_record(operations: list[tuple[str, int]]) -> None:
    tracker = Tracker()
    records = [record(f"t{i}", route=f"r{i % 2}") for i in range(5)]
    for r in records:
        tracker.add(r)
    for op, i in operations:
        r = records[i]
        live = tracker.get(r.key) is r
        if op == "add" and not live:
            records[i] = r = record(f"t{i}", route=f"r{i % 2}")
            tracker.add(r)
        elif not live:
            continue
        elif op == "start" and r.stage is Stage.PENDING:
            tracker.start_call(r)
        elif op == "fail" and r.stage is Stage.IN_FLIGHT:
            tracker.call_failed(r, next_attempt_at=0.0)
        elif op == "attach" and r.stage is Stage.IN_FLIGHT:
            tracker.attach_job(r, f"job-{id(r)}", "RUNNABLE")
        elif op == "run" and r.stage is Stage.TRACKED:
            tracker.set_status(r, "RUNNING")
        elif op == "detach" and r.stage is Stage.TRACKED:
            tracker.detach_job(r, payload="{}", next_attempt_at=0.0)
        elif op == "plan" and r.stage is Stage.PLANNING:
            tracker.planned(r, request="{}")
        elif op == "back":
            tracker.put_back(r, next_attempt_at=0.0)
        elif op == "remove":
            tracker.remove(r)
        elif op == "move":
            tracker.move_route(r, route=f"moved{i}", job_queue="q2", job_definition="d2")

    live = list(tracker)
    expected: dict[str, dict[str, int]] = {}
    for r in live:
        bucket = (
            "pending" if r.stage is not Stage.TRACKED else ("running" if r.status == "RUNNING" else "queued")
        )
        expected.setdefault(r.route, {"pending": 0, "queued": 0, "running": 0})[bucket] += 1
    assert tracker.counts_by_route() == expected
    assert tracker.in_flight() == sum(1 for r in live if r.stage is Stage.IN_FLIGHT)
    pending = {r.serial for r in live if r.stage is Stage.PENDING}
    assert {r.serial for r in due(tracker, now=1.0, limit=100)} == pending
