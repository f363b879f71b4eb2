"""``python -m benchmarks.soak``: thousands of tasks through the executor under faults and restarts.

    python -m benchmarks.soak                      # 5,000 tasks; faults above, then below botocore's retries
    python -m benchmarks.soak --tasks 2000 --modes standard,adaptive
    python -m benchmarks.soak --smoke              # small: what CI runs

Each configuration runs in its own process (moto in-process, a clean environment) and reports lost
tasks, duplicate jobs, exceptions out of the executor, wrong outcomes and stalls. The table is printed
and every figure written to benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.soak.run import JOB_DEFINITION, QUEUE, add_run_options, run_argv

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "results" / "soak.json"
COLUMNS = (
    ("layer", "faults"),
    ("retry_mode", "retry mode"),
    ("tasks", "tasks"),
    ("restarts", "restarts"),
    ("wall_seconds", "wall s"),
    ("longest_stall_seconds", "longest stall s"),
    ("not_final", "lost"),
    ("duplicate_jobs", "duplicate jobs"),
    ("reported_twice", "reported twice"),
    ("wrong_outcomes", "wrong outcomes"),
    ("escaped", "exceptions out"),
    ("gave_up_under_faults", "attempts used up"),
)
# What a run must show; "gave up" is reported, not judged (it depends on the fault rate).
MUST_BE_ZERO = ("not_final", "duplicate_jobs", "reported_twice", "wrong_outcomes", "escaped")


def run_env(home: str, retry_mode: str, poll_interval: float) -> dict[str, str]:
    """A clean environment: nothing of the caller's Airflow or AWS configuration leaks in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AWS_")) and k != "AIRFLOW_HOME"
    }
    env.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # one INFO line per task costs the loop
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{os.path.join(home, 'airflow.db')}",
            "AIRFLOW__API_AUTH__JWT_SECRET": "soak-only-secret-" * 4,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws"}),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_QUEUE": QUEUE,
            "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_DEFINITION": JOB_DEFINITION,
            "AIRFLOW__AWS_BATCH_EXECUTOR__REGION_NAME": "us-east-1",
            "AIRFLOW__AWS_BATCH_EXECUTOR__POLL_INTERVAL": str(poll_interval),
        }
    )
    if retry_mode != "default":
        env["AIRFLOW__AWS_BATCH_EXECUTOR__RETRY_MODE"] = retry_mode
    return env


def run_one(layer: str, retry_mode: str, options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soak-") as home:
        out = Path(home) / "result.json"
        command = [sys.executable, "-m", "benchmarks.soak.run", "--layer", layer, "--retry-mode", retry_mode]
        command += [*run_argv(options), "--out", str(out)]
        log = Path(home) / "run.log"
        with log.open("w") as stream:
            done = subprocess.run(
                command, env=run_env(home, retry_mode, options.poll_interval), stdout=stream, stderr=stream
            )
        if done.returncode != 0 or not out.exists():
            tail = log.read_text(errors="replace")[-3000:]
            return {"layer": layer, "retry_mode": retry_mode, "error": f"exit {done.returncode}: {tail}"}
        result: dict[str, Any] = json.loads(out.read_text())
        result["escaped"] = sum(result["escaped_exceptions"].values())
        return result


def render(results: list[dict[str, Any]]) -> str:
    rows = [[label for _, label in COLUMNS]]
    rows += [[str(result.get(key, "error")) for key, _ in COLUMNS] for result in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def problems(results: list[dict[str, Any]]) -> list[str]:
    found = []
    for result in results:
        name = f"{result['layer']} / {result['retry_mode']}"
        if "error" in result:
            found.append(f"{name}: the run failed: {result['error']}")
            continue
        found += [f"{name}: {key} = {result[key]}" for key in MUST_BE_ZERO if result[key]]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="above,below", help="where faults are injected, comma-separated")
    parser.add_argument("--modes", default="default", help="RETRY_MODE values to compare, or 'default'")
    add_run_options(parser)
    parser.add_argument("--poll-interval", type=float, default=2.0, help="the executor's POLL_INTERVAL")
    parser.add_argument("--smoke", action="store_true", help="a small run for CI")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    options = parser.parse_args(argv)
    if options.smoke:
        options.tasks, options.run_after, options.finish_after = 60, 0.3, 0.5
        options.poll_interval, options.deadline, options.spell_every = 0.3, 240.0, 4.0
    results = [
        run_one(layer, mode, options)
        for layer in options.layers.split(",")
        for mode in options.modes.split(",")
    ]
    print(render(results))
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    found = problems(results)
    for problem in found:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
