"""``python -m benchmarks.checks``: what checking a request costs per task, and what the worst input costs.

    python -m benchmarks.checks               # 2,000 requests per row
    python -m benchmarks.checks --count 200   # quicker

Every row builds the SubmitJob request of one task try from a real ``ExecuteTask`` workload (its JSON,
token included, is the command): the reference AwsBatchExecutor's way (copy and merge, no checks),
batch-router's builder with AWS's rules and the route policy switched off, and batch-router as it runs.
The last rows are what one hostile ``executor_config`` costs the thread that plans it (the heartbeat,
when it plans a new try itself): each is refused, and the time is what refusing it takes.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import math
import statistics
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from airflow.providers.amazon.aws.executors.batch.batch_executor import AwsBatchExecutor

from batch_router import examples
from batch_router.config.routes import read_route_file
from batch_router.executor.outcomes import Unplannable
from batch_router.executor.planning import plan_workloads
from batch_router.executor.workloads import task_identity, workload_command
from batch_router.plan import job_builder
from batch_router.plan.planner import Plan
from benchmarks.workloads import make_workloads

REFERENCE_KWARGS = {
    "jobQueue": "airflow-ec2",
    "jobDefinition": "airflow-worker-ec2",
    "jobName": "airflow-task",
}
EXEC_CONFIG = {
    "vcpu": 2,
    "memory_mib": 4096,
    "tags": {"owner": "analytics"},
    "containerOverrides": {"environment": [{"name": "REPORT_DATE", "value": "2026-12-01"}]},
}


class _SilentLog:
    def info(self, *args: Any, **kwargs: Any) -> None:
        pass


def _hostile_configs() -> dict[str, dict[str, Any]]:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    return {
        "1 MB tag value": {"tags": {"big": "x" * 1_000_000}},
        "1 MB key": {"x" * 1_000_000: 1},
        "100,000 tags": {"tags": {f"t{i}": "v" for i in range(100_000)}},
        "10,000 levels deep": {"tags": deep},
        "NaN vCPU": {"vcpu": math.nan},
    }


@contextlib.contextmanager
def _without_rules() -> Iterator[None]:
    """The builder as it was before AWS's rules and the policy: merge, shape, botocore's check."""
    saved = job_builder.rule_problems, job_builder.policy_violations  # type: ignore[attr-defined]
    job_builder.rule_problems = lambda *a, **k: []  # type: ignore[assignment]
    job_builder.policy_violations = lambda *a, **k: []  # type: ignore[attr-defined]
    try:
        yield
    finally:
        job_builder.rule_problems, job_builder.policy_violations = saved  # type: ignore[attr-defined]


def _timings(calls: list[Callable[[], Any]]) -> list[float]:
    """Seconds per call, after one untimed pass (caches, lazily made validators) and a full collection."""
    for call in calls[: max(1, len(calls) // 10)]:
        call()
    gc.collect()
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _row(name: str, times: list[float]) -> tuple[str, float, float, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return name, statistics.median(ordered) * 1e6, p99 * 1e6, ordered[-1] * 1e6


def measure(count: int) -> list[tuple[str, float, float, float]]:
    """(row, median µs, p99 µs, max µs) for each way of building, then for each hostile input."""
    plan = Plan(read_route_file(examples.ROUTES_FILE))
    workloads = make_workloads(count)
    for workload in workloads:
        workload.ti.executor_config = EXEC_CONFIG
    reference = SimpleNamespace(submit_job_kwargs={**REFERENCE_KWARGS, "containerOverrides": {}})

    def reference_build(workload: Any) -> Callable[[], Any]:
        # Each call gets its own copy, made before timing: the reference executor appends its variable to
        # the environment list of the exec_config it is given (merge_dicts shares the list).
        command, config = workload_command(workload), copy.deepcopy(EXEC_CONFIG)
        build = AwsBatchExecutor._submit_job_kwargs
        return lambda: build(reference, workload.ti.key, command, "default", config)  # type: ignore[arg-type]

    def ours(workload: Any) -> Callable[[], Any]:
        identity, command = task_identity(workload), workload_command(workload)
        return lambda: plan.build(identity=identity, executor_config=EXEC_CONFIG, queue=None, command=command)

    plan.warm_up()
    rows = [
        _row(
            "reference AwsBatchExecutor: copy and merge, no checks",
            _timings([reference_build(w) for w in workloads]),
        )
    ]
    with _without_rules():
        rows.append(
            _row(
                "batch-router: route, merge, shape, botocore's check", _timings([ours(w) for w in workloads])
            )
        )
    rows.append(
        _row("batch-router: ... + AWS's rules + route policy", _timings([ours(w) for w in workloads]))
    )
    for name, config in _hostile_configs().items():
        [workload] = make_workloads(1)
        workload.ti.executor_config = config
        results: list[Any] = []

        def plan_it(w: Any = workload, into: list[Any] = results) -> None:
            plan_workloads(plan, [w], _SilentLog(), into.extend)

        times = _timings([plan_it] * 5)
        if not all(isinstance(r, Unplannable) for r in results):
            raise AssertionError(f"{name}: planned instead of refused")
        rows.append(_row(f"refusing one executor_config: {name}", times))
    return rows


def render(rows: list[tuple[str, float, float, float]]) -> str:
    width = max(len(name) for name, *_ in rows)
    lines = [f"{'':<{width}}  {'median µs':>10}  {'p99 µs':>10}  {'max µs':>10}", "-" * (width + 38)]
    lines += [
        f"{name:<{width}}  {median:>10,.0f}  {p99:>10,.0f}  {top:>10,.0f}" for name, median, p99, top in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checks", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="requests built per row (default 2,000)")
    args = parser.parse_args(argv)
    print(render(measure(args.count)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
