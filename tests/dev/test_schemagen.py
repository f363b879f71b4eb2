from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.model import ServiceModel
from botocore.validate import ParamValidator
from jsonschema import Draft202012Validator

from batch_router.config.model import HINT_KEYS
from batch_router.config.schemas import schema_dir
from batch_router.dev import schemagen

GENERATED = (schemagen.SUBMIT_JOB_FILE, schemagen.EXEC_CONFIG_FILE)

ECS_REQUEST: dict[str, Any] = {
    "jobName": "etl-load-2024-01-01",
    "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/ec2-general",
    "jobDefinition": "airflow-task:7",
    "shareIdentifier": "analytics",
    "schedulingPriorityOverride": 50,
    "dependsOn": [{"jobId": "0b6f4ad9-6f5b-4d4f-9d4b-7f3f2b8a1c11", "type": "SEQUENTIAL"}],
    "parameters": {"inputPrefix": "s3://bucket/raw/"},
    "containerOverrides": {
        "command": ["airflow", "tasks", "run", "etl", "load", "manual__2024-01-01"],
        "environment": [{"name": "AIRFLOW_IS_EXECUTOR_CONTAINER", "value": "true"}],
        "resourceRequirements": [
            {"type": "VCPU", "value": "2"},
            {"type": "MEMORY", "value": "4096"},
            {"type": "GPU", "value": "1"},
        ],
    },
    "retryStrategy": {
        "attempts": 2,
        "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"},
        ],
    },
    "propagateTags": True,
    "timeout": {"attemptDurationSeconds": 3600},
    "tags": {"airflow.dag_id": "etl", "airflow.task_id": "load"},
}

EKS_REQUEST: dict[str, Any] = {
    "jobName": "ml-train",
    "jobQueue": "eks-gpu",
    "jobDefinition": "airflow-eks:3",
    "eksPropertiesOverride": {
        "podProperties": {
            "containers": [
                {
                    "name": "main",
                    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow:3.3.2",
                    "command": ["python", "-m", "airflow.sdk.execution_time.execute_workload"],
                    "env": [{"name": "AIRFLOW_IS_EXECUTOR_CONTAINER", "value": "true"}],
                    "resources": {"limits": {"cpu": "1", "memory": "2048Mi"}},
                }
            ],
            "metadata": {"labels": {"team": "ml"}},
        }
    },
}


@pytest.fixture(scope="module")
def batch_model() -> ServiceModel:
    return schemagen.batch_model()


@pytest.fixture(scope="module")
def submit_job_schema(batch_model: ServiceModel) -> dict[str, Any]:
    return schemagen.build_submit_job_schema(batch_model)


@pytest.fixture(scope="module")
def exec_config_schema(batch_model: ServiceModel) -> dict[str, Any]:
    return schemagen.build_exec_config_schema(batch_model)


@pytest.fixture
def committed_copy(tmp_path: Path) -> Path:
    for name in GENERATED:
        shutil.copy(schema_dir() / name, tmp_path / name)
    return tmp_path


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return [error.message for error in Draft202012Validator(schema).iter_errors(instance)]


def test_check_passes_on_the_committed_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    assert schemagen.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("name", GENERATED)
def test_check_fails_when_a_committed_schema_was_edited(
    committed_copy: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = committed_copy / name
    path.write_text(path.read_text(encoding="utf-8").replace('"integer"', '"number"', 1), encoding="utf-8")
    assert schemagen.main(["--check", "--out-dir", str(committed_copy)]) == 1
    err = capsys.readouterr().err
    assert f"{name} is out of date" in err
    assert "python -m batch_router.dev.schemagen" in err


def test_check_fails_when_a_schema_file_is_missing(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (committed_copy / schemagen.EXEC_CONFIG_FILE).unlink()
    assert schemagen.main(["--check", "--out-dir", str(committed_copy)]) == 1
    assert f"{schemagen.EXEC_CONFIG_FILE} is missing" in capsys.readouterr().err


def test_writing_then_checking_an_empty_folder_passes(tmp_path: Path) -> None:
    out = tmp_path / "fresh"
    assert schemagen.main(["--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(GENERATED)
    assert schemagen.main(["--check", "--out-dir", str(out)]) == 0


def test_running_the_module_with_check_exits_1_on_a_stale_file(committed_copy: Path) -> None:
    path = committed_copy / schemagen.SUBMIT_JOB_FILE
    path.write_text(path.read_text(encoding="utf-8") + " ", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "batch_router.dev.schemagen", "--check", "--out-dir", str(committed_copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "out of date" in result.stderr


def test_generation_is_the_same_from_two_separate_botocore_sessions() -> None:
    assert schemagen.generate(schemagen.batch_model()) == schemagen.generate(schemagen.batch_model())


@pytest.mark.parametrize("name", GENERATED)
def test_committed_files_are_sorted_two_space_json_with_a_trailing_newline(name: str) -> None:
    text = (schema_dir() / name).read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_describe_drops_html_and_keeps_the_first_sentence() -> None:
    doc = "<p>Runs the <code>job</code> &amp; waits. Then <b>more</b>.</p><p>Another paragraph.</p>"
    assert schemagen.describe(doc) == "Runs the job & waits."


def test_describe_cuts_a_long_sentence_at_a_word() -> None:
    text = schemagen.describe("<p>" + "word " * 200 + "</p>")
    assert len(text) <= 300
    assert text.endswith("word...")


def test_required_members_are_botocores(submit_job_schema: dict[str, Any], batch_model: ServiceModel) -> None:
    shape = batch_model.operation_model("SubmitJob").input_shape
    assert submit_job_schema["required"] == shape.required_members
    assert set(submit_job_schema["properties"]) == set(shape.members)


def test_every_object_with_properties_forbids_unknown_keys(submit_job_schema: dict[str, Any]) -> None:
    objects = [submit_job_schema, *submit_job_schema["$defs"].values()]
    structures = [body for body in objects if "properties" in body]
    assert len(structures) > 10
    assert all(body["additionalProperties"] is False for body in structures)


def test_enums_and_bounds_come_from_the_model(
    submit_job_schema: dict[str, Any], batch_model: ServiceModel
) -> None:
    requirement = submit_job_schema["$defs"]["ResourceRequirement"]["properties"]["type"]
    assert requirement["enum"] == batch_model.shape_for("ResourceType").enum
    tags = submit_job_schema["$defs"]["TagrisTagsMap"]
    assert tags["maxProperties"] == batch_model.shape_for("TagrisTagsMap").metadata["max"]
    assert tags["propertyNames"]["maxLength"] == batch_model.shape_for("TagKey").metadata["max"]


def test_descriptions_are_plain_text(submit_job_schema: dict[str, Any]) -> None:
    text = json.dumps(submit_job_schema)
    assert "<p>" not in text
    assert "<code>" not in text


@pytest.mark.parametrize("request_", [ECS_REQUEST, EKS_REQUEST], ids=["ecs", "eks"])
def test_submit_job_schema_accepts_a_realistic_full_request(
    submit_job_schema: dict[str, Any], batch_model: ServiceModel, request_: dict[str, Any]
) -> None:
    botocore_report = ParamValidator().validate(
        request_, batch_model.operation_model("SubmitJob").input_shape
    )
    assert not botocore_report.has_errors(), botocore_report.generate_report()
    assert _errors(submit_job_schema, request_) == []


def test_submit_job_schema_rejects_a_misspelt_member(submit_job_schema: dict[str, Any]) -> None:
    misspelt = {**ECS_REQUEST, "containerOverride": ECS_REQUEST["containerOverrides"]}
    del misspelt["containerOverrides"]
    assert any("containerOverride" in message for message in _errors(submit_job_schema, misspelt))


def test_submit_job_schema_rejects_a_misspelt_nested_member(submit_job_schema: dict[str, Any]) -> None:
    misspelt = json.loads(json.dumps(ECS_REQUEST))
    misspelt["retryStrategy"]["attempt"] = misspelt["retryStrategy"].pop("attempts")
    assert any("attempt" in message for message in _errors(submit_job_schema, misspelt))


@pytest.mark.parametrize("member", ["jobName", "jobQueue", "jobDefinition"])
def test_submit_job_schema_requires_name_queue_and_definition(
    submit_job_schema: dict[str, Any], member: str
) -> None:
    request_ = {k: v for k, v in ECS_REQUEST.items() if k != member}
    assert _errors(submit_job_schema, request_) == [f"{member!r} is a required property"]


def test_exec_config_schema_offers_every_submit_job_member_and_the_hints(
    exec_config_schema: dict[str, Any], submit_job_schema: dict[str, Any]
) -> None:
    assert set(exec_config_schema["properties"]) == set(submit_job_schema["properties"]) | set(HINT_KEYS)


def test_exec_config_schema_requires_nothing(exec_config_schema: dict[str, Any]) -> None:
    assert "required" not in exec_config_schema
    assert _errors(exec_config_schema, {}) == []


def test_exec_config_schema_forbids_unknown_top_level_keys(exec_config_schema: dict[str, Any]) -> None:
    assert exec_config_schema["additionalProperties"] is False
    assert _errors(exec_config_schema, {"vcpus": 2}) != []


def test_hint_properties_describe_exactly_the_models_hint_keys() -> None:
    assert tuple(schemagen.HINT_PROPERTIES) == HINT_KEYS


def test_the_timeout_hint_has_batchs_minimum(exec_config_schema: dict[str, Any]) -> None:
    assert _errors(exec_config_schema, {"timeout_seconds": 60}) == []
    assert _errors(exec_config_schema, {"timeout_seconds": 59}) != []


def _tiny_model(shapes: dict[str, Any]) -> ServiceModel:
    return ServiceModel(
        {
            "metadata": {"apiVersion": "2000-01-01", "protocol": "rest-json", "serviceId": "Tiny"},
            "operations": {"SubmitJob": {"name": "SubmitJob", "input": {"shape": "Request"}}},
            "shapes": shapes,
        },
        service_name="tiny",
    )


def test_a_recursive_shape_becomes_a_def_that_refers_to_itself() -> None:
    model = _tiny_model(
        {
            "Request": {"type": "structure", "members": {"tree": {"shape": "Node"}}},
            "Node": {
                "type": "structure",
                "members": {"children": {"shape": "Nodes"}, "size": {"shape": "D"}},
            },
            "Nodes": {"type": "list", "member": {"shape": "Node"}},
            "D": {"type": "double", "min": 0},
        }
    )
    schema = schemagen.build_submit_job_schema(model)
    assert schema["$defs"]["Nodes"]["items"] == {"$ref": "#/$defs/Node"}
    assert schema["$defs"]["Node"]["properties"]["size"] == {"type": "number", "minimum": 0}
    nested = {"tree": {"children": [{"children": [{"size": 1.5}]}]}}
    assert _errors(schema, nested) == []
    assert _errors(schema, {"tree": {"children": [{"size": -1}]}}) != []
