"""What every command shares: the ``--exec-config`` argument, problem lines, the placeholder command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_router.config.input_limits import MAX_EXEC_CONFIG_BYTES
from batch_router.errors import BatchRouterError, ProblemsError

if TYPE_CHECKING:
    pass

# A file may hold comments and indentation the JSON it stands for does not: room for four times it.
MAX_EXEC_CONFIG_FILE_BYTES = 4 * MAX_EXEC_CONFIG_BYTES
PLAN_COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "<workload>"]


def exec_config_arg(value: str) -> tuple[str, Any]:
    """``--exec-config`` takes JSON inline or ``@path`` to a JSON/YAML file."""
    try:
        return _exec_config_arg(value)
    except RecursionError:
        raise argparse.ArgumentTypeError("nested too deeply to read (a SubmitJob is 7 levels deep)") from None


def _exec_config_arg(value: str) -> tuple[str, Any]:
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            with path.open("rb") as stream:  # bounded: @/dev/zero or a huge file stops at the cap
                raw = stream.read(MAX_EXEC_CONFIG_FILE_BYTES + 1)
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_EXEC_CONFIG_FILE_BYTES:
            raise argparse.ArgumentTypeError(
                f"{path} is larger than {MAX_EXEC_CONFIG_FILE_BYTES // 1024} KiB; an executor_config is "
                f"at most {MAX_EXEC_CONFIG_BYTES // 1024} KiB as JSON"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise argparse.ArgumentTypeError(f"{path} is not UTF-8 text") from None
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                return str(path), yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise argparse.ArgumentTypeError(f"{path} is not valid YAML: {exc}") from None
        try:
            return str(path), json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    try:
        return "--exec-config", json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg} (use @file for a file)") from None


def print_problems(err: BatchRouterError) -> None:
    if isinstance(err, ProblemsError):
        for line in err.lines():
            print(f"{err.source}: {line}")
    else:
        print(str(err))
