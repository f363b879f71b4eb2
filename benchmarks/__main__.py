"""``python -m benchmarks``: batch-router against the reference AwsBatchExecutor, side by side.

    python -m benchmarks                        # N = 100, 1,000, 5,000, 20,000; 50 ms; 50 SubmitJob/s
    python -m benchmarks --sizes 100,1000 --latency-ms 20 --rate 100
    python -m benchmarks --smoke                # tiny and fast: checks the harness, not the timings

Prints one table per N and writes every figure (and the raw counters) to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.executors import (
    BATCH_ROUTER,
    BATCH_ROUTER_EVENTS,
    REFERENCE,
    ExecutorSpec,
    batch_router_events_spec,
    batch_router_spec,
    reference_spec,
)
from benchmarks.figures import check_targets, compute_figures
from benchmarks.harness import RunOptions, RunRecord, run_all
from benchmarks.memory import memory_figures, render_memory_table
from benchmarks.report import render_report

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"

FULL = {
    "sizes": "100,1000,5000,20000",
    "latency_ms": 50.0,
    "rate": 50.0,
    "loop_interval": 1.0,
    "warmup": 5.0,
    "warmup_tasks": 10,
    "polls": 3,
    "poll_window_cap": 60.0,
    "drain_cap": 120.0,
    "timeout": 900.0,
    "poll_interval": None,
    "memory_sizes": "5000,20000",
}
# Small enough for CI; the warm-up stays at 5 s because the reference executor, started without a
# health check, waits 4 s before it makes its first API call.
SMOKE = {
    "sizes": "12",
    "latency_ms": 5.0,
    "rate": 200.0,
    "loop_interval": 0.2,
    "warmup": 5.0,
    "warmup_tasks": 2,
    "polls": 1,
    "poll_window_cap": 20.0,
    "drain_cap": 30.0,
    "timeout": 120.0,
    "poll_interval": 0.5,
    "memory_sizes": "12",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny, fast settings (any flag below still wins)"
    )
    parser.add_argument("--sizes", help="comma-separated task counts (default 100,1000,5000,20000)")
    parser.add_argument("--latency-ms", type=float, help="delay added to every API call (default 50)")
    parser.add_argument(
        "--rate", type=float, help="SubmitJob calls per second before 429s; 0: no limit (default 50)"
    )
    parser.add_argument("--burst", type=float, help="SubmitJob tokens saved up (default rate/10, at least 1)")
    parser.add_argument("--loop-interval", type=float, help="seconds between scheduler loops (default 1)")
    parser.add_argument("--warmup", type=float, help="idle heartbeats before queueing, seconds (default 5)")
    parser.add_argument("--warmup-tasks", type=int, help="tasks run to the end before measuring (default 10)")
    parser.add_argument("--polls", type=int, help="full polls watched with every job RUNNING (default 3)")
    parser.add_argument(
        "--drain-rate", type=float, default=0.0,
        help="jobs ended per second in the drain; each task's state latency measured (0: all at once)",
    )  # fmt: skip
    parser.add_argument(
        "--poll-window-cap", type=float, help="most seconds to wait for those polls (default 60)"
    )
    parser.add_argument("--drain-cap", type=float, help="most seconds to wait for final states (default 120)")
    parser.add_argument("--timeout", type=float, help="time cap per executor per size, seconds (default 900)")
    parser.add_argument(
        "--executors",
        default=f"{REFERENCE},{BATCH_ROUTER}",
        help=f"which to run, comma-separated (default {REFERENCE},{BATCH_ROUTER})",
    )
    parser.add_argument("--poll-interval", type=float, help="batch-router's POLL_INTERVAL (default: its own)")
    parser.add_argument(
        "--api-concurrency", type=int, help="batch-router's API_CONCURRENCY (default: its own)"
    )
    parser.add_argument(
        "--poll-concurrency", type=int, help="batch-router's POLL_CONCURRENCY (default: its own)"
    )
    parser.add_argument(
        "--memory-sizes", help="sizes of the memory pass (tracemalloc); empty: none (default 5000,20000)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print the tables of a saved run; run nothing"
    )
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    for key, value in profile.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.burst is None:
        args.burst = max(1.0, args.rate / 10)
    try:
        args.size_list = [int(part) for part in str(args.sizes).split(",") if part.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not args.size_list or any(size < 1 for size in args.size_list):
        parser.error("--sizes needs at least one size, each 1 or more")
    try:
        args.memory_size_list = [int(part) for part in str(args.memory_sizes).split(",") if part.strip()]
    except ValueError:
        parser.error(f"--memory-sizes must be comma-separated integers, got {args.memory_sizes!r}")
    return args


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": platform.processor() or platform.machine(),
    }
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(ValueError, OSError, AttributeError):
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    versions: dict[str, str | None] = {}
    for package in ("apache-airflow", "apache-airflow-providers-amazon", "boto3", "botocore", "moto"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info["versions"] = versions
    info["source"] = source_state()
    return info


def source_state() -> dict[str, Any]:
    """Which batch-router was measured: the commit, and whether the work tree differed from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "batch_router"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit or None, "batch_router_modified": bool(changed)}


def record_to_json(record: RunRecord, *, rate: float) -> dict[str, Any]:
    figures = compute_figures(
        size=record.size,
        events=record.events,
        api=record.api,
        rate_limit=rate,
        wall_seconds=record.wall_seconds,
    )
    targets = check_targets(figures, record.size) if record.executor == BATCH_ROUTER else []
    api = {k: v for k, v in record.api.items() if k != "submit_ok_at"}
    return {
        "executor": record.executor,
        "size": record.size,
        "status": record.status,
        "message": record.message,
        "figures": figures if record.status != "skipped" else {},
        "targets": [{"key": t.key, "text": t.text, "met": t.met} for t in targets],
        "api": api,
        "log": record.log_path,
        "load_average": {"before": record.load_before, "after": record.load_after},
        "cpu_stolen_percent": record.stolen_percent,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        print(render_report(json.loads(args.report.read_text(encoding="utf-8"))))
        return 0
    wanted = {name.strip() for name in args.executors.split(",") if name.strip()}
    specs: list[ExecutorSpec] = []
    if REFERENCE in wanted:
        specs.append(reference_spec())
    own = {
        "poll_interval": args.poll_interval,
        "api_concurrency": args.api_concurrency,
        "poll_concurrency": args.poll_concurrency,
    }
    if BATCH_ROUTER in wanted:
        specs.append(batch_router_spec(**own))
    if BATCH_ROUTER_EVENTS in wanted:
        specs.append(batch_router_events_spec(**own))
    unknown = wanted - {REFERENCE, BATCH_ROUTER, BATCH_ROUTER_EVENTS}
    if unknown or not specs:
        print(
            f"unknown executors {sorted(unknown)}; choose from {REFERENCE}, {BATCH_ROUTER}, "
            f"{BATCH_ROUTER_EVENTS}",
            file=sys.stderr,
        )
        return 2
    for spec in specs:
        reason = spec.missing_reason()
        if reason is not None:
            print(f"skipping {spec.name}: {reason}", file=sys.stderr)

    options = RunOptions(
        latency_ms=args.latency_ms,
        rate=args.rate,
        burst=args.burst,
        loop_interval=args.loop_interval,
        warmup=args.warmup,
        warmup_tasks=args.warmup_tasks,
        polls=args.polls,
        poll_window_cap=args.poll_window_cap,
        drain_cap=args.drain_cap,
        drain_rate=args.drain_rate,
        timeout=args.timeout,
    )
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine_info(),
        "config": {
            "sizes": args.size_list,
            "latency_ms": args.latency_ms,
            "rate": args.rate,
            "burst": args.burst,
            "loop_interval": args.loop_interval,
            "warmup": args.warmup,
            "warmup_tasks": args.warmup_tasks,
            "polls": args.polls,
            "timeout": args.timeout,
            "batch_router_settings": dict(specs[-1].own_settings) if specs[-1].name == BATCH_ROUTER else {},
        },
        "runs": [],
        "memory_runs": [],
    }

    def on_record(record: RunRecord) -> None:
        document["runs"].append(record_to_json(record, rate=args.rate))
        output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(
            f"  {record.executor} N={record.size}: {record.status} in {record.wall_seconds:.0f} s"
            + (f" ({record.message})" if record.message else ""),
            file=sys.stderr,
            flush=True,
        )

    print(f"benchmarking {', '.join(s.name for s in specs)} at N = {args.sizes}", file=sys.stderr, flush=True)
    run_all(specs, args.size_list, options, output.parent / "logs", on_record=on_record)
    if args.memory_size_list:
        # Tracing slows every allocation, so this pass is apart and its timings are not judged; the API
        # answers fast and without a rate limit, since what a try keeps does not depend on either.
        memory_options = dataclasses.replace(
            options, trace_memory=True, latency_ms=5.0, rate=0.0, polls=1, drain_cap=30.0
        )

        def on_memory(record: RunRecord) -> None:
            document["memory_runs"].append(
                {
                    "executor": record.executor,
                    "size": record.size,
                    "status": record.status,
                    "message": record.message,
                    "figures": memory_figures(record.events, record.size),
                }
            )
            output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

        print(f"memory pass at N = {args.memory_sizes}", file=sys.stderr, flush=True)
        run_all(specs, args.memory_size_list, memory_options, output.parent / "logs", on_record=on_memory)
    print(render_report(document))
    if document["memory_runs"]:
        print("\n" + render_memory_table(document["memory_runs"]))
    print(f"\nresults: {output}")
    return 1 if any(run["status"] == "error" for run in document["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
