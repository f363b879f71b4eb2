"""`plan` and `validate` answer for the configuration the executor would run with, not an example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from batch_router import examples
from batch_router.cli import main

SEED = {
    "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_QUEUE": "airflow-queue",
    "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_DEFINITION": "airflow-worker",
    "AIRFLOW__AWS_BATCH_EXECUTOR__JOB_NAME": "airflow-task",
    "AIRFLOW__AWS_BATCH_EXECUTOR__REGION_NAME": "us-east-1",
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def seed_options(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SEED.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("seed_options")
def test_plan_without_routes_uses_the_implicit_route_of_the_seed_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "plan", "--json", "--exec-config", '{"jobQueue": "gpu-queue"}')

    answer = json.loads(out)
    assert code == 0
    assert answer["routes_source"] == "the implicit route from JOB_QUEUE / JOB_DEFINITION"
    assert answer["mode"] == "seed"
    assert answer["tasks"][0]["submit_job_kwargs"]["jobQueue"] == "gpu-queue"
    assert answer["tasks"][0]["submit_job_kwargs"]["jobDefinition"] == "airflow-worker"


@pytest.mark.usefixtures("seed_options")
def test_plan_applies_submit_job_kwargs_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_JOB_KWARGS", '{"tags": {"team": "data"}}')

    code, out, _ = _run(capsys, "plan", "--json", "--exec-config", "{}")

    assert code == 0
    assert json.loads(out)["tasks"][0]["submit_job_kwargs"]["tags"]["team"] == "data"


@pytest.mark.usefixtures("seed_options")
def test_plan_text_says_the_source_and_the_mode_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "plan", "--exec-config", "{}")

    assert code == 0
    first, second = out.splitlines()[:2]
    assert first == "routes: the implicit route from JOB_QUEUE / JOB_DEFINITION"
    assert second.startswith("no route table: executor_config may change any SubmitJob argument")


def test_plan_with_nothing_configured_says_it_plans_the_bundled_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "plan", "--exec-config", "{}")

    assert code == 0
    assert out.splitlines()[0].startswith("nothing configured (no ROUTES_FILE, ROUTES or JOB_QUEUE")
    assert str(examples.ROUTES_FILE) in out.splitlines()[0]


def test_plan_uses_the_routes_file_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "routes": [{"name": "only", "compute": "ec2", "job_queue": "q", "job_definition": "d"}],
            }
        )
    )
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__ROUTES_FILE", str(routes))

    code, out, _ = _run(capsys, "plan", "--json", "--exec-config", "{}")

    answer = json.loads(out)
    assert code == 0
    assert answer["routes_source"] == f"the route file {routes}"
    assert answer["tasks"][0]["route"] == "only"


@pytest.mark.usefixtures("seed_options")
def test_validate_without_a_file_checks_the_executors_configuration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "validate")

    assert code == 0
    assert "the implicit route from JOB_QUEUE / JOB_DEFINITION: valid (1 route" in out


@pytest.mark.usefixtures("seed_options")
def test_validate_reports_a_bad_submit_job_kwargs_once_as_its_own_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_JOB_KWARGS", '{"retryStrategy": {"attempts": 20}}'
    )

    code, out, _ = _run(capsys, "validate")

    assert code == 1
    lines = [line for line in out.splitlines() if "attempts" in line]
    assert lines == [
        "executor settings [aws_batch_executor]: SUBMIT_JOB_KWARGS.retryStrategy.attempts: attempts 20 is "
        "outside 1-10 (AWS Batch rule retry-attempts) (hint: use 1 to 10)"
    ]


def test_validate_of_a_route_file_applies_the_settings_start_up_reads(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_JOB_KWARGS", '{"containerOverride": {}}')

    code, out, _ = _run(capsys, "validate", str(examples.ROUTES_FILE))

    assert code == 1
    assert "SUBMIT_JOB_KWARGS.containerOverride" in out
    assert "routes[" not in out


def test_validate_without_a_file_and_nothing_configured_says_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(capsys, "validate")

    assert code == 1
    assert "nothing to check" in err


def _table_file(tmp_path: Path, route: dict[str, object]) -> Path:
    path = tmp_path / "routes.yaml"
    base = {"name": "gpu", "compute": "ec2", "job_queue": "q-gpu", "job_definition": "jd-gpu"}
    path.write_text(yaml.safe_dump({"version": 1, "routes": [{**base, **route}]}))
    return path


def test_validate_reports_what_provision_would_refuse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "validate", str(_table_file(tmp_path, {"max_gpu": 4})))

    assert code == 1
    assert "names no GPU instance family (hint: add provision.instance_types" in out
    assert "batch-router provision would refuse it" in out


def test_validate_warns_of_a_vcpu_cap_the_provisioned_capacity_cannot_hold(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    route = {"max_vcpu": 128, "provision": {"max_vcpus": 16}}

    code, _, err = _run(capsys, "validate", str(_table_file(tmp_path, route)))

    assert code == 0
    assert (
        "allows jobs of 128 vCPU, but the compute environment `provision` makes for it has at most 16" in err
    )


def test_validate_warns_of_more_gpus_than_the_largest_instance_of_the_families_has(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    route = {"max_gpu": 16, "provision": {"instance_types": ["g5"]}}

    code, _, err = _run(capsys, "validate", str(_table_file(tmp_path, route)))

    assert code == 0
    assert "allows jobs of 16 GPUs, but no instance of g5 has more than 8" in err


def test_an_endless_exec_config_file_stops_at_the_size_cap(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["plan", "--exec-config", "@/dev/zero"])

    assert exited.value.code == 2
    assert "/dev/zero is larger than 120 KiB" in capsys.readouterr().err


def test_a_deeply_nested_exec_config_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 50_000 + "]" * 50_000)

    with pytest.raises(SystemExit):
        main(["validate", "--exec-config", f"@{deep}"])

    assert "nested too deeply to read" in capsys.readouterr().err
