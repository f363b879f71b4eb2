"""Executor settings: the seed's options, their precedence, and errors that name the option and its origin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_router.config.settings import MappingConf, load_settings
from batch_router.errors import ConfigError

ENV = "AIRFLOW__AWS_BATCH_EXECUTOR__"
REQUIRED = {"job_queue": "q", "job_definition": "d", "region_name": "eu-west-1"}


@pytest.fixture
def airflow_cfg():
    """Write an airflow.cfg [aws_batch_executor] section and load it through Airflow's real conf."""
    from airflow.configuration import conf

    def write(**options: str) -> None:
        for key, value in options.items():
            conf.set("aws_batch_executor", key, value)

    yield write
    if conf.has_section("aws_batch_executor"):
        conf.remove_section("aws_batch_executor")


def test_seed_options_are_read_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{ENV}JOB_QUEUE", "myJobQueue")
    monkeypatch.setenv(f"{ENV}JOB_DEFINITION", "myJobDef")
    monkeypatch.setenv(f"{ENV}JOB_NAME", "myJob")
    monkeypatch.setenv(f"{ENV}REGION_NAME", "eu-central-1")
    monkeypatch.setenv(f"{ENV}MAX_SUBMIT_JOB_ATTEMPTS", "7")
    monkeypatch.setenv(f"{ENV}CHECK_HEALTH_ON_STARTUP", "False")
    monkeypatch.setenv(f"{ENV}SUBMIT_JOB_KWARGS", json.dumps({"tags": {"a": "b"}}))
    settings = load_settings()
    assert (settings.job_queue, settings.job_definition, settings.job_name) == (
        "myJobQueue",
        "myJobDef",
        "myJob",
    )
    assert settings.region_name == "eu-central-1"
    assert settings.max_submit_job_attempts == 7
    assert settings.check_health_on_startup is False
    assert settings.submit_job_kwargs == {"tags": {"a": "b"}}


def test_environment_wins_over_airflow_cfg(monkeypatch: pytest.MonkeyPatch, airflow_cfg) -> None:
    airflow_cfg(job_queue="from-file", job_definition="def-from-file")
    monkeypatch.setenv(f"{ENV}JOB_QUEUE", "from-env")
    settings = load_settings()
    assert settings.job_queue == "from-env"
    assert settings.job_definition == "def-from-file"


def test_airflow_cfg_wins_over_default(airflow_cfg) -> None:
    airflow_cfg(job_queue="q", job_definition="d", max_submit_job_attempts="5")
    assert load_settings().max_submit_job_attempts == 5


def test_defaults_match_the_reference_executor() -> None:
    settings = load_settings(MappingConf(REQUIRED))
    assert settings.aws_conn_id == "aws_default"
    assert settings.max_submit_job_attempts == 3
    assert settings.check_health_on_startup is True
    assert settings.submit_job_kwargs == {}


def test_reference_conn_id_option_is_accepted_as_aws_conn_id() -> None:
    assert load_settings(MappingConf({**REQUIRED, "conn_id": "legacy"})).aws_conn_id == "legacy"


def test_aws_conn_id_is_read_under_its_seed_name() -> None:
    assert load_settings(MappingConf({**REQUIRED, "aws_conn_id": "mine"})).aws_conn_id == "mine"


def test_wrong_type_names_the_option_and_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{ENV}JOB_QUEUE", "q")
    monkeypatch.setenv(f"{ENV}JOB_DEFINITION", "d")
    monkeypatch.setenv(f"{ENV}MAX_SUBMIT_JOB_ATTEMPTS", "three")
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "MAX_SUBMIT_JOB_ATTEMPTS" in text
    assert f"environment variable {ENV}MAX_SUBMIT_JOB_ATTEMPTS" in text
    assert "'three'" in text


def test_wrong_type_in_airflow_cfg_names_the_section_and_key(airflow_cfg) -> None:
    airflow_cfg(job_queue="q", job_definition="d", check_health_on_startup="maybe")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "airflow.cfg [aws_batch_executor] check_health_on_startup" in str(info.value)


def test_submit_job_kwargs_that_is_not_json_is_one_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(MappingConf({**REQUIRED, "submit_job_kwargs": "{containerOverrides: 1}"}))
    [problem] = info.value.problems
    assert problem.path == "SUBMIT_JOB_KWARGS"
    assert "not valid JSON" in problem.message


def test_every_bad_option_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(MappingConf({**REQUIRED, "max_submit_job_attempts": "0", "poll_interval": "-1"}))
    assert {p.path for p in info.value.problems} == {"MAX_SUBMIT_JOB_ATTEMPTS", "POLL_INTERVAL"}


def test_job_queue_and_definition_are_required_without_a_route_table() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(MappingConf({"region_name": "us-east-1"}))
    assert {p.path for p in info.value.problems} == {"JOB_QUEUE", "JOB_DEFINITION"}
    assert "ROUTES_FILE" in str(info.value)


def test_job_queue_is_not_required_with_a_routes_file(tmp_path: Path) -> None:
    settings = load_settings(MappingConf({"routes_file": str(tmp_path / "routes.yaml")}))
    assert settings.routes_file == tmp_path / "routes.yaml"


def test_inline_routes_are_parsed_as_json() -> None:
    settings = load_settings(MappingConf({"routes": '{"version": 1, "routes": []}'}))
    assert settings.routes == {"version": 1, "routes": []}


def test_routes_file_and_inline_routes_together_are_rejected() -> None:
    with pytest.raises(ConfigError, match="ROUTES_FILE and ROUTES are both set"):
        load_settings(MappingConf({"routes_file": "r.yaml", "routes": '{"version": 1}'}))


def test_node_override_is_rejected_because_multi_node_jobs_are_unsupported() -> None:
    with pytest.raises(ConfigError, match="multi-node"):
        load_settings(MappingConf({**REQUIRED, "node_override": '{"numNodes": 2}'}))


def test_snake_case_submit_job_kwargs_are_camelized_like_the_reference_executor() -> None:
    raw = {"container_overrides": {"resource_requirements": []}, "tags": {"cost_center": "x"}}
    settings = load_settings(MappingConf({**REQUIRED, "submit_job_kwargs": json.dumps(raw)}))
    assert settings.base_submit_job_kwargs() == {
        "containerOverrides": {"resourceRequirements": []},
        "tags": {"cost_center": "x"},
    }


def test_team_scoped_environment_variables_are_read_for_a_team(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.executors.base_executor import ExecutorConf

    monkeypatch.setenv(f"{ENV}JOB_QUEUE", "global-q")
    monkeypatch.setenv(f"{ENV}JOB_DEFINITION", "global-d")
    monkeypatch.setenv("AIRFLOW__TEAM_A___AWS_BATCH_EXECUTOR__JOB_QUEUE", "team-a-q")
    monkeypatch.setenv("AIRFLOW__TEAM_A___AWS_BATCH_EXECUTOR__JOB_DEFINITION", "team-a-d")
    settings = load_settings(ExecutorConf("team_a"))
    assert settings.job_queue == "team-a-q"


def test_tuning_options_are_validated_with_their_names() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(MappingConf({"job_queue": "q", "job_definition": "d", "plan_chunk": "0"}))
    assert "PLAN_CHUNK" in str(raised.value)


def test_the_backoff_cap_may_not_be_below_its_base() -> None:
    conf = {"job_queue": "q", "job_definition": "d", "retry_base_seconds": "10", "retry_max_seconds": "5"}
    with pytest.raises(ConfigError, match="RETRY_MAX_SECONDS is below RETRY_BASE_SECONDS"):
        load_settings(MappingConf(conf))
