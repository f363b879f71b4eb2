"""What Airflow's configuration holds in ``[aws_batch_executor]`` that nobody reads (see
``config.unknown_options``): the options set in this process's environment and airflow.cfg, against
batch-router's own and those the amazon provider declares for the same section.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from batch_router.config.settings import SECTION
from batch_router.config.unknown_options import options_set, our_options, unknown_option_problems
from batch_router.errors import Problem

__all__ = ["unknown_options"]


def amazon_options() -> frozenset[str]:
    """The section's options the amazon provider declares (its AwsBatchExecutor reads them)."""
    try:
        from airflow.providers.amazon.get_provider_info import get_provider_info
    except ImportError:  # a dependency of ours; without it only our own names are known
        return frozenset()
    info: dict[str, Any] = get_provider_info()  # type: ignore[no-untyped-call]
    section = info.get("config", {}).get(SECTION, {})
    return frozenset(str(name).lower() for name in section.get("options", {}))


def cfg_options(conf: Any) -> list[str]:
    """The keys airflow.cfg itself has in the section (not defaults, not the environment)."""
    as_dict = getattr(conf, "as_dict", None)
    if as_dict is None:  # a plain ConfSource (tests, tools): no file behind it
        return []
    sections = as_dict(
        display_source=True,
        display_sensitive=True,
        include_env=False,
        include_cmds=False,
        include_secret=False,
    )
    options = sections.get(SECTION, {}) if isinstance(sections, Mapping) else {}
    return [key for key, (_, source) in options.items() if source == "airflow.cfg"]


def unknown_options(conf: Any = None, team_name: str | None = None) -> list[Problem]:
    """The options this process's environment and airflow.cfg set that nobody reads."""
    if conf is None:
        from airflow.configuration import conf as airflow_conf

        conf = airflow_conf
    found = options_set(os.environ, cfg_options(conf), team_name)
    return unknown_option_problems(found, our_options() | amazon_options())
