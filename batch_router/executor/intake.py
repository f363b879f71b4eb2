"""New tries, from accepted to tracked: planned here or on the planning thread, then handed to the tracker.

Tasks that arrive a few at a time (the usual case) are planned and submitted in the heartbeat that
accepted them, within ``PLAN_HERE_BUDGET`` of the scheduler thread's time (the one place the scheduler
thread builds requests); a burst is planned on the planning thread while the first of it is already
being sent, its chunks handed back as ``PlanChunk`` outcomes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from batch_router.executor.hub import Hub
from batch_router.executor.outcomes import PlanChunk, Planned, Unplannable
from batch_router.executor.planning import plan_workloads
from batch_router.executor.workloads import Workload
from batch_router.plan.planner import Plan

if TYPE_CHECKING:
    from airflow.executors.workloads.types import WorkloadKey

__all__ = ["Intake"]


class Intake:
    def __init__(self, hub: Hub):
        self._hub = hub
        self.unplanned: dict[WorkloadKey, Workload] = {}  # accepted, not yet planned; in arrival order
        # Being planned now. Keys only: the planning thread holds the workloads and lets each go as soon
        # as it is written as JSON, so a burst's models do not outlive its first second.
        self.planning: set[WorkloadKey] = set()
        # The key object the scheduler gave (also in BaseExecutor.running): the record keeps that one
        # rather than the equal tuple planning makes, so a tracked try holds one key, not two.
        self._keys: dict[WorkloadKey, WorkloadKey] = {}
        hub.channel.on(PlanChunk, self.take_all)

    def accept(self, key: WorkloadKey, workload: Workload) -> None:
        self.unplanned[key] = workload
        self._keys[key] = key

    def forget(self, key: WorkloadKey) -> None:
        """A revoked try: whatever planning makes of it later is dropped."""
        self.unplanned.pop(key, None)
        self.planning.discard(key)
        self._keys.pop(key, None)

    def dispatch(self, *, plan_here_budget: float, chunk_size: int) -> None:
        """Plan a few new tries right here, and hand the rest to the planning thread in one call."""
        hub, runtime = self._hub, self._hub.loaded
        if not self.unplanned or runtime is None:
            return
        if not self.planning:  # the planning thread is idle: no burst under way
            self._plan_here(runtime.plan, plan_here_budget)
            if not self.unplanned:
                return
        workloads, keys = list(self.unplanned.values()), tuple(self.unplanned)

        def emit(items: list[Planned | Unplannable]) -> None:
            hub.channel.post(PlanChunk(tuple(items)))

        def run() -> PlanChunk:
            plan_workloads(runtime.plan, workloads, hub.log, emit, chunk_size, share_gil=True)
            return PlanChunk(())

        def crashed(exc: BaseException) -> PlanChunk:
            # The planning thread broke off: every try it did not hand back fails with the reason.
            reason = f"could not plan the task: {type(exc).__name__}: {exc}"
            return PlanChunk(tuple(Unplannable(key, reason) for key in keys))

        if hub.channel.send(hub.planner, run, crashed):
            self.planning.update(self.unplanned)
            self.unplanned.clear()

    def _plan_here(self, plan: Plan, budget_seconds: float) -> None:
        """Plan the oldest new tries on the scheduler thread until the budget is spent."""
        deadline = time.monotonic() + budget_seconds
        planned: list[Planned | Unplannable] = []
        while self.unplanned and time.monotonic() < deadline:
            key = next(iter(self.unplanned))
            self.planning.add(key)
            plan_workloads(plan, [self.unplanned.pop(key)], self._hub.log, planned.extend)
        for item in planned:
            self.take(item)

    def take_all(self, chunk: PlanChunk) -> None:
        """A chunk the planning thread handed back; each try is taken on its own, so one that cannot be
        taken fails alone."""
        for item in chunk.items:
            try:
                self.take(item)
            except Exception as exc:
                self._hub.log.exception("batch-router: could not take %s", item.key)
                self._hub.metrics.unexpected_error("handler")
                self.planning.discard(item.key)
                self._hub.fail_now(
                    item.key, "batch-router: task not submitted", f"{type(exc).__name__}: {exc}"
                )

    def take(self, planned: Planned | Unplannable) -> None:
        """Track a planned try, or fail it with the reason it cannot run."""
        if planned.key not in self.planning:
            return  # revoked while it was being planned
        self.planning.discard(planned.key)
        key = self._keys.pop(planned.key, planned.key)
        if not self.planning:  # a set keeps its table when emptied: let a burst's go
            self.planning.clear()
            if not self.unplanned:
                self._keys.clear()
        if isinstance(planned, Unplannable):
            self._hub.fail_now(planned.key, "batch-router: task not submitted", planned.error)
            return
        self._hub.tracker.add(planned, key=key, now=time.monotonic())
