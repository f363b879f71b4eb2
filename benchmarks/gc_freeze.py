"""``python -m benchmarks.gc_freeze``: what freezing the start-up heap buys a heartbeat.

A scheduler process holds Airflow, its providers and the botocore models it loaded at start-up (a few
hundred thousand objects) for its whole life. CPython's full collection scans every tracked object,
so one that falls in a heartbeat pays for all of them; ``BatchRouterExecutor.start()`` moves them out
of the collector's reach with ``gc.freeze()``. This loads what a scheduler running batch-router loads,
then times full collections with the heap as it is and frozen, plus tracked tries made afterwards
(what a busy executor adds), in one process, one after the other.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any


def _load_a_schedulers_heap() -> list[Any]:
    """Import and build what a scheduler with batch-router has made by the time start() returns."""
    import airflow.executors.base_executor
    import airflow.models
    import airflow.providers.amazon.aws.hooks.batch_client  # noqa: F401
    import botocore.session

    from batch_router import examples
    from batch_router.config.routes import read_route_file
    from batch_router.plan.planner import Plan

    session = botocore.session.get_session()
    keep: list[Any] = [
        session.create_client("batch", region_name="us-east-1"),
        session.get_service_model("logs"),
    ]
    plan = Plan(read_route_file(examples.ROUTES_FILE))
    plan.warm_up()
    keep.append(plan)
    return keep


def _full_collections(rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - started)
    return times


def _tries(count: int) -> list[dict[str, Any]]:
    """Stand-ins for what a busy executor tracks after start-up (a few objects per try)."""
    return [
        {"key": (f"dag-{i}", "task", "run", 1), "job": f"job-{i}", "status": "RUNNING"} for i in range(count)
    ]


def measure(rounds: int = 5, tries: int = 5_000) -> list[tuple[str, int, float, float]]:
    """(case, objects a full collection scans, median ms, max ms)."""
    keep = _load_a_schedulers_heap()
    rows = []
    busy = _tries(tries)
    gc.collect()
    rows.append(
        (f"start-up heap + {tries:,} tries, nothing frozen", len(gc.get_objects()), _full_collections(rounds))
    )
    del busy
    gc.collect()
    gc.freeze()  # what start() does; the tries come afterwards
    try:
        busy = _tries(tries)
        rows.append(
            (f"start-up heap frozen, {tries:,} tries after", len(gc.get_objects()), _full_collections(rounds))
        )
        del busy
    finally:
        gc.unfreeze()
    del keep
    return [(name, count, statistics.median(t) * 1e3, max(t) * 1e3) for name, count, t in rows]


def render(rows: list[tuple[str, int, float, float]]) -> str:
    width = max(len(name) for name, *_ in rows)
    lines = [
        f"{'full collection':<{width}}  {'scanned':>9}  {'median ms':>9}  {'max ms':>7}",
        "-" * (width + 33),
    ]
    lines += [
        f"{name:<{width}}  {count:>9,}  {median:>9.1f}  {top:>7.1f}" for name, count, median, top in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gc_freeze", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=5, help="full collections timed per case (default 5)")
    parser.add_argument(
        "--tries", type=int, default=5_000, help="tracked tries made after start-up (default 5,000)"
    )
    args = parser.parse_args(argv)
    print(render(measure(args.rounds, args.tries)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
