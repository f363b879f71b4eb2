"""Work off the scheduler thread: every try comes back from planning, and a made job is never hidden."""

from __future__ import annotations

import gc
import json
import logging
from typing import Any

from executor_kit import make_workload

from batch_router.aws.batch_client import BatchClient
from batch_router.config.model import Route
from batch_router.errors import RoutingError
from batch_router.executor import calls
from batch_router.executor.outcomes import Planned, Submitted, SubmitTicket, Unplannable
from batch_router.executor.planning import plan_workloads
from batch_router.executor.workloads import workload_command
from batch_router.plan.model import BuiltJob
from batch_router.plan.planner import Plan


class FakePlan:
    """Builds a plain request; task "broken" hits a bug, task "unroutable" has no route."""

    route = Route("default", "ec2", "q", "jd")

    def build(
        self, *, identity: Any, executor_config: Any, queue: Any, command: Any, lost_capacity: bool = False
    ) -> BuiltJob:
        if identity.task_id == "broken":
            raise KeyError("a bug in planning")
        if identity.task_id == "unroutable":
            raise RoutingError("no route takes 99 GPUs")
        kwargs = {
            "jobQueue": "q",
            "jobName": f"job-{identity.task_id}",
            "jobDefinition": "jd",
            "containerOverrides": {"command": list(command)},
        }
        return BuiltJob(kwargs=kwargs, route=self.route, reason="default route")


def plan_all(task_ids: list[str], chunk_size: int = 100) -> list[list[Planned | Unplannable]]:
    chunks: list[list[Planned | Unplannable]] = []
    plan: Plan = FakePlan()  # type: ignore[assignment]
    workloads = [make_workload(task_id=t) for t in task_ids]
    plan_workloads(plan, workloads, logging.getLogger("test"), chunks.append, chunk_size)
    return chunks


def test_a_planned_try_keeps_its_checked_request_as_json_whose_command_carries_the_workload() -> None:
    workload = make_workload(task_id="t")
    chunks: list[list[Planned | Unplannable]] = []
    plan: Plan = FakePlan()  # type: ignore[assignment]
    plan_workloads(plan, [workload], logging.getLogger("test"), chunks.append)
    [[planned]] = chunks

    assert isinstance(planned, Planned)
    assert json.loads(planned.request)["containerOverrides"]["command"] == workload_command(workload)
    # One string, which no garbage collection scans, where the request is a tree of dicts it does.
    assert not gc.is_tracked(planned.request)


def test_every_try_comes_back_in_order_in_chunks() -> None:
    chunks = plan_all([f"t{i}" for i in range(5)], chunk_size=2)

    assert [len(c) for c in chunks] == [2, 2, 1]
    assert [p.job_name for c in chunks for p in c] == [f"job-t{i}" for i in range(5)]


def test_a_try_no_route_takes_comes_back_with_the_routing_error() -> None:
    [[unroutable, fine]] = plan_all(["unroutable", "fine"])

    assert isinstance(unroutable, Unplannable) and "99 GPUs" in unroutable.error
    assert isinstance(unroutable, Unplannable)
    assert isinstance(fine, Planned) and fine.route == "default"


def test_a_bug_while_planning_one_try_fails_that_try_only() -> None:
    [[before, broken, after]] = plan_all(["before", "broken", "after"])

    assert isinstance(broken, Unplannable) and "KeyError" in broken.error
    assert isinstance(before, Planned) and isinstance(after, Planned)


class LogThatFailsOnce:
    """A logger whose handler breaks on the first line: the tries after it must still come back."""

    def __init__(self) -> None:
        self.calls = 0

    def info(self, event: Any, *args: Any, **kw: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            raise OSError("log disk full")


def test_a_broken_log_handler_costs_no_try() -> None:
    chunks: list[list[Planned | Unplannable]] = []
    plan: Plan = FakePlan()  # type: ignore[assignment]
    workloads = [make_workload(task_id=t) for t in ("first", "second")]

    plan_workloads(plan, workloads, LogThatFailsOnce(), chunks.append)

    [[first, second]] = chunks
    assert isinstance(first, Planned) and isinstance(second, Planned)
    assert (first.route, second.route) == ("default", "default")


class SubmitsEverything:
    def submit_job(self, request: Any) -> str:
        return "job-1"


def test_a_submitted_job_is_reported_even_when_logging_it_fails() -> None:
    workload = make_workload(task_id="t")
    request = json.dumps({"jobQueue": "q", "jobName": "job-t", "jobDefinition": "jd"})
    ticket = SubmitTicket(
        key=workload.ti.key,
        serial=1,
        route="default",
        request=request,
        job_queue="q",
        job_name="job-t",
        match_ids=frozenset(),
    )
    client: BatchClient = SubmitsEverything()  # type: ignore[assignment]

    outcome = calls.submit_or_find(client, ticket, LogThatFailsOnce())

    assert isinstance(outcome, Submitted) and outcome.job_id == "job-1"
