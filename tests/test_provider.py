"""batch-router is an Airflow provider: its entry point, its executor and the options it reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from batch_router.config.settings import OPTION_NAMES, ExecutorSettings
from batch_router.provider_info import DISTRIBUTION, get_provider_info


def _airflow_schema() -> dict[str, Any]:
    import airflow

    path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_the_provider_info_is_what_airflows_provider_schema_accepts() -> None:
    jsonschema.validate(get_provider_info(), _airflow_schema())


def test_every_option_batch_router_reads_is_declared_with_its_description_type_and_default() -> None:
    options = get_provider_info()["config"]["aws_batch_executor"]["options"]
    names = {OPTION_NAMES.get(field, (field,))[0] for field in ExecutorSettings.model_fields}

    assert set(options) == names
    assert options["poll_interval"]["type"] == "float" and options["poll_interval"]["default"] == "5.0"
    assert options["check_health_on_startup"] == options["check_health_on_startup"] | {
        "type": "boolean",
        "default": "True",
    }
    assert all(option["description"] for option in options.values())


@pytest.fixture(scope="module")
def airflow_cli(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")} | {"AIRFLOW_HOME": str(home)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        airflow = Path(sys.executable).parent / "airflow"
        return subprocess.run([str(airflow), *args], env=env, capture_output=True, text=True, timeout=120)

    return run


def test_airflow_lists_batch_router_among_its_providers(airflow_cli: Any) -> None:
    done = airflow_cli("providers", "list", "--output", "json")

    names = [p["package_name"] for p in json.loads(done.stdout)]
    assert DISTRIBUTION in names, done.stderr[-2000:]


def test_airflow_knows_the_executor_and_no_warning_is_printed_about_it(airflow_cli: Any) -> None:
    done = airflow_cli("providers", "executors", "--output", "json")

    assert "batch_router.executor.BatchRouterExecutor" in done.stdout
    assert "missing 'cli' section" not in done.stdout + done.stderr
