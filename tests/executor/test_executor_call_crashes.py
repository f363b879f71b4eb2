"""A call on a worker thread that raises releases what it held: the executor recovers, nothing is stranded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from batch_world import BatchWorld
from executor_kit import Recorder, drive, make_workload, queue_all, tune

from batch_router.executor import BatchRouterExecutor, calls, intake
from batch_router.executor.try_record import Stage
from batch_router.plan.planner import Plan


def raising_once(real: Callable[..., Any]) -> Callable[..., Any]:
    state = {"raised": False}

    def call(*args: Any, **kwargs: Any) -> Any:
        if not state["raised"]:
            state["raised"] = True
            raise KeyError("a bug in a worker call")
        return real(*args, **kwargs)

    return call


def test_a_poll_that_raises_once_does_not_stop_polling(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calls, "poll", raising_once(calls.poll))
    recorder = Recorder(executor)
    workload = make_workload()
    queue_all(executor, workload)
    job_id = drive(executor, lambda: world.job_ids())[0]
    world.succeed(job_id)

    drive(executor, lambda: "success" in [str(s) for s in recorder.states(workload.ti.key)])


def test_a_submit_that_raises_once_keeps_no_pipeline_slot_and_the_task_still_runs(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calls, "submit_or_find", raising_once(calls.submit_or_find))
    queue_all(executor, make_workload())

    drive(executor, lambda: len(world.job_ids()) == 1)
    drive(executor, lambda: executor._tracker.in_flight() == 0)
    assert [r.stage for r in executor._tracker] == [Stage.TRACKED]
    assert len(world.job_ids()) == 1  # looked first, since the crashed call might have made one


def test_a_planning_call_that_raises_fails_its_tries_instead_of_stranding_them(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(executor, plan_here_budget_seconds=0.0)  # all to the planning thread
    monkeypatch.setattr(intake, "plan_workloads", raising_once(intake.plan_workloads))
    recorder = Recorder(executor)
    first, second = make_workload(task_id="a"), make_workload(task_id="b")
    queue_all(executor, first, second)

    drive(executor, lambda: all("failed" in map(str, recorder.states(w.ti.key)) for w in (first, second)))
    assert not executor._intake.planning
    assert "could not plan the task: KeyError" in str(recorder.info(first.ti.key))
    queue_all(executor, third := make_workload(task_id="c"))  # and planning goes on afterwards
    drive(executor, lambda: world.job_ids())
    assert executor._tracker.get(third.ti.key) is not None


def test_a_handler_that_raises_puts_its_try_back_and_the_task_still_runs_in_one_job(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = executor._hub.tracker
    monkeypatch.setattr(tracker, "attach_job", raising_once(tracker.attach_job))
    recorder = Recorder(executor)
    workload = make_workload()
    queue_all(executor, workload)

    job_id = drive(executor, lambda: world.job_ids())[0]
    world.succeed(job_id)

    drive(executor, lambda: "success" in [str(s) for s in recorder.states(workload.ti.key)])
    assert world.job_ids() == [job_id]  # put back, it looked for its job first and found it
    assert tracker.in_flight() == 0


def test_a_try_is_planned_once_and_the_request_sent_is_the_one_planned(
    executor: BatchRouterExecutor, world: BatchWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []
    real = Plan.build

    def counted(self: Plan, **kwargs: Any) -> Any:
        builds.append(kwargs["identity"].task_id)
        return real(self, **kwargs)

    monkeypatch.setattr(Plan, "build", counted)
    queue_all(executor, make_workload(task_id="a"), make_workload(task_id="b"))

    drive(executor, lambda: len(world.job_ids()) == 2)
    assert sorted(builds) == ["a", "b"]
