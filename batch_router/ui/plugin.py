"""The Airflow plugin that puts the Batch routes page in Airflow's UI (registered by the provider).

Airflow 3.1+ reads ``fastapi_apps`` only in the API server, which mounts the app at ``/batch-router``;
the page is an external view in the navigation ("Browse" > "Batch routes"), shown inside Airflow's UI
at ``/plugin/batch-routes``, same origin, so it is called with the user's own session. Every process
loads plugins (the scheduler, the DAG processor, task runners): the app is only made when the API
server asks for it, so none of them imports FastAPI's security layer or reads the route table for it.
"""

from __future__ import annotations

import functools
from typing import Any

from airflow.plugins_manager import AirflowPlugin

__all__ = ["PAGE_ROUTE", "BatchRouterPlugin", "base_path"]

PAGE_ROUTE = "batch-routes"


def base_path(path: str) -> str:
    """``path`` under Airflow's ``[api] base_url`` (a full URL or a path), as the UI links must be."""
    from urllib.parse import urlparse

    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="/") or "/"
    if base.startswith(("http://", "https://")):
        base = urlparse(base).path
    return base.rstrip("/") + path


@functools.cache
def _apps() -> list[dict[str, Any]]:
    from batch_router.ui.app import URL_PREFIX, create_app

    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "batch-router"}]


class BatchRouterPlugin(AirflowPlugin):
    name = "batch_router"

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return _apps()

    @property
    def external_views(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [
            {
                "name": "Batch routes",
                "href": base_path("/batch-router/"),
                "destination": "nav",
                "category": "browse",
                "url_route": PAGE_ROUTE,
                "icon": base_path("/batch-router/static/icon.svg"),
            }
        ]
