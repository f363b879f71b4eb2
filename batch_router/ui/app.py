"""The FastAPI app Airflow's API server mounts for the Batch routes page: its endpoints and its files.

The page's files are the built bundle (``static/``, made by ``python -m batch_router.dev.www`` from
``www/``), served as they are; they hold no data, so they need no login. Every answer with data is an
endpoint under ``/ui`` behind Airflow's authentication (ui/api.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from batch_router.ui.api import ui_router

__all__ = ["STATIC", "URL_PREFIX", "create_app"]

URL_PREFIX = "/batch-router"
STATIC = Path(__file__).parent / "static"


def create_app() -> FastAPI:
    app = FastAPI(
        title="batch-router UI API",
        description="Read-only endpoints of the Batch routes page (docs/ui.md). Not a stable API.",
    )
    app.include_router(ui_router, prefix="/ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="batch_router_static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app
