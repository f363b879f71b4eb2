"""What the Batch routes page reads from AWS Batch, at most once per refresh, within a budget of calls.

Every open page, of every user, reads the same snapshot: one refresh per ``UI_REFRESH_SECONDS`` for the
whole API server, never one per page or per job. A refresh makes at most ``UI_MAX_CALLS`` calls:

- DescribeJobQueues once for every queue of the route table; DescribeComputeEnvironments once, again
  only every ``ENVIRONMENTS_SECONDS``; GetJobQueueSnapshot per queue (the job at the head of the
  queue, whose reason is the queue's when it is blocked, and the capacity in use);
- per queue, ListJobs with the AFTER_CREATED_AT filter for the window (every status, newest first, 100
  a page; at most ``WINDOW_PAGES`` pages), and ListJobs for RUNNABLE and for RUNNING (1,000 a page), so a
  job that has waited or run longer than the window is still seen;
- DescribeJobs (100 ids a call) only for jobs not described yet, or whose status moved since: their
  tags tie them to a route and a task try, and the tags of a job never change. Descriptions of ended
  jobs are kept (``DESCRIPTIONS_KEPT``), so a quiet page costs the listings and nothing more.

When the budget runs out, what was not read is named in ``left_out`` and read first next time. When AWS
does not answer, the last snapshot is kept with the error, so the page says so and stays up.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from batch_router.aws.batch_client import DESCRIBE_JOBS_MAX, BatchClient
from batch_router.aws.errors import BatchApiError

__all__ = ["BatchView", "ComputeEnvironment", "QueueState", "Snapshot", "ViewLimits"]

WINDOW_PAGES = 5
ENVIRONMENTS_SECONDS = 300.0
DESCRIPTIONS_KEPT = 20_000
ENDED = frozenset({"SUCCEEDED", "FAILED"})
SPOT_TYPES = frozenset({"SPOT", "FARGATE_SPOT"})


@dataclass(frozen=True)
class ViewLimits:
    """UI_REFRESH_SECONDS, UI_WINDOW_SECONDS and UI_MAX_AWS_CALLS (their defaults are the settings')."""

    refresh_seconds: float
    window_seconds: int
    max_calls: int


@dataclass(frozen=True)
class ComputeEnvironment:
    name: str
    type: str  # computeResources.type (EC2, SPOT, FARGATE, FARGATE_SPOT) or the environment's own type
    state: str
    status: str
    status_reason: str | None

    @property
    def spot(self) -> bool:
        return self.type in SPOT_TYPES


@dataclass(frozen=True)
class QueueState:
    name: str
    state: str | None = None  # ENABLED / DISABLED
    status: str | None = None  # VALID / INVALID / ...
    status_reason: str | None = None
    environments: tuple[ComputeEnvironment, ...] = ()
    found: bool = True
    head_job_id: str | None = None  # GetJobQueueSnapshot's first RUNNABLE job: next to be dispatched
    capacity_in_use: tuple[tuple[str, float], ...] = ()  # (capacity unit, quantity) of dispatched jobs


@dataclass(frozen=True)
class Snapshot:
    taken_ms: int
    window_ms: int
    queues: Mapping[str, QueueState] = field(default_factory=dict)
    jobs: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)  # summaries per queue
    descriptions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by job id
    calls: int = 0
    left_out: tuple[str, ...] = ()
    error: str | None = None


class _Budget:
    def __init__(self, calls: int):
        self.left = calls
        self.used = 0

    def take(self, calls: int = 1) -> bool:
        if self.left < calls:
            return False
        self.left -= calls
        self.used += calls
        return True


class BatchView:
    """The shared, cached snapshot; thread-safe (FastAPI runs sync endpoints on a thread pool)."""

    def __init__(
        self,
        client: BatchClient,
        queues: Sequence[str],
        limits: ViewLimits,
        clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._queues = tuple(dict.fromkeys(queues))
        self._limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Snapshot | None = None
        self._environments: dict[str, ComputeEnvironment] = {}
        self._environments_ms = 0
        self._described: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    def snapshot(self) -> Snapshot:
        with self._lock:
            now_ms = int(self._clock() * 1000)
            last = self._last
            if last is None or now_ms - last.taken_ms >= self._limits.refresh_seconds * 1000:
                last = self._last = self._read(now_ms, last)
            return last

    # -- one refresh ---------------------------------------------------------------------------------

    def _read(self, now_ms: int, last: Snapshot | None) -> Snapshot:
        budget = _Budget(self._limits.max_calls)
        window_ms = self._limits.window_seconds * 1000
        left_out: list[str] = []
        try:
            queues = self._read_queues(now_ms, budget)
            jobs: dict[str, tuple[Mapping[str, Any], ...]] = {}
            for name in self._queues:
                if not queues.get(name, QueueState(name)).found:
                    jobs[name] = ()
                    continue
                if name in queues:
                    queues[name], missing = self._snapshot(queues[name], budget)
                    left_out += missing
                listed, missing = self._list(name, now_ms - window_ms, budget)
                jobs[name] = listed
                left_out += missing
            left_out += self._describe(jobs, budget)
        except BatchApiError as exc:
            if last is None:
                return Snapshot(now_ms, window_ms, calls=budget.used, error=exc.reason)
            return replace(last, taken_ms=now_ms, calls=budget.used, error=exc.reason)
        return Snapshot(
            now_ms,
            window_ms,
            queues,
            jobs,
            dict(self._described),
            calls=budget.used,
            left_out=tuple(left_out),
        )

    def _read_queues(self, now_ms: int, budget: _Budget) -> dict[str, QueueState]:
        if not self._queues or not budget.take():
            return {}
        answers = self._client.describe_job_queues(list(self._queues))
        by_key: dict[str, dict[str, Any]] = {}
        for queue in answers:
            by_key[str(queue.get("jobQueueName"))] = queue
            by_key[str(queue.get("jobQueueArn"))] = queue
        wanted = sorted(
            {
                str(order.get("computeEnvironment"))
                for queue in answers
                for order in queue.get("computeEnvironmentOrder") or ()
            }
        )
        stale = now_ms - self._environments_ms >= ENVIRONMENTS_SECONDS * 1000
        if wanted and (stale or not set(wanted) <= set(self._environments)) and budget.take():
            self._environments = {}
            for env in self._client.describe_compute_environments(wanted):
                found = _environment(env)
                self._environments[str(env.get("computeEnvironmentArn"))] = found
                self._environments[found.name] = found
            self._environments_ms = now_ms
        states: dict[str, QueueState] = {}
        for name in self._queues:
            answer = by_key.get(name)
            if answer is None:
                states[name] = QueueState(
                    name, found=False, status_reason="DescribeJobQueues does not know it"
                )
                continue
            orders = sorted(answer.get("computeEnvironmentOrder") or (), key=lambda o: o.get("order", 0))
            states[name] = QueueState(
                name,
                answer.get("state"),
                answer.get("status"),
                answer.get("statusReason"),
                tuple(
                    self._environments[str(o.get("computeEnvironment"))]
                    for o in orders
                    if str(o.get("computeEnvironment")) in self._environments
                ),
            )
        return states

    def _snapshot(self, queue: QueueState, budget: _Budget) -> tuple[QueueState, list[str]]:
        """The queue with its head job and capacity in use; what failed is named, not raised: the
        listings still tell counts and reasons (the head is then the oldest RUNNABLE job)."""
        if budget.left < 4 or not budget.take():  # the listings come first
            return queue, [f"{queue.name}: its queue snapshot"]
        try:
            answer = self._client.job_queue_snapshot(queue.name)
        except BatchApiError as exc:
            return queue, [f"{queue.name}: GetJobQueueSnapshot failed: {exc.code}"]
        front = (answer.get("frontOfQueue") or {}).get("jobs") or []
        head = str(front[0].get("jobArn", "")).rsplit("/", 1)[-1] if front else None
        usage = (answer.get("queueUtilization") or {}).get("totalCapacityUsage") or []
        in_use = tuple((str(u.get("capacityUnit")), float(u.get("quantity") or 0)) for u in usage)
        return replace(queue, head_job_id=head or None, capacity_in_use=in_use), []

    def _list(
        self, queue: str, after_ms: int, budget: _Budget
    ) -> tuple[tuple[Mapping[str, Any], ...], list[str]]:
        merged: dict[str, Mapping[str, Any]] = {}
        missing: list[str] = []
        pages = min(WINDOW_PAGES, budget.left - 2)  # two left for RUNNABLE and RUNNING
        if pages >= 1:
            found, more, calls = self._client.list_job_summaries(
                queue, created_after_ms=after_ms, pages=pages
            )
            budget.take(calls)
            # AWS filters by creation time; a local fake may not, so the window is applied here too.
            merged.update((s["jobId"], s) for s in found if int(s.get("createdAt") or 0) >= after_ms)
            if more:
                missing.append(f"{queue}: jobs created in the window beyond the newest {len(found)}")
        else:
            missing.append(f"{queue}: jobs created in the window")
        for status in ("RUNNABLE", "RUNNING"):
            if not budget.take():
                missing.append(f"{queue}: {status} jobs")
                continue
            found, more, _ = self._client.list_job_summaries(queue, status=status)
            merged.update((s["jobId"], s) for s in found)
            if more:
                missing.append(f"{queue}: {status} jobs beyond the first {len(found)}")
        newest_first = sorted(merged.values(), key=lambda s: -int(s.get("createdAt") or 0))
        return tuple(newest_first), missing

    def _describe(self, jobs: Mapping[str, Sequence[Mapping[str, Any]]], budget: _Budget) -> list[str]:
        wanted = [
            str(s["jobId"])
            for listed in jobs.values()
            for s in listed
            if (known := self._described.get(str(s["jobId"]))) is None
            or known.get("status") != s.get("status")
        ]
        wanted = list(dict.fromkeys(wanted))
        while wanted and budget.take():
            chunk, wanted = wanted[:DESCRIBE_JOBS_MAX], wanted[DESCRIBE_JOBS_MAX:]
            for job in self._client.describe_jobs(chunk):
                self._described[str(job["jobId"])] = job
                self._described.move_to_end(str(job["jobId"]))
        while len(self._described) > DESCRIPTIONS_KEPT:
            self._described.popitem(last=False)
        return [f"descriptions of {len(wanted)} jobs"] if wanted else []


def _environment(env: Mapping[str, Any]) -> ComputeEnvironment:
    resources = env.get("computeResources") or {}
    kind = resources.get("type") or env.get("containerOrchestrationType") or env.get("type") or "?"
    return ComputeEnvironment(
        name=str(env.get("computeEnvironmentName")),
        type=str(kind),
        state=str(env.get("state", "?")),
        status=str(env.get("status", "?")),
        status_reason=env.get("statusReason"),
    )
