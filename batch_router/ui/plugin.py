"""The Airflow plugin that puts the Batch routes page in Airflow's UI (the ``airflow.plugins`` entry point).

Airflow 3.1+ reads ``fastapi_apps`` only in the API server, which mounts the app at ``/batch-router``.
The page is a React app of Airflow's UI (as the edge provider's pages are): "Browse" > "Batch routes"
at ``/plugin/batch-routes``, and a "Batch tries" tab on every task instance's page; Airflow imports
``static/plugin.js`` and renders it with its own React, in its own page, so the page's calls carry the
user's session and its links (to a task instance, to the AWS console) work as any of Airflow's. (An
external view would be an iframe Airflow sandboxes without top navigation or pop-ups: no link out of it
would open.) Every process loads plugins (the scheduler, the DAG processor, task runners): the app is
only made when the API server asks for it, so none of them imports FastAPI's security layer for it.
"""

from __future__ import annotations

import functools
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from batch_router.ui.airflow_paths import base_path

__all__ = ["PAGE_ROUTE", "TRIES_ROUTE", "BatchRouterPlugin"]

PAGE_ROUTE = "batch-routes"
TRIES_ROUTE = "batch-tries"


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
    def react_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        bundle = base_path("/batch-router/static/plugin.js")
        # The names are the ones www/src/plugin.ts puts its component under.
        return [
            {
                "name": "Batch routes",
                "bundle_url": bundle,
                "destination": "nav",
                "category": "browse",
                "url_route": PAGE_ROUTE,
                "icon": base_path("/batch-router/static/icon.svg"),
            },
            {
                "name": "Batch tries",
                "bundle_url": bundle,
                "destination": "task_instance",
                "url_route": TRIES_ROUTE,
            },
        ]
