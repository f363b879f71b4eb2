"""Fixtures for the Batch routes page's endpoints: moto in-process, Airflow's own auth, a real database.

The app under test is batch-router's FastAPI app as Airflow's API server mounts it, with Airflow's
security dependencies (JWT from the ``_token`` cookie or a bearer header) and an auth manager that
grants DAGs per user (``PerDagAuthManager``: Airflow's simple auth manager, with one user who may read
only some DAGs), so authorization per DAG is tested through Airflow's interface, not around it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parents[1] / "executor"))

from batch_world import BatchWorld, hold_jobs

from batch_router.dev.local import job_definition_revisions, queue_snapshot

JWT_SECRET = "batch-router-ui-test-secret-" * 4


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchWorld]:
    hold_jobs(monkeypatch)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    job_definition_revisions.install()
    queue_snapshot.install()  # moto does not answer GetJobQueueSnapshot; the local Batch does
    try:
        with mock_aws():
            yield BatchWorld()
    finally:
        job_definition_revisions.uninstall()
        queue_snapshot.uninstall()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's tables in this test process's own SQLite file (revoked tokens, task instances, logs)."""
    import airflow.models  # every model, so each foreign key finds its table
    from airflow import settings
    from airflow.models.base import Base

    airflow.models.import_all_models()
    settings.configure_orm()
    Base.metadata.create_all(settings.engine)


@pytest.fixture
def airflow_auth(monkeypatch: pytest.MonkeyPatch, airflow_db: None) -> Iterator[Any]:
    """Airflow's auth manager for this test (``per_dag_auth.PerDagAuthManager``), made as the API server
    makes it."""
    from airflow.api_fastapi import app as airflow_app

    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "per_dag_auth.PerDagAuthManager")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    airflow_app.purge_cached_app()
    manager = airflow_app.create_auth_manager()
    manager.init()
    yield manager
    airflow_app.purge_cached_app()


@pytest.fixture
def token_for(airflow_auth: Any) -> Callable[[str], str]:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    def token(username: str) -> str:
        return str(airflow_auth.generate_jwt(SimpleAuthManagerUser(username=username, role="viewer")))

    return token
