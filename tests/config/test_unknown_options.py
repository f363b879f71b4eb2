"""An option set in [aws_batch_executor] that nobody reads is named, with the option it likely meant."""

from __future__ import annotations

from batch_router.config.unknown_options import options_set, our_options, unknown_option_problems

KNOWN = our_options() | {"conn_id", "job_queue"}


def test_a_misspelt_environment_option_is_named_with_a_did_you_mean() -> None:
    found = options_set({"AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_RATE_LIMT": "10"})

    (problem,) = unknown_option_problems(found, KNOWN)

    assert problem.path == "AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_RATE_LIMT"
    assert "SUBMIT_RATE_LIMT is not an option" in problem.message
    assert problem.hint == "did you mean 'SUBMIT_RATE_LIMIT'?"


def test_known_options_and_their_cmd_and_secret_forms_pass() -> None:
    found = options_set(
        {
            "AIRFLOW__AWS_BATCH_EXECUTOR__ROUTES_FILE": "r.yaml",
            "AIRFLOW__AWS_BATCH_EXECUTOR__CONN_ID": "aws_default",
            "AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_JOB_KWARGS_CMD": "cat kwargs.json",
            "AIRFLOW__CORE__EXECUTOR": "batch_router.executor.BatchRouterExecutor",
        }
    )

    assert unknown_option_problems(found, KNOWN) == []


def test_an_airflow_cfg_key_is_named_by_its_section_and_file() -> None:
    found = options_set({}, ["pol_interval"])

    (problem,) = unknown_option_problems(found, KNOWN)

    assert problem.path == "[aws_batch_executor] pol_interval in airflow.cfg"
    assert problem.hint == "did you mean 'POLL_INTERVAL'?"


def test_a_teams_options_are_read_under_its_own_prefix() -> None:
    found = options_set(
        {"AIRFLOW__ANALYTICS___AWS_BATCH_EXECUTOR__ROUTES_FLE": "r.yaml"}, team_name="analytics"
    )

    assert [p.path for p in unknown_option_problems(found, KNOWN)] == [
        "AIRFLOW__ANALYTICS___AWS_BATCH_EXECUTOR__ROUTES_FLE"
    ]
