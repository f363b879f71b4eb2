"""(pure) The side-by-side table for stdout and the JSON document for ``benchmarks/results/``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.executors import BATCH_ROUTER, BATCH_ROUTER_EVENTS, REFERENCE
from benchmarks.figures import FIGURES, Target

# Figures where a ratio means nothing (a fixed floor) or would divide by a count that is usually 0.
NO_RATIO = frozenset(
    {
        "jobs_submitted",
        "describe_floor_per_poll",
        "submit_throttled",
        "tasks_failed",
        "tasks_lost",
        "duplicate_jobs",
    }
)


def format_value(value: float | int | None, digits: int) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def format_ratio(ours: float | int | None, reference: float | int | None, digits: int = 2) -> str:
    """batch-router / reference; "-" when either is missing or the reference shows as zero."""
    if ours is None or reference is None or round(reference, digits) == 0:
        return "-"
    ratio = ours / reference
    # Two decimals would show a 2,000-fold difference as "0.00x"; below 0.1, two significant digits.
    return f"{ratio:.2f}x" if ratio >= 0.1 or ratio == 0 else f"{ratio:.2g}x"


def status_text(run: Mapping[str, Any] | None) -> str:
    """The run row's word; why a run did not finish is a note under the table (it would widen a column)."""
    return "not run" if run is None else str(run["status"])


def status_note(name: str, run: Mapping[str, Any] | None) -> str | None:
    if run is None or run["status"] == "ok" or not run.get("message"):
        return None
    return f"{name}: {run['status']}: {run['message']}"


def render_table(size: int, runs: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> str:
    """One table for one N: figure, reference, batch-router, ratio (batch-router / reference), target."""
    reference, ours = runs.get(REFERENCE), runs.get(BATCH_ROUTER)
    ref_figures: Mapping[str, Any] = reference["figures"] if reference else {}
    our_figures: Mapping[str, Any] = ours["figures"] if ours else {}
    targets: dict[str, Target] = {}
    for target in (ours or {}).get("targets", []):
        targets[target["key"]] = Target(target["key"], target["text"], target["met"])

    header = ("figure", REFERENCE, BATCH_ROUTER, "ratio b-r/ref", "batch-router target")
    rows: list[tuple[str, str, str, str, str]] = [
        ("run", status_text(reference), status_text(ours), "", ""),
    ]
    for figure in FIGURES:
        ref_value, our_value = ref_figures.get(figure.key), our_figures.get(figure.key)
        ratio = "" if figure.key in NO_RATIO else format_ratio(our_value, ref_value, figure.digits)
        target = targets.get(figure.key)
        target_text = ""
        if target is not None:
            verdict = {True: "met", False: "MISSED", None: "not measured"}[target.met]
            target_text = f"{target.text} ({verdict})"
        rows.append(
            (
                figure.label,
                format_value(ref_value, figure.digits),
                format_value(our_value, figure.digits),
                ratio,
                target_text,
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    title = (
        f"N = {size:,} tasks | API latency {context['latency_ms']:g} ms | "
        f"SubmitJob limit {context['rate']:g}/s (burst {context['burst']:g}) | "
        f"heartbeat every {context['loop_interval']:g} s"
    )

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:4], widths[1:4], strict=True)]
        return "  ".join([first, *rest, cells[4].ljust(widths[4])]).rstrip()

    out = [title, line(header), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    loads = [
        f"{name} {run['load_average']['before']}/{run['load_average']['after']}"
        for name, run in ((REFERENCE, reference), (BATCH_ROUTER, ours))
        if run is not None and run.get("load_average", {}).get("before") is not None
    ]
    if loads:
        out.append("machine load average (1 min) before/after each run: " + ", ".join(loads))
    stolen = [
        f"{name} {run['cpu_stolen_percent']:.1f} %"
        for name, run in ((REFERENCE, reference), (BATCH_ROUTER, ours))
        if run is not None and run.get("cpu_stolen_percent") is not None
    ]
    if stolen:
        out.append("CPU time stolen by the hypervisor during each run: " + ", ".join(stolen))
    out.extend(note for note in (status_note(n, r) for n, r in runs.items()) if note is not None)
    return "\n".join(out)


# The figures the poll path and the event path are compared on (issue 28's targets among them).
PATH_FIGURES = (
    "heartbeat_p99_ms",
    "describe_calls_per_minute",
    "state_latency_p50_s",
    "state_latency_p99_s",
    "state_latency_max_s",
    "cpu_ms_per_task",
    "peak_rss_mib",
    "tasks_failed",
    "tasks_lost",
    "duplicate_jobs",
)


def render_paths(size: int, runs: Mapping[str, Mapping[str, Any]]) -> str | None:
    """batch-router polling against batch-router on job events, at one N; None unless both ran."""
    poll, events = runs.get(BATCH_ROUTER), runs.get(BATCH_ROUTER_EVENTS)
    if poll is None or events is None:
        return None
    labels = {f.key: f for f in FIGURES}
    header = ("figure", "poll path", "event path", "events/poll")
    rows = [("run", status_text(poll), status_text(events), "")]
    for key in PATH_FIGURES:
        figure = labels[key]
        ours, theirs = events["figures"].get(key), poll["figures"].get(key)
        ratio = "" if key in NO_RATIO else format_ratio(ours, theirs, figure.digits)
        rows.append(
            (figure.label, format_value(theirs, figure.digits), format_value(ours, figure.digits), ratio)
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([cells[0].ljust(widths[0]), *rest])

    title = f"N = {size:,}: batch-router's two paths to a job's state (DescribeJobs sweeps, job events)"
    return "\n".join([title, line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def render_report(document: Mapping[str, Any]) -> str:
    by_size: dict[int, dict[str, Mapping[str, Any]]] = {}
    for run in document["runs"]:
        by_size.setdefault(int(run["size"]), {})[str(run["executor"])] = run
    parts = [render_table(size, runs, document["config"]) for size, runs in sorted(by_size.items())]
    parts += [t for size, runs in sorted(by_size.items()) if (t := render_paths(size, runs)) is not None]
    machine = document.get("machine", {})
    if machine:
        parts.append(
            f"machine: {machine.get('cpu_model', '?')}, {machine.get('cpus', '?')} CPUs, "
            f"{machine.get('memory_gib', '?')} GiB, {machine.get('platform', '?')}, "
            f"Python {machine.get('python', '?')}"
        )
    return "\n\n".join(parts)
