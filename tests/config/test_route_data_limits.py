"""Route data gets the same input limits as executor_config: a NaN cap would let any size through,
and a document nested thousands deep is a one-line error, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_router.config.routes import read_route_file, route_table_from_settings
from batch_router.config.settings import MappingConf, load_settings
from batch_router.errors import ConfigError

ROUTE = {"name": "r", "compute": "ec2", "job_queue": "q", "job_definition": "jd"}


def test_a_nan_cap_in_a_json_route_file_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text('{"version": 1, "routes": [{"name": "r", "compute": "ec2", "job_queue": "q", '
                    '"job_definition": "jd", "max_vcpu": NaN}]}')  # fmt: skip

    with pytest.raises(ConfigError, match=r"routes\[0\]\.max_vcpu: is nan"):
        read_route_file(path)


def test_a_nan_cap_in_a_yaml_route_file_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        "version: 1\nroutes:\n  - {name: r, compute: ec2, job_queue: q, job_definition: jd, max_vcpu: .nan}\n"
    )

    with pytest.raises(ConfigError, match=r"routes\[0\]\.max_vcpu"):
        read_route_file(path)


def test_an_infinite_cap_in_the_inline_routes_setting_stops_start_up() -> None:
    inline = json.dumps({"version": 1, "routes": [{**ROUTE, "max_memory_mib": float("inf")}]})

    with pytest.raises(ConfigError, match=r"routes\[0\]\.max_memory_mib"):
        route_table_from_settings(load_settings(MappingConf({"routes": inline})))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_route_file_nested_thousands_deep_is_a_one_line_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"routes{suffix}"
    path.write_text("[" * 100_000 + "]" * 100_000)

    with pytest.raises(ConfigError) as raised:
        read_route_file(path)

    assert len(raised.value.problems) == 1
    assert "nest" in str(raised.value)


def test_a_deeply_nested_json_setting_is_a_settings_problem() -> None:
    with pytest.raises(ConfigError, match="SUBMIT_JOB_KWARGS: is nested too deeply to read"):
        load_settings(
            MappingConf({"job_queue": "q", "job_definition": "jd", "submit_job_kwargs": "[" * 100_000})
        )
