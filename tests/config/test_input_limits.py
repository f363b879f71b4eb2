"""Bad input costs one task, never the scheduler: odd values are refused before anything reads them."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from batch_router import examples
from batch_router.cli import main
from batch_router.config.exec_config import parse_exec_config
from batch_router.config.input_limits import MAX_DEPTH, MAX_EXEC_CONFIG_BYTES, input_problems
from batch_router.errors import MAX_LISTED, MAX_TEXT, ExecConfigError, Problem, ProblemsError


def refused(raw: Any) -> str:
    with pytest.raises(ExecConfigError) as caught:
        parse_exec_config(raw)
    return str(caught.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_number_json_has_no_value_for_is_refused(value: float) -> None:
    assert "which JSON has no value for" in refused({"vcpu": value})


def test_an_integer_too_large_for_a_float_is_refused() -> None:
    assert "too large for a float" in refused({"memory_mib": 10**400})


def test_a_value_that_is_not_json_is_refused() -> None:
    assert "is a set, not a JSON value" in refused({"tags": {"a": {1, 2}}})


def test_a_config_nested_deeper_than_the_cap_is_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(MAX_DEPTH + 1):
        node["a"] = {}
        node = node["a"]
    assert f"nested more than {MAX_DEPTH} levels deep" in refused({"tags": deep})


def test_a_config_at_the_depth_cap_is_not_refused_for_its_depth() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(MAX_DEPTH - 1):
        node["a"] = {}
        node = node["a"]
    assert input_problems(deep) == []


def test_a_config_larger_than_a_submit_job_request_is_refused() -> None:
    assert "larger than" in refused({"tags": {"big": "x" * MAX_EXEC_CONFIG_BYTES}})


def test_a_config_just_under_the_size_cap_is_not_refused_for_its_size() -> None:
    assert input_problems({"k": "x" * (MAX_EXEC_CONFIG_BYTES - 100)}) == []


class CountingDict(dict[str, int]):
    """A dict that counts how many of its entries were read."""

    read = 0

    def items(self) -> Any:
        for key, value in super().items():
            CountingDict.read += 1
            yield key, value


def test_the_size_check_stops_early_on_a_huge_config() -> None:
    huge = CountingDict({f"key{i}": i for i in range(1_000_000)})
    CountingDict.read = 0

    problems = input_problems(huge)

    assert [p.message for p in problems] == [f"is larger than {MAX_EXEC_CONFIG_BYTES:,} bytes as JSON"]
    assert CountingDict.read < MAX_EXEC_CONFIG_BYTES  # what 30 KiB holds, not the million entries


def test_a_one_megabyte_bad_key_gives_a_bounded_message() -> None:
    text = refused({"x" * 1_000_000: 1})
    assert len(text) < 2_000


def test_problems_beyond_the_cap_are_counted_not_listed() -> None:
    error = ProblemsError("src", [Problem(f"p{i}", "bad") for i in range(MAX_LISTED + 5)])
    lines = error.lines()
    assert len(lines) == MAX_LISTED + 1
    assert lines[-1] == "... and 5 more problems"


def test_a_long_message_is_cut_saying_how_much_was_left_out() -> None:
    rendered = Problem("p", "m" * (MAX_TEXT + 50)).render()
    assert rendered.endswith("... (50 more characters)")


@pytest.mark.parametrize("raw", ['{"vcpu": NaN}', '{"vcpu": Infinity}', '{"memory_mib": 1e999}'])
def test_validate_and_plan_agree_on_odd_numbers(raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    routes = str(examples.ROUTES_FILE)
    assert main(["validate", routes, "--exec-config", raw]) == 1
    validate_out = capsys.readouterr().out
    assert main(["plan", "--routes", routes, "--exec-config", raw, "--json"]) == 1
    plan_out = json.loads(capsys.readouterr().out)
    [task] = plan_out["tasks"]
    assert task["ok"] is False
    assert "vcpu" in validate_out or "memory_mib" in validate_out
    assert ("no value for" in task["error"]) == ("no value for" in validate_out)
