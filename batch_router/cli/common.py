"""What every command shares: the ``--exec-config`` argument, problem lines, the placeholder command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_router.errors import BatchRouterError, ProblemsError

if TYPE_CHECKING:
    pass

PLAN_COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "<workload>"]


def exec_config_arg(value: str) -> tuple[str, Any]:
    """``--exec-config`` takes JSON inline or ``@path`` to a JSON/YAML file."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror or exc}") from None
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
