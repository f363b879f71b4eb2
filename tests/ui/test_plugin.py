"""Airflow finds the page: the plugin entry point, the nav entry, the app mounted by the API server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from batch_router.ui.plugin import PAGE_ROUTE, TRIES_ROUTE


def test_airflow_loads_the_plugin_with_the_page_in_its_navigation() -> None:
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    ours = [p for p in plugins if p.name == "batch_router"]
    assert len(ours) == 1, errors
    nav, tab = ours[0].react_apps
    assert (nav["destination"], nav["url_route"]) == ("nav", PAGE_ROUTE)
    assert (tab["destination"], tab["url_route"]) == ("task_instance", TRIES_ROUTE)
    assert nav["bundle_url"] == tab["bundle_url"] == "/batch-router/static/plugin.js"


def test_airflows_api_server_serves_the_page_and_guards_its_data(
    airflow_auth: Any, token_for: Callable[[str], str]
) -> None:
    from airflow.api_fastapi.app import create_app

    with TestClient(create_app("core")) as client:
        page = client.get("/batch-router/")
        script = client.get("/batch-router/static/plugin.js")
        anonymous = client.get("/batch-router/ui/routes")
        client.cookies.set("_token", token_for("viewer"))
        signed_in = client.get("/batch-router/ui/routes")

    assert page.status_code == 200 and 'src="static/standalone.js"' in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert anonymous.status_code == 401
    assert signed_in.status_code == 503  # signed in; batch-router is not configured in this test
