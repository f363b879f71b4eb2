"""What process a Batch job stands for: argv and environment from definition, overrides and parameters."""

from __future__ import annotations

import signal
import sys

from batch_router.dev.local.jobspec import container_spec, eks_spec, exit_code_of, resolve_python

DEFINITION = {
    "command": ["echo", "from-definition"],
    "environment": [{"name": "A", "value": "def"}, {"name": "B", "value": "def"}],
}
EKS = {
    "podProperties": {
        "containers": [
            {
                "name": "main",
                "command": ["echo"],
                "args": ["from-definition"],
                "env": [{"name": "A", "value": "def"}, {"name": "B", "value": "def"}],
            }
        ]
    }
}


def test_container_override_command_replaces_the_definitions() -> None:
    spec = container_spec(DEFINITION, {"command": ["echo", "override"]}, {})
    assert spec.argv == ("echo", "override")


def test_container_without_override_runs_the_definitions_command() -> None:
    assert container_spec(DEFINITION, None, {}).argv == ("echo", "from-definition")


def test_container_override_environment_overlays_the_definitions() -> None:
    spec = container_spec(DEFINITION, {"environment": [{"name": "B", "value": "override"}]}, {})
    assert spec.env == {"A": "def", "B": "override"}


def test_parameters_fill_ref_placeholders_in_the_command() -> None:
    spec = container_spec({"command": ["echo", "Ref::greeting"]}, None, {"greeting": "hello"})
    assert spec.argv == ("echo", "hello")


def test_eks_runs_command_then_args_like_kubernetes() -> None:
    assert eks_spec(EKS, None, {}).argv == ("echo", "from-definition")


def test_eks_override_replaces_command_and_args() -> None:
    override = {"podProperties": {"containers": [{"command": ["python"], "args": ["-V"]}]}}
    assert eks_spec(EKS, override, {}).argv == ("python", "-V")


def test_eks_override_command_alone_keeps_the_definitions_args() -> None:
    override = {"podProperties": {"containers": [{"command": ["printf"]}]}}
    assert eks_spec(EKS, override, {}).argv == ("printf", "from-definition")


def test_eks_override_env_overlays_the_definitions() -> None:
    override = {"podProperties": {"containers": [{"env": [{"name": "B", "value": "override"}]}]}}
    assert eks_spec(EKS, override, {}).env == {"A": "def", "B": "override"}


def test_eks_override_naming_another_container_leaves_the_first_alone() -> None:
    override = {"podProperties": {"containers": [{"name": "sidecar", "command": ["false"]}]}}
    assert eks_spec(EKS, override, {}).argv == ("echo", "from-definition")


def test_leading_python_runs_with_this_interpreter() -> None:
    assert resolve_python(["python3", "-c", "pass"]) == [sys.executable, "-c", "pass"]


def test_python_later_in_the_command_is_left_alone() -> None:
    assert resolve_python(["env", "python", "-V"]) == ["env", "python", "-V"]


def test_a_process_killed_by_a_signal_reports_128_plus_the_signal() -> None:
    assert exit_code_of(-signal.SIGKILL) == 128 + signal.SIGKILL


def test_a_normal_exit_code_is_reported_as_is() -> None:
    assert exit_code_of(3) == 3


def test_a_job_does_not_inherit_airflows_token_signing_secret() -> None:
    from batch_router.dev.local.jobspec import inherited_env

    environ = {
        "AIRFLOW__API_AUTH__JWT_SECRET": "s3cret",
        "AIRFLOW__API_AUTH__JWT_SECRET_CMD": "cat /secret",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:8080/execution/",
        "AWS_PROFILE": "prod",
    }

    kept = inherited_env(environ)

    assert "AIRFLOW__CORE__EXECUTION_API_SERVER_URL" in kept
    dropped = {"AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API_AUTH__JWT_SECRET_CMD", "AWS_PROFILE"}
    assert not dropped & kept.keys()
