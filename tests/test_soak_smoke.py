"""The soak (benchmarks/soak) in its small CI configuration: faults above and below botocore's retries,
two scheduler restarts, and nothing lost, run twice, reported twice, wrong or thrown out of the executor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    output = tmp_path_factory.mktemp("soak") / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--smoke", f"--output={output}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    return done, json.loads(output.read_text()) if output.exists() else []


def test_the_small_soak_loses_duplicates_and_misreports_nothing(
    soak: tuple[subprocess.CompletedProcess[str], list[Any]],
) -> None:
    done, results = soak

    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["layer"] for r in results] == ["above", "below"]
    for result in results:
        assert (result["not_final"], result["duplicate_jobs"], result["wrong_outcomes"]) == (0, 0, 0)
        assert result["reported_twice"] == 0 and result["escaped_exceptions"] == {}


def test_the_small_soak_injects_every_kind_of_fault_and_restarts_the_scheduler_twice(
    soak: tuple[subprocess.CompletedProcess[str], list[Any]],
) -> None:
    _, results = soak
    injected = {kind for result in results for kind in result["faults_injected"]}

    assert {
        f"{layer}:{kind}" for layer in ("above", "below") for kind in ("throttle", "server", "connection")
    } <= injected
    assert "credentials" in injected
    assert [r["restarts"] for r in results] == [2, 2]
    assert all(r["died_before_start"] > 0 for r in results)
