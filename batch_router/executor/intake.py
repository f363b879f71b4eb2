"""New tries, from accepted to tracked: planned here or on the planning thread, then handed to the tracker.

Tasks that arrive a few at a time (the usual case) are planned and submitted in the heartbeat that
accepted them; a burst is planned on the planning thread while the first of it is already being sent.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from typing import TYPE_CHECKING

from batch_router.executor.hub import Hub
from batch_router.executor.planning import Planned, Unplannable, plan_workloads
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
        self._planned: deque[list[Planned]] = deque()  # appended by the planning thread as it goes
        # The key object the scheduler gave (also in BaseExecutor.running): the record keeps that one
        # rather than the equal tuple planning makes, so a tracked try holds one key, not two.
        self._keys: dict[WorkloadKey, WorkloadKey] = {}

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
        runtime = self._hub.loaded
        if not self.unplanned or runtime is None:
            return
        if not self.planning:  # the planning thread is idle: no burst under way
            self._plan_here(runtime.plan, plan_here_budget)
            if not self.unplanned:
                return
        workloads, keys = list(self.unplanned.values()), list(self.unplanned)

        def crashed(exc: BaseException) -> list[Planned]:
            # The planning thread broke off: every try it did not hand back fails with the reason.
            reason = f"could not plan the task: {type(exc).__name__}: {exc}"
            return [Unplannable(key, reason) for key in keys]

        args = (runtime.plan, workloads, self._hub.log, self._planned.append, chunk_size)
        on_planning_thread = functools.partial(plan_workloads, share_gil=True)
        if self._hub.hand_over(
            self.take_all, on_planning_thread, *args, on_crash=crashed, pool=self._hub.planner
        ):
            self.planning.update(self.unplanned)
            self.unplanned.clear()

    def _plan_here(self, plan: Plan, budget_seconds: float) -> None:
        """Plan the oldest new tries on the scheduler thread until the budget is spent."""
        deadline = time.monotonic() + budget_seconds
        planned: list[Planned] = []
        while self.unplanned and time.monotonic() < deadline:
            key = next(iter(self.unplanned))
            self.planning.add(key)
            plan_workloads(plan, [self.unplanned.pop(key)], self._hub.log, planned.extend)
        for item in planned:
            self.take(item)

    def collect_planned(self) -> None:
        """Queue what the planning thread handed back as work for the scheduler thread (cheap): one item
        per chunk, not one per try, so a burst's 20,000 tries wait as 200 entries."""
        while self._planned:
            self._hub.work.append((self.take_all, self._planned.popleft()))

    def take_all(self, planned: list[Planned] | None) -> None:
        """A chunk the planning thread handed back, or what a planning call could not hand back
        (nothing, unless it crashed)."""
        for item in planned or ():
            self.take(item)

    def take(self, planned: Planned) -> None:
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
        planned.key = key
        planned.next_attempt_at = time.monotonic()
        self._hub.tracker.add(planned)
