"""Paths under Airflow's ``[api] base_url``: the plugin's files and the page's links back into Airflow."""

from __future__ import annotations

__all__ = ["base_path"]


def base_path(path: str) -> str:
    """``path`` under Airflow's ``[api] base_url`` (a full URL or a path), as the UI links must be."""
    from urllib.parse import urlparse

    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="/") or "/"
    if base.startswith(("http://", "https://")):
        base = urlparse(base).path
    return base.rstrip("/") + path
