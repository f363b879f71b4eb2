"""``iam-policy --role ui`` is exactly what the page calls: every call allowed, nothing granted unused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from batch_world import BatchWorld, Faults, hold_jobs, install
from fastapi.testclient import TestClient
from moto import mock_aws

from batch_router.dev.local import job_definition_revisions, queue_snapshot
from batch_router.plan.configured import configured_plan
from batch_router.plan.model import TaskIdentity
from batch_router.provision.iam_policy import ui_statements
from batch_router.ui.app import create_app
from batch_router.ui.state import state_of
from batch_router.ui.task_tries import TryFacts

ROUTES = {
    "version": 1,
    "routes": [{"name": "only", "compute": "fargate", "job_queue": "q", "job_definition": "jd"}],
}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BatchWorld, Faults]]:
    recorder = Faults()
    install(monkeypatch, recorder)
    hold_jobs(monkeypatch)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__ROUTES", json.dumps(ROUTES))
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__REGION_NAME", "us-east-1")
    job_definition_revisions.install()
    queue_snapshot.install()
    try:
        with mock_aws():
            world = BatchWorld()
            world.queue("q")
            world.job_definition("jd")
            yield world, recorder
    finally:
        job_definition_revisions.uninstall()
        queue_snapshot.uninstall()


def test_the_page_makes_only_the_calls_the_ui_role_allows_and_the_role_allows_no_more(
    recorded: tuple[BatchWorld, Faults], airflow_auth: Any, token_for: Any
) -> None:
    world, recorder = recorded
    plan = configured_plan(None).plan
    identity = TaskIdentity("team_a_dag", "t", "r1", 1, try_id="try-1")
    built = plan.build(identity=identity, executor_config=None, queue="default", command=["true"])
    world.batch.submit_job(**built.kwargs)
    recorder.calls.clear()

    app = create_app()
    with TestClient(app) as client:
        client.cookies.set("_token", token_for("viewer"))
        for path in ("/ui/routes", "/ui/jobs", "/ui/charts"):
            assert client.get(path).status_code == 200
    state = state_of(app)
    assert not isinstance(state, str)
    facts = TryFacts(identity, "failed", "default", None, None, None, None)
    found, error = state.tries.jobs_of([facts], {})  # not in the snapshot: looked up by its name
    assert error is None and found

    called = {f"batch:{operation}" for operation in recorder.calls}
    (statement,) = ui_statements()
    assert called == set(statement["Action"])
    assert statement["Resource"] == ["*"]
