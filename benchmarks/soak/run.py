"""One soak run in this process: the executor under faults and restarts, driven as a scheduler drives it.

``python -m benchmarks.soak.run --tasks 2000 --layer below --out result.json`` (``python -m
benchmarks.soak`` starts one such process per configuration, each with a clean environment).

The scheduler's side is played here: every task is queued through ``queue_workload``; each loop calls
``heartbeat()`` and ``get_event_buffer()`` and remembers the job id a RUNNING event carries, as the
scheduler stores it as ``external_executor_id``. A restart is a scheduler dying between two loops:
its executor gets no more calls (``end()`` only stops its threads, as the process's death would), the
events it had not handed over are lost, and a new executor adopts every task that is not finished yet
from what the "database" has. Tasks handed back are queued again as their next try, as Airflow's reset
does. Every executor call is guarded: an exception out of one is counted, never hidden.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.soak.faults import FaultMix
from benchmarks.soak.world import FAIL, JobDriver, outcome_of, set_up_batch

QUEUE, JOB_DEFINITION = "soak-queue", "soak-jobdef"
LOOP_SECONDS = 0.05


@dataclass
class Scheduler:
    """What the scheduler's database knows: each task's current try, its stored id and final state."""

    seed: int
    workloads: dict[str, Any] = field(default_factory=dict)  # task id -> the workload of its current try
    stored_id: dict[str, str] = field(default_factory=dict)
    final: dict[str, tuple[str, str]] = field(default_factory=dict)  # task id -> (state, info)
    reported_twice: Counter[str] = field(default_factory=Counter)
    escaped: Counter[str] = field(default_factory=Counter)  # exceptions out of the executor, by call
    handed_back: int = 0

    def guarded(self, name: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception:
            self.escaped[name] += 1
            return None

    def take_events(self, executor: Any) -> int:
        events = self.guarded("get_event_buffer", executor.get_event_buffer) or {}
        finished = 0
        for key, (state, info) in events.items():
            task, word = key.task_id, str(getattr(state, "value", state)).lower()
            if self.workloads[task].ti.try_number != key.try_number:
                continue  # an event of an older try
            if word == "running" and info:
                self.stored_id[task] = str(info)
            elif word in ("success", "failed"):
                if task in self.final:
                    self.reported_twice[task] += 1
                else:
                    self.final[task] = (word, str(info or ""))
                    finished += 1
        return finished

    def row(self, task: str) -> Any:
        """The TaskInstance row adoption reads: enough for the executor and for ``ExecuteTask.make``."""
        from airflow.models.taskinstancekey import TaskInstanceKey

        dto = self.workloads[task].ti
        ti = SimpleNamespace(**{name: getattr(dto, name) for name in type(dto).model_fields})
        ti.external_executor_id = self.stored_id.get(task, dto.external_executor_id)
        ti.key = TaskInstanceKey(ti.dag_id, ti.task_id, ti.run_id, ti.try_number, ti.map_index)
        ti.dag_model = SimpleNamespace(bundle_name="dags-folder", relative_fileloc="soak.py")
        ti.dag_run = SimpleNamespace(bundle_version=None, logical_date=None, run_after=None)
        ti.logical_date = None
        return ti

    def next_try(self, task: str) -> Any:
        """The workload of the try Airflow queues after resetting a task handed back."""
        workload = self.workloads[task]
        dto = workload.ti.model_copy(
            update={"try_number": workload.ti.try_number + 1, "external_executor_id": str(uuid.uuid4())}
        )
        self.workloads[task] = workload.model_copy(update={"ti": dto})
        self.stored_id.pop(task, None)
        return self.workloads[task]


def _expected(task: str, seed: int) -> str:
    return "failed" if outcome_of(task, seed) == FAIL else "success"


def soak(args: argparse.Namespace) -> dict[str, Any]:
    from moto import mock_aws

    from batch_router.executor import BatchRouterExecutor
    from benchmarks.workloads import make_workloads

    mix = FaultMix(
        args.layer, rate=args.fault_rate, seed=args.seed, spell_every=args.spell_every, enabled=False
    )
    _install(mix)
    with mock_aws():
        set_up_batch(QUEUE, JOB_DEFINITION)
        driver = JobDriver(args.seed, run_after=args.run_after, finish_after=args.finish_after)
        scheduler = Scheduler(args.seed)
        for workload in make_workloads(args.tasks, dag_id="soak"):
            scheduler.workloads[workload.ti.task_id] = workload
        mix.enable()
        executor = BatchRouterExecutor(parallelism=args.tasks * 2)
        scheduler.guarded("start", executor.start)
        for workload in scheduler.workloads.values():
            scheduler.guarded("queue_workload", executor.queue_workload, workload, session=None)
        restarts_at = [args.tasks * (i + 1) // (args.restarts + 1) for i in range(args.restarts)]
        started = last_progress = time.monotonic()
        longest_gap, restarts = 0.0, 0
        restart_seconds: list[float] = []  # end(), then the successor's start() and adoption, each time
        while len(scheduler.final) < args.tasks and time.monotonic() - started < args.deadline:
            now = time.monotonic()
            driver.step(now)
            scheduler.guarded("heartbeat", executor.heartbeat)
            if scheduler.take_events(executor):
                longest_gap, last_progress = max(longest_gap, now - last_progress), now
            if restarts_at and len(scheduler.final) >= restarts_at[0]:
                restarts_at.pop(0)
                restarts += 1
                began = time.monotonic()
                executor = _restart(executor, scheduler, args.tasks)
                restart_seconds.append(round(time.monotonic() - began, 1))
            time.sleep(max(0.0, LOOP_SECONDS - (time.monotonic() - now)))
        wall = time.monotonic() - started
        longest_gap = max(longest_gap, time.monotonic() - last_progress)
        scheduler.guarded("end", executor.end)
        duplicates = {task: driver.jobs_of(task) for task in driver.duplicates()}
    wrong = {
        task: f"{state}: {info}"
        for task, (state, info) in scheduler.final.items()
        if state != _expected(task, args.seed) and not _gave_up(info)
    }
    gave_up = sum(
        1
        for task, (state, info) in scheduler.final.items()
        if state == "failed" and _gave_up(info) and _expected(task, args.seed) == "success"
    )
    return {
        "layer": args.layer,
        "retry_mode": args.retry_mode,
        "tasks": args.tasks,
        "fault_rate": args.fault_rate,
        "restarts": restarts,
        "restart_seconds": restart_seconds,
        "wall_seconds": round(wall, 1),
        "longest_stall_seconds": round(longest_gap, 1),
        "not_final": args.tasks - len(scheduler.final),
        "duplicate_jobs": len(duplicates),
        "duplicate_examples": dict(list(duplicates.items())[:3]),
        "reported_twice": sum(scheduler.reported_twice.values()),
        "wrong_outcomes": len(wrong),
        "wrong_examples": dict(list(wrong.items())[:5]),
        "gave_up_under_faults": gave_up,
        "escaped_exceptions": dict(scheduler.escaped),
        "handed_back": scheduler.handed_back,
        "died_before_start": len(driver.died),
        "faults_injected": dict(mix.injected),
        "calls": dict(mix.calls),
    }


def _gave_up(info: str) -> bool:
    """Failed because MAX_SUBMIT_JOB_ATTEMPTS ran out: every SubmitJob attempt met a fault, or faults and
    a job that died before start used them up. The configured answer under a fault rate no real account
    has for long; counted on its own, not as a wrong outcome."""
    return "gave up after" in info or "MAX_SUBMIT_JOB_ATTEMPTS=" in info


def _restart(old: Any, scheduler: Scheduler, tasks: int) -> Any:
    from batch_router.executor import BatchRouterExecutor

    scheduler.guarded("end", old.end)  # the process is gone: its threads stop, its buffer is lost
    new = BatchRouterExecutor(parallelism=tasks * 2)
    scheduler.guarded("start", new.start)
    pending = [task for task in scheduler.workloads if task not in scheduler.final]
    back = scheduler.guarded(
        "try_adopt_task_instances", new.try_adopt_task_instances, [scheduler.row(t) for t in pending]
    )
    for ti in back or []:
        scheduler.handed_back += 1
        scheduler.guarded("queue_workload", new.queue_workload, scheduler.next_try(ti.task_id), session=None)
    return new


def _install(mix: FaultMix) -> None:
    """Every botocore session made from now on gets the fault handlers (below: in place of moto's)."""
    import botocore.handlers
    from moto.core.models import botocore_stubber

    handlers = [*botocore.handlers.BUILTIN_HANDLERS, *mix.handlers()]
    send = mix.send_handler()
    if send is not None:
        handlers = [("before-send", send) if h == ("before-send", botocore_stubber) else h for h in handlers]
    botocore.handlers.BUILTIN_HANDLERS[:] = handlers


# One soak run's options: (flag, type, default, help). ``python -m benchmarks.soak`` takes the same ones
# and hands them on (``run_argv``), so the two never disagree on a name or a default.
RUN_OPTIONS: tuple[tuple[str, type, Any, str], ...] = (
    ("--tasks", int, 5000, "tasks queued at once"),
    ("--fault-rate", float, 0.2, "share of Batch calls (or HTTP attempts) that fail"),
    ("--restarts", int, 2, "times the scheduler dies and a new one adopts"),
    ("--seed", int, 1, "seed of the fault and outcome choices"),
    ("--run-after", float, 2.0, "seconds a job waits before it runs"),
    ("--finish-after", float, 5.0, "seconds a job runs"),
    ("--deadline", float, 900.0, "seconds after which unfinished tasks count as lost"),
    ("--spell-every", float, 20.0, "seconds between spells of missing credentials"),
)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    for flag, kind, default, text in RUN_OPTIONS:
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default: {default})")


def run_argv(options: argparse.Namespace) -> list[str]:
    """``options`` as this module's command line."""
    argv: list[str] = []
    for flag, *_ in RUN_OPTIONS:
        argv += [flag, str(getattr(options, flag.removeprefix("--").replace("-", "_")))]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=("above", "below"), default="above")
    parser.add_argument("--retry-mode", default="default", help="the RETRY_MODE setting, or 'default'")
    add_run_options(parser)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = soak(args)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
