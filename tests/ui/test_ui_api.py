"""The Batch routes page's endpoints, against moto and Airflow's own authentication and authorization."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from batch_world import BatchWorld
from fastapi.testclient import TestClient

from batch_router.aws.batch_client import BatchClient
from batch_router.plan.configured import configured_plan
from batch_router.plan.model import TaskIdentity
from batch_router.ui.api import MAX_PAGE
from batch_router.ui.app import create_app
from batch_router.ui.state import make_state

ROUTES = {
    "version": 1,
    "default_route": "small",
    "routes": [
        {
            "name": "small",
            "compute": "fargate",
            "job_queue": "q-small",
            "job_definition": "jd-small",
            "max_vcpu": 4,
            "max_memory_mib": 8192,
            "queues": ["default"],
        },
        {
            "name": "spot",
            "compute": "ec2",
            "job_queue": "q-spot",
            "job_definition": "jd-spot",
            "max_vcpu": 16,
            "max_memory_mib": 65536,
            "queues": ["heavy"],
        },
    ],
}


@pytest.fixture
def routes_configured(world: BatchWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world.queue("q-small")
    world.queue("q-spot", compute="SPOT")
    world.job_definition("jd-small")
    world.job_definition("jd-spot", fargate=False)
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__ROUTES", json.dumps(ROUTES))
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__REGION_NAME", "us-east-1")
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__UI_REFRESH_SECONDS", "1")


@pytest.fixture
def client(routes_configured: None, airflow_auth: Any) -> Iterator[TestClient]:
    app = create_app()
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def submit(world: BatchWorld, routes_configured: None) -> Callable[..., str]:
    """Submit a job exactly as the executor builds it for a try (Plan.build), and return its id."""
    plan = configured_plan(None).plan

    def submit_(
        dag_id: str, task_id: str, *, queue: str = "default", try_number: int = 1, run: str = "r1"
    ) -> str:
        identity = TaskIdentity(
            dag_id, task_id, run, try_number, try_id=f"{dag_id}-{task_id}-{run}-{try_number}"
        )
        built = plan.build(identity=identity, executor_config=None, queue=queue, command=["true"])
        return str(world.batch.submit_job(**built.kwargs)["jobId"])

    return submit_


def get(client: TestClient, path: str, token: str | None, **params: Any) -> Any:
    client.cookies.clear()
    if token:
        client.cookies.set("_token", token)
    return client.get(path, params=params)


@pytest.mark.parametrize("path", ["/ui/routes", "/ui/jobs", "/ui/charts"])
def test_an_anonymous_request_gets_401_and_no_data(client: TestClient, path: str) -> None:
    answer = get(client, path, None)
    assert answer.status_code == 401
    assert set(answer.json()) == {"detail"}


def test_a_token_that_airflow_did_not_sign_is_refused(client: TestClient) -> None:
    answer = client.get("/ui/routes", headers={"Authorization": "Bearer not.a.jwt"})
    assert answer.status_code == 403


def test_routes_lists_every_route_with_its_queue_and_counts_by_status(
    client: TestClient, token_for: Callable[[str], str], submit: Callable[..., str], world: BatchWorld
) -> None:
    running = submit("team_a_dag", "t1")
    world.run(running)
    failed = submit("team_a_dag", "t2")
    world.fail(failed, "Essential container in task exited", started=True, exit_code=3)
    submit("team_b_dag", "t3", queue="heavy")

    answer = get(client, "/ui/routes", token_for("viewer")).json()

    rows = {row["name"]: row for row in answer["routes"]}
    assert list(rows) == ["small", "spot"]
    assert rows["small"]["counts"]["RUNNING"] == 1
    assert rows["small"]["counts"]["FAILED"] == 1
    assert rows["spot"]["counts"]["SUBMITTED"] == 1
    assert rows["small"]["queue_state"] == "ENABLED"
    assert rows["spot"]["spot"] == "yes" and rows["small"]["spot"] == "no"
    assert rows["small"]["default"] is True
    assert rows["small"]["capacity_in_use"] == [{"unit": "VCPU", "quantity": 1.0}]  # the running job
    assert answer["error"] is None and answer["left_out"] == []


def test_jobs_shows_reason_exit_code_and_links_of_a_failed_job(
    client: TestClient, token_for: Callable[[str], str], submit: Callable[..., str], world: BatchWorld
) -> None:
    failed = submit("team_a_dag", "t2")
    world.fail(failed, "Essential container in task exited", started=True, exit_code=3)

    job = get(client, "/ui/jobs", token_for("viewer"), route="small").json()["jobs"][0]

    assert job["job_id"] == failed
    assert job["status"] == "FAILED"
    assert job["status_reason"] == "Essential container in task exited"
    assert job["exit_code"] == 3
    assert job["console_url"].endswith(f"#jobs/detail/{failed}")
    assert job["log_url"] is not None and "log-events" in job["log_url"]
    assert job["task_instance_url"] == "/dags/team_a_dag/runs/r1/tasks/t2?try_number=1"


def test_a_user_sees_only_the_jobs_of_dags_airflow_lets_them_read(
    client: TestClient, token_for: Callable[[str], str], submit: Callable[..., str]
) -> None:
    submit("team_a_dag", "t1")
    submit("team_b_dag", "t1")

    seen_by_limited = get(client, "/ui/jobs", token_for("limited")).json()
    seen_by_viewer = get(client, "/ui/jobs", token_for("viewer")).json()

    assert {j["dag_id"] for j in seen_by_limited["jobs"]} == {"team_a_dag"}
    assert seen_by_limited["total_entries"] == 1
    assert {j["dag_id"] for j in seen_by_viewer["jobs"]} == {"team_a_dag", "team_b_dag"}


def test_a_task_instance_of_a_dag_the_user_may_not_read_is_refused(
    client: TestClient, token_for: Callable[[str], str]
) -> None:
    answer = get(
        client, "/ui/task-instance", token_for("limited"), dag_id="team_b_dag", run_id="r1", task_id="t1"
    )
    assert answer.status_code == 403


def test_jobs_are_paged_newest_first_and_the_page_size_is_bounded(
    client: TestClient, token_for: Callable[[str], str], submit: Callable[..., str]
) -> None:
    ids = [submit("team_a_dag", f"t{i}") for i in range(5)]

    first = get(client, "/ui/jobs", token_for("viewer"), limit=2, offset=0).json()
    second = get(client, "/ui/jobs", token_for("viewer"), limit=2, offset=2).json()
    too_big = get(client, "/ui/jobs", token_for("viewer"), limit=MAX_PAGE + 1)

    assert first["total_entries"] == 5
    assert len(first["jobs"]) == 2 and len(second["jobs"]) == 2
    assert not {j["job_id"] for j in first["jobs"]} & {j["job_id"] for j in second["jobs"]}
    assert set(ids) >= {j["job_id"] for j in first["jobs"] + second["jobs"]}
    assert too_big.status_code == 422


def test_an_unknown_route_or_status_is_a_clear_client_error(
    client: TestClient, token_for: Callable[[str], str]
) -> None:
    assert get(client, "/ui/jobs", token_for("viewer"), route="nope").status_code == 404
    assert get(client, "/ui/jobs", token_for("viewer"), status="DONE").status_code == 422


def test_one_refresh_serves_every_request_until_it_is_due(
    client: TestClient, token_for: Callable[[str], str], submit: Callable[..., str], world: BatchWorld
) -> None:
    submit("team_a_dag", "t1")
    token = token_for("viewer")
    first = get(client, "/ui/routes", token).json()
    for _ in range(5):
        again = get(client, "/ui/routes", token).json()
        assert again["refreshed_ms"] == first["refreshed_ms"]
    # DescribeJobQueues, DescribeComputeEnvironments, a snapshot and 3 listings per queue, one DescribeJobs
    assert first["aws_calls_last_refresh"] == 1 + 1 + (1 + 3) * 2 + 1


def test_a_refresh_never_makes_more_aws_calls_than_its_budget(
    client: TestClient,
    token_for: Callable[[str], str],
    submit: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(3):
        submit("team_a_dag", f"t{i}")
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__UI_MAX_AWS_CALLS", "5")
    app = create_app()
    with TestClient(app) as limited:
        answer = get(limited, "/ui/routes", token_for("viewer")).json()
    assert answer["aws_calls_last_refresh"] <= 5
    assert answer["left_out"], "what did not fit is named"


def test_when_aws_does_not_answer_the_page_says_so_and_stays_up(
    routes_configured: None,
    airflow_auth: Any,
    token_for: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreachable(**kwargs: Any) -> BatchClient:
        import boto3
        from botocore.config import Config

        def make(service: str, config: Config) -> Any:
            config = config.merge(Config(connect_timeout=0.5, retries={"total_max_attempts": 1}))
            return boto3.client(
                service, endpoint_url="http://127.0.0.1:9", region_name="us-east-1", config=config
            )

        return BatchClient(make_client=make, **kwargs)

    app = create_app()
    app.state.batch_router_ui_factory = lambda: make_state(unreachable)
    with TestClient(app) as test_client:
        routes = get(test_client, "/ui/routes", token_for("viewer"))
        jobs = get(test_client, "/ui/jobs", token_for("viewer"))
        page = test_client.get("/")

    assert routes.status_code == 200 and jobs.status_code == 200
    assert "DescribeJobQueues failed" in routes.json()["error"]
    assert [r["name"] for r in routes.json()["routes"]] == ["small", "spot"]
    assert page.status_code == 200 and "Batch routes" in page.text


def test_an_api_server_without_batch_router_settings_answers_503_saying_why(
    airflow_auth: Any, token_for: Callable[[str], str]
) -> None:
    with TestClient(create_app()) as test_client:
        answer = get(test_client, "/ui/routes", token_for("viewer"))
    assert answer.status_code == 503
    assert "not configured" in answer.json()["detail"]
