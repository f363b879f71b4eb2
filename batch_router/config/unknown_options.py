"""Options set in ``[aws_batch_executor]`` that nobody reads: a typo there is otherwise silently ignored.

``AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_RATE_LIMT=10`` changes nothing and says nothing, so the scheduler
runs at the default rate while its operator believes it is capped. The section is shared with the amazon
provider (its AwsBatchExecutor reads the same options), so its options count as known too; the caller
reads them from that provider's own metadata (``provider_info``) rather than a copy here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from batch_router.config.schema_problems import did_you_mean
from batch_router.config.settings import OPTION_NAMES, SECTION, ExecutorSettings
from batch_router.errors import Problem

__all__ = ["options_set", "our_options", "unknown_option_problems"]

_SUFFIXES = ("_cmd", "_secret")  # Airflow's command and secrets-backend forms of any option


def our_options() -> frozenset[str]:
    """Every option name of the section batch-router reads, lower case (aliases included)."""
    return frozenset(
        name for field in ExecutorSettings.model_fields for name in OPTION_NAMES.get(field, (field,))
    )


def options_set(
    environ: Mapping[str, str], cfg_options: Iterable[str] = (), team_name: str | None = None
) -> dict[str, str]:
    """Option (lower case) -> where it was set: environment variables of the section, airflow.cfg keys."""
    team = f"{team_name.upper()}___" if team_name else ""
    prefix = f"AIRFLOW__{team}{SECTION.upper()}__"
    found = {name[len(prefix) :].lower(): name for name in environ if name.startswith(prefix)}
    for option in cfg_options:
        found.setdefault(option.lower(), f"[{SECTION}] {option.lower()} in airflow.cfg")
    return found


def unknown_option_problems(set_options: Mapping[str, str], known: frozenset[str]) -> list[Problem]:
    """One problem per option nobody reads, naming where it was set and the option it likely meant."""
    problems = []
    for option, origin in sorted(set_options.items()):
        base = next((option[: -len(s)] for s in _SUFFIXES if option.endswith(s)), option)
        if base in known:
            continue
        hint = did_you_mean(base.upper(), sorted(name.upper() for name in known))
        problems.append(
            Problem(origin, f"{base.upper()} is not an option of [{SECTION}]; it is ignored", hint)
        )
    return problems
