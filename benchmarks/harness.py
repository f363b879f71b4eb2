"""Runs each (size, executor) pair: a fresh fake API process, then one executor process, under a time cap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.api import ApiConfig
from benchmarks.executors import JOB_DEFINITION, JOB_QUEUE, REFERENCE, ExecutorSpec, executor_env

# Beyond its --timeout (counted from queueing), what a worker may spend before it is killed: starting up
# (importing Airflow), the warm-up tasks (worker.WARMUP_TASKS_CAP_SECONDS) and the heartbeat it is in.
WORKER_OVERHEAD_SECONDS = 60.0 + 120.0 + 30.0


@dataclass(frozen=True)
class RunOptions:
    latency_ms: float = 50.0
    rate: float = 50.0
    burst: float = 5.0
    loop_interval: float = 1.0
    warmup: float = 5.0
    warmup_tasks: int = 10
    polls: int = 3
    poll_window_cap: float = 60.0
    drain_cap: float = 120.0
    drain_rate: float = 0.0  # jobs ended per second in the drain; 0: all at once
    timeout: float = 900.0
    trace_memory: bool = False  # a memory pass: tracemalloc on, timings not judged
    # Above this the reference is not run: its heartbeat submits every job serially, so at 20,000 and
    # 50 ms it would hold the scheduler for over 18 minutes (past any time cap). 0: no cap.
    reference_max_size: int = 5000


@dataclass
class RunRecord:
    """What one executor did at one size: its progress events, the API's counters, and how it ended."""

    executor: str
    size: int
    status: str  # "ok", "timed out", "error", "skipped"
    wall_seconds: float = 0.0
    message: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    api: dict[str, Any] = field(default_factory=dict)
    log_path: str | None = None
    # 1-minute load average before and after: other work on the machine shows up in the timings.
    load_before: float | None = None
    load_after: float | None = None
    # Share of the machine's CPU time the hypervisor gave to other guests during the run (Linux's
    # "steal"): a virtual CPU taken away while a thread holds the GIL stalls every thread of the process.
    stolen_percent: float | None = None


def _python() -> str:
    return sys.executable


def _child_env() -> dict[str, str]:
    """The environment for our own child processes: this package importable wherever we were started."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class FakeApi:
    """The ``benchmarks.api`` process for one run; a context manager that always stops it."""

    def __init__(self, config: ApiConfig, log_path: Path) -> None:
        self._log = log_path.open("w", encoding="utf-8")
        self._proc = subprocess.Popen(
            [_python(), "-m", "benchmarks.api", *config.argv()],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=_child_env(),
        )
        self.endpoint = self._read_endpoint()

    def _read_endpoint(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the fake Batch API did not start; see {self._log.name}")
        endpoint: str = json.loads(line)["endpoint"]
        return endpoint

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/_bench/stats", timeout=30) as response:
            stats: dict[str, Any] = json.load(response)
        return stats

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._log.close()

    def __enter__(self) -> FakeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def cpu_times(stat: Path = Path("/proc/stat")) -> tuple[int, int] | None:
    """(stolen, total) CPU time of the whole machine so far, in clock ticks; None where it is not known.

    The first line of Linux's ``/proc/stat`` (proc(5)): user nice system idle iowait irq softirq steal
    guest guest_nice; guest time is already counted in user, so the total is the first eight.
    """
    try:
        fields = stat.read_text(encoding="ascii").splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[:1] != ["cpu"] or len(fields) < 9:
        return None
    ticks = [int(value) for value in fields[1:9]]
    return ticks[7], sum(ticks)


def stolen_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100.0 * (after[0] - before[0]) / (after[1] - before[1]), 2)


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            break  # the last line of a killed worker may be half written
    return events


def run_one(spec: ExecutorSpec, size: int, options: RunOptions, logs: Path) -> RunRecord:
    missing = spec.missing_reason()
    if missing is not None:
        return RunRecord(spec.name, size, "skipped", message=missing)
    logs.mkdir(parents=True, exist_ok=True)
    stem = f"{spec.name}-{size}" + ("-memory" if options.trace_memory else "")
    progress = logs / f"{stem}.progress.jsonl"
    progress.unlink(missing_ok=True)
    worker_log = logs / f"{stem}.worker.log"
    config = ApiConfig(
        options.latency_ms, options.rate, options.burst, JOB_QUEUE, JOB_DEFINITION, events=spec.events
    )
    started = time.monotonic()
    load_before, times_before = load_average(), cpu_times()
    with FakeApi(config, logs / f"{stem}.api.log") as api, tempfile.TemporaryDirectory() as home:
        env = executor_env(
            spec,
            endpoint=api.endpoint,
            parallelism=size + options.warmup_tasks,
            airflow_home=home,
            base=_child_env(),
        )
        argv = [
            _python(),
            "-m",
            "benchmarks.worker",
            f"--executor-class={spec.class_path}",
            f"--size={size}",
            f"--endpoint={api.endpoint}",
            f"--progress={progress}",
            f"--loop-interval={options.loop_interval}",
            f"--warmup={options.warmup}",
            f"--warmup-tasks={options.warmup_tasks}",
            f"--polls={options.polls}",
            f"--poll-window-cap={options.poll_window_cap}",
            f"--drain-cap={options.drain_cap}",
            f"--drain-rate={options.drain_rate}",
            f"--deadline={options.timeout}",
            *(["--trace-memory"] if options.trace_memory else []),
        ]
        with worker_log.open("w", encoding="utf-8") as log:
            worker = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                code = worker.wait(timeout=options.timeout + options.warmup + WORKER_OVERHEAD_SECONDS)
                killed = False
            except subprocess.TimeoutExpired:
                worker.kill()
                code = worker.wait()
                killed = True
        api_stats = api.stats()
    # The API's own record (every SubmitJob's time) beside the worker's, to see where a rate went.
    (logs / f"{stem}.api.json").write_text(json.dumps(api_stats), encoding="utf-8")
    events = read_events(progress)
    kinds = {e["event"] for e in events}
    if killed or "deadline" in kinds:
        status, message = "timed out", f"at {options.timeout:.0f} s"
    elif code != 0 or "error" in kinds or "done" not in kinds:
        errors = [e.get("error", "") for e in events if e["event"] == "error"]
        status = "error"
        if errors:
            message = errors[0]
        elif code < 0:
            message = (
                f"worker killed by {signal.Signals(-code).name}, not by the harness; see {worker_log.name}"
            )
        else:
            message = f"worker exited with {code}; see {worker_log.name}"
    else:
        status, message = "ok", ""
    return RunRecord(
        spec.name,
        size,
        status,
        wall_seconds=time.monotonic() - started,
        message=message,
        events=events,
        api=api_stats,
        log_path=str(worker_log),
        load_before=load_before,
        load_after=load_average(),
        stolen_percent=stolen_percent(times_before, cpu_times()),
    )


def run_all(
    specs: Sequence[ExecutorSpec],
    sizes: Sequence[int],
    options: RunOptions,
    logs: Path,
    on_record: Callable[[RunRecord], None] | None = None,
) -> list[RunRecord]:
    """Every size with every executor, one after the other: on 2 cores, running them side by side
    would measure the two executors fighting over the CPU."""
    records = []
    for size in sizes:
        for spec in specs:
            cap = options.reference_max_size
            if spec.name == REFERENCE and cap and size > cap and not options.trace_memory:
                reason = f"measured up to N = {cap:,} only (it submits serially in one heartbeat)"
                record = RunRecord(spec.name, size, "skipped", message=reason)
            else:
                record = run_one(spec, size, options, logs)
            records.append(record)
            if on_record is not None:
                on_record(record)
    return records
