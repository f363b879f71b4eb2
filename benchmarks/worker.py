"""One executor under load, driven the way Airflow's scheduler drives it; runs in its own process.

``python -m benchmarks.worker`` builds the executor from the environment the harness prepared, lets it
warm up (a scheduler runs its executor long before tasks arrive), queues every workload through
``queue_workload`` and then calls ``heartbeat()`` and ``get_event_buffer()`` once per loop, as
``SchedulerJobRunner`` does. The measured run has these phases, told apart by what the fake API has seen:

- submit: until every task has a job (or has failed);
- settle: one more sweep of DescribeJobs, so the executor has taken in every job id;
- poll: every job is held RUNNING while the executor polls at least ``--polls`` times over all of them;
- drain: the jobs are released as SUCCEEDED and the loop goes on until every task has a final state.

Everything is appended to a JSON-lines progress file as it happens, flushed at once, so the harness
can still report a run it had to kill at its time cap.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import sys
import threading
import time
import tracemalloc
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import psutil

TERMINAL = {"success": "succeeded", "failed": "failed"}
WARMUP_TASKS_CAP_SECONDS = 120.0
# The memory pass's count: DescribeJobs held at the fake API for at most this long, and how long an
# answer already sent may take to be read and let go once none is being answered.
QUIET_SECONDS = 30.0
ANSWER_READ_SECONDS = 1.0


def peak_rss_kib() -> int:
    """The process's high-water mark; often set while importing Airflow, so it hides later growth."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage // 1024 if sys.platform == "darwin" else usage  # macOS counts bytes, Linux KiB


def current_rss_kib() -> int:
    return int(psutil.Process().memory_info().rss // 1024)


class Progress:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: str, **fields: Any) -> None:
        fields.update(event=event, at=time.monotonic(), rss_kib=current_rss_kib(), maxrss_kib=peak_rss_kib())
        fields.update(cpu_s=sum(os.times()[:2]))  # the process's CPU (user + system), every thread
        self._stream.write(json.dumps(fields) + "\n")
        self._stream.flush()


class CollectionLog:
    """Garbage collections of generation 2, and any other over ``min_seconds``, with the thread that ran
    them: what a slow heartbeat was waiting for (a collection on another thread holds the GIL too).

    With the collecting thread's CPU time: a collection whose wall time is far above it was the thread
    (holding the GIL) taken off its CPU, by the OS or the hypervisor, not the collector's own work."""

    def __init__(self, min_seconds: float = 0.002) -> None:
        self.min_seconds = min_seconds
        self._started: float | None = None
        self._cpu_started = 0.0
        self.done: list[dict[str, Any]] = []

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._started, self._cpu_started = now, time.thread_time()
            return
        if self._started is None:
            return
        seconds, self._started = now - self._started, None
        cpu = time.thread_time() - self._cpu_started
        if info["generation"] == 2 or seconds >= self.min_seconds:
            thread = threading.current_thread().name
            self.done.append(
                {
                    "at": now,
                    "gen": info["generation"],
                    "ms": seconds * 1000,
                    "cpu_ms": cpu * 1000,
                    "thread": thread,
                    "collected": info["collected"],  # cyclic garbage freed, with its dealloc cost
                }
            )

    def take(self) -> list[dict[str, Any]]:
        done, self.done = self.done, []
        return done


def api_stats(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_bench/stats?brief=1", timeout=30) as response:
        stats: dict[str, Any] = json.load(response)
    stats.pop("submit_ok_at", None)
    return stats


def api_released(endpoint: str) -> dict[str, float]:
    """When each try's job ended in the fake API (epoch seconds), by the try's id."""
    with urllib.request.urlopen(f"{endpoint}/_bench/released", timeout=60) as response:
        return dict(json.load(response)["released"])


def state_latency(ended: dict[str, float], seen: dict[str, float]) -> dict[str, Any]:
    """Seconds from a job's end in Batch to the executor's state reaching the scheduler, per try."""
    from benchmarks.figures import percentile

    latencies = sorted(seen[t] - ended[t] for t in seen.keys() & ended.keys())
    if not latencies:
        return {"count": 0}
    return {
        "count": len(latencies),
        "p50_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "max_s": latencies[-1],
    }


def api_release(endpoint: str, *, keep_holding: bool = False, rate: float = 0.0) -> int:
    query = "?hold=1" if keep_holding else (f"?rate={rate}" if rate > 0 else "")
    request = urllib.request.Request(f"{endpoint}/_bench/release{query}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.load(response)["released"])


def api_quiet(endpoint: str, seconds: float) -> None:
    request = urllib.request.Request(f"{endpoint}/_bench/quiet?seconds={seconds}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def load_executor(class_path: str, parallelism: int) -> Any:
    module_name, class_name = class_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(parallelism=parallelism)


def warm_up(
    args: argparse.Namespace,
    executor: Any,
    beat: Callable[[str], dict[str, int]],
    sleep_rest: Callable[[float], None],
) -> None:
    """Bring the executor to the state it is in inside a scheduler that has been up for a while.

    First idle heartbeats (the reference executor, started without a health check, makes no call for
    its first 4 s), then a few tasks run to the end, so clients, threads and connections exist before
    anything is measured and their fixed cost is not charged to the measured tasks.
    """
    from benchmarks.workloads import make_workloads

    warm_until = time.monotonic() + args.warmup
    while time.monotonic() < warm_until:
        started = time.monotonic()
        beat("warmup")
        sleep_rest(started)
    if args.warmup_tasks <= 0:
        return
    for workload in make_workloads(args.warmup_tasks, dag_id="benchmark_warmup"):
        executor.queue_workload(workload, session=None)
    released = False
    give_up = time.monotonic() + WARMUP_TASKS_CAP_SECONDS
    while time.monotonic() < give_up:
        started = time.monotonic()
        counts = beat("warmup")
        if counts["success"] + counts["failed"] >= args.warmup_tasks:
            return
        if not released and api_stats(args.endpoint)["submit_ok"] >= args.warmup_tasks:
            api_release(args.endpoint, keep_holding=True)
            released = True
        sleep_rest(started)
    raise RuntimeError(
        f"the {args.warmup_tasks} warm-up tasks did not finish in {WARMUP_TASKS_CAP_SECONDS:.0f} s"
    )


def quiet_traced_memory(endpoint: str, size: int, *, stop: bool) -> dict[str, Any]:
    """``traced_memory`` while no DescribeJobs answer is on its way or being read.

    An executor that reads its sweeps on threads of its own (batch-router) almost always has one or two
    answers of 100 job descriptions in hand, raw and decoded: about 1.5 MB, or 295 bytes a try at 5,000
    tries, in the run recorded at 738c8e7. The reference reads them inside heartbeat(), between which
    the worker counts. Those answers are no part of what a try keeps, so new DescribeJobs calls are held
    at the fake API, the count waits until none is being answered and the last one has been read, and
    the calls go on once it is taken. No heartbeat runs meanwhile (the reference's would wait on the
    gate).
    """
    api_quiet(endpoint, QUIET_SECONDS)
    try:
        give_up = time.monotonic() + QUIET_SECONDS / 2
        in_flight = api_stats(endpoint)["describe_in_flight"]
        while in_flight and time.monotonic() < give_up:
            time.sleep(0.05)
            in_flight = api_stats(endpoint)["describe_in_flight"]
        time.sleep(ANSWER_READ_SECONDS)
        return {**traced_memory(size, stop=stop), "describe_in_flight": in_flight}
    finally:
        api_quiet(endpoint, 0)


def traced_memory(size: int, *, stop: bool) -> dict[str, Any]:
    """What tracemalloc still holds from the executor's allocations since tracing began (the worker's
    own bookkeeping excluded), per try, and the lines that hold most of it.

    Taken twice, as the poll window opens and as it closes (each while no API answer is in flight, see
    ``quiet_traced_memory``); the smaller is what every try keeps.

    The process's RSS is read first, less tracemalloc's own tables (they grow with every live
    allocation and are no part of what the executor costs without tracing), so the pass also gives RSS
    growth at sizes the timing pass does not run.
    """
    gc.collect()
    untraced_rss_kib = current_rss_kib() - tracemalloc.get_tracemalloc_memory() // 1024
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, __file__), tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    if stop:
        tracemalloc.stop()
    stats = snapshot.statistics("lineno")
    kept = sum(stat.size for stat in stats)
    top = [
        {
            "where": f"{Path(s.traceback[0].filename).name}:{s.traceback[0].lineno}",
            "bytes_per_try": s.size / size,
        }
        for s in stats[:16]
    ]
    return {"bytes_per_try": kept / size if size else 0.0, "top": top, "untraced_rss_kib": untraced_rss_kib}


def _state_word(state: Any) -> str:
    return str(getattr(state, "value", state)).lower()


def run(args: argparse.Namespace, progress: Progress) -> bool:
    """Drive the executor through the three phases; False if the run was cut short at its deadline."""
    from benchmarks.workloads import make_workloads

    size: int = args.size
    executor = load_executor(args.executor_class, parallelism=max(size, 1) + args.warmup_tasks)
    executor.start()
    workloads = make_workloads(size)
    states: dict[Any, str] = {}
    seen_at: dict[Any, float] = {}  # when each task's final state reached the scheduler (epoch s)
    gc_log = CollectionLog()
    gc.callbacks.append(gc_log)

    def beat(phase: str) -> dict[str, int]:
        progress("heartbeat_start", phase=phase)  # so a heartbeat cut short at the time cap is seen
        started, cpu_started = time.monotonic(), time.thread_time()
        executor.heartbeat()
        seconds, cpu = time.monotonic() - started, time.thread_time() - cpu_started
        now = time.time()
        for key, (state, _info) in executor.get_event_buffer().items():
            states[key] = word = _state_word(state)
            if word in TERMINAL:
                seen_at.setdefault(key, now)
        counts = Counter(states.values())
        progress(
            "heartbeat",
            phase=phase,
            started=started,
            seconds=seconds,
            cpu_seconds=cpu,  # the scheduler thread's own CPU: the rest of ``seconds`` it waited (the GIL)
            succeeded=counts["success"],
            failed=counts["failed"],
        )
        if collected := gc_log.take():
            progress("collections", phase=phase, collections=collected)
        return {"success": counts["success"], "failed": counts["failed"]}

    def sleep_rest(started: float) -> None:
        time.sleep(max(0.0, args.loop_interval - (time.monotonic() - started)))

    warm_up(args, executor, beat, sleep_rest)
    states.clear()
    before = api_stats(args.endpoint)
    progress("ready", api=before)
    if args.trace_memory:
        # Count what the executor keeps of each try: tracing starts before the workloads exist, and the
        # worker drops its own references once they are queued (a scheduler hands them over too).
        workloads.clear()
        gc.collect()
        tracemalloc.start(1)
        workloads = make_workloads(size)
    try_ids = {} if args.trace_memory else {w.ti.key: str(w.ti.id) for w in workloads}
    queued_at = time.monotonic()
    deadline = queued_at + args.deadline
    for workload in workloads:
        executor.queue_workload(workload, session=None)
    progress("queued", started=queued_at, seconds=time.monotonic() - queued_at)
    # A scheduler keeps no reference to the workloads it queued; kept here, they would be counted as
    # the executor's memory and weigh on every garbage collection of the run.
    if workloads:
        del workload
    workloads.clear()

    phase = "submit"
    window_start: dict[str, Any] = {}
    phase_started = time.monotonic()
    while True:
        started = time.monotonic()
        beat(phase)
        stats = api_stats(args.endpoint)
        failed = Counter(states.values())["failed"]
        if phase == "submit" and stats["submit_ok"] - before["submit_ok"] + failed >= size:
            progress("all_submitted", api=stats, failed=failed)
            phase, phase_started, window_start = "settle", time.monotonic(), stats
        elif phase == "settle" and (
            stats["describe_ids"] - window_start["describe_ids"] >= size
            or time.monotonic() - phase_started > args.poll_window_cap
        ):
            # One sweep has gone by since the last SubmitJob: the executor now knows every job id,
            # so every poll in the window asks about all N.
            phase, phase_started, window_start = "poll", time.monotonic(), stats
            if args.trace_memory:
                progress("traced_memory", **quiet_traced_memory(args.endpoint, size, stop=False))
        elif phase == "poll" and (
            stats["describe_ids"] - window_start["describe_ids"] >= args.polls * size
            or time.monotonic() - phase_started > args.poll_window_cap
        ):
            progress("poll_window", start=window_start, end=stats)
            if args.trace_memory:  # again, after whole sweeps over N RUNNING jobs: calls in flight differ
                progress("traced_memory", **quiet_traced_memory(args.endpoint, size, stop=True))
            progress("released", jobs=api_release(args.endpoint, rate=args.drain_rate))
            seen_at.clear()  # only the tries whose jobs end from here on
            phase, phase_started = "drain", time.monotonic()
        elif phase == "drain":
            done = sum(1 for s in states.values() if s in TERMINAL)
            if done >= size:
                progress("drained")
                break
            if time.monotonic() - phase_started > args.drain_cap:
                progress("drain_cap_reached", done=done)
                break
        if time.monotonic() > deadline:
            # end() would now submit, serially, whatever is still queued: not worth waiting for.
            progress("deadline", phase=phase)
            api_release(args.endpoint)
            return False
        sleep_rest(started)

    ended_at = time.monotonic()
    executor.end()
    progress("ended", seconds=time.monotonic() - ended_at)
    final = {TERMINAL[s]: 0 for s in TERMINAL}
    for state in states.values():
        if state in TERMINAL:
            final[TERMINAL[state]] += 1
    progress("done", **final)
    if try_ids:
        seen = {try_ids[key]: at for key, at in seen_at.items() if key in try_ids}
        progress("state_latency", **state_latency(api_released(args.endpoint), seen))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("--executor-class", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--progress", type=Path, required=True)
    parser.add_argument("--loop-interval", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--warmup-tasks", type=int, default=10)
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--poll-window-cap", type=float, default=60.0)
    parser.add_argument("--drain-cap", type=float, default=120.0)
    parser.add_argument("--drain-rate", type=float, default=0.0, help="jobs ended per second; 0: at once")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds from queueing to giving up")
    parser.add_argument(
        "--trace-memory", action="store_true", help="count, with tracemalloc, what the executor keeps per try"
    )
    args = parser.parse_args(argv)
    with args.progress.open("a", encoding="utf-8") as stream:
        progress = Progress(stream)
        progress("started")
        try:
            finished = run(args, progress)
        except BaseException as exc:
            progress("error", error=f"{type(exc).__name__}: {exc}")
            raise
    if not finished:
        # The executor's threads may still be busy with API calls nobody will read; don't wait for them.
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
