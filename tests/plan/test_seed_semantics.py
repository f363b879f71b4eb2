"""With only the seed's options (no route table), executor_config is AwsBatchExecutor's: a recursive
update over SUBMIT_JOB_KWARGS that may change any SubmitJob argument."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from batch_router.config.model import DefinitionFacts
from batch_router.config.settings import MappingConf, load_settings
from batch_router.errors import ConfigError, ExecConfigError
from batch_router.plan.model import BuiltJob, TaskIdentity
from batch_router.plan.planner import Plan

IDENTITY = TaskIdentity("dag", "task", "manual__1", try_number=1, try_id="try-1")
COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"]
SEED_KWARGS = {
    "containerOverrides": {"environment": [{"name": "STAGE", "value": "prod"}]},
    "tags": {"team": "data"},
}


def seed_plan(**options: Any) -> Plan:
    values = {"job_queue": "airflow-queue", "job_definition": "airflow-worker", "job_name": "airflow-task"}
    values["submit_job_kwargs"] = json.dumps(options.pop("submit_job_kwargs", SEED_KWARGS))
    values.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in options.items()})
    return Plan.from_settings(load_settings(MappingConf(values)))


def build(plan: Plan, executor_config: Mapping[str, Any] | None) -> BuiltJob:
    return plan.build(identity=IDENTITY, executor_config=executor_config, queue="default", command=COMMAND)


def env_of(built: BuiltJob) -> dict[str, str]:
    return {e["name"]: e["value"] for e in built.kwargs["containerOverrides"]["environment"]}


def test_a_task_that_sets_job_queue_is_sent_to_that_queue() -> None:
    built = build(seed_plan(), {"jobQueue": "airflow-gpu-queue"})

    assert built.kwargs["jobQueue"] == "airflow-gpu-queue"


def test_a_task_that_sets_job_definition_is_sent_with_that_definition() -> None:
    built = build(seed_plan(), {"jobDefinition": "airflow-worker-gpu:2"})

    assert built.kwargs["jobDefinition"] == "airflow-worker-gpu:2"


def test_a_task_overrides_a_variable_submit_job_kwargs_set_and_keeps_the_others() -> None:
    exec_config = {"containerOverrides": {"environment": [{"name": "STAGE", "value": "dev"}]}}

    env = env_of(build(seed_plan(), exec_config))

    assert env["STAGE"] == "dev"
    assert env["AIRFLOW_IS_EXECUTOR_CONTAINER"] == "true"


def test_a_task_overrides_a_tag_submit_job_kwargs_set() -> None:
    built = build(seed_plan(), {"tags": {"team": "ml"}})

    assert built.kwargs["tags"]["team"] == "ml"


def test_a_task_may_set_airflow_logging_variables() -> None:
    exec_config = {
        "containerOverrides": {"environment": [{"name": "AIRFLOW__LOGGING__LOGGING_LEVEL", "value": "DEBUG"}]}
    }

    assert env_of(build(seed_plan(), exec_config))["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "DEBUG"


def test_a_task_may_replace_the_timeout_and_retry_strategy() -> None:
    plan = seed_plan(submit_job_kwargs={"timeout": {"attemptDurationSeconds": 3600}})

    built = build(plan, {"timeout": {"attemptDurationSeconds": 7200}, "retryStrategy": {"attempts": 3}})

    assert built.kwargs["timeout"] == {"attemptDurationSeconds": 7200}
    assert built.kwargs["retryStrategy"] == {"attempts": 3}


def test_a_command_in_executor_config_is_replaced_by_the_executors_with_a_note() -> None:
    built = build(seed_plan(), {"containerOverrides": {"command": ["echo", "hi"]}})

    assert built.kwargs["containerOverrides"]["command"] == COMMAND
    assert any("command" in note and "AwsBatchExecutor" in note for note in built.notes)


def test_a_variable_the_executor_sets_keeps_the_executors_value() -> None:
    exec_config = {
        "containerOverrides": {"environment": [{"name": "AIRFLOW_IS_EXECUTOR_CONTAINER", "value": "no"}]}
    }

    assert env_of(build(seed_plan(), exec_config))["AIRFLOW_IS_EXECUTOR_CONTAINER"] == "true"


def test_resource_requirements_are_replaced_whole_as_the_reference_replaces_lists() -> None:
    base = {"containerOverrides": {"resourceRequirements": [{"type": "VCPU", "value": "1"}]}}
    task = {"containerOverrides": {"resourceRequirements": [{"type": "MEMORY", "value": "4096"}]}}

    built = build(seed_plan(submit_job_kwargs=base), task)

    assert built.kwargs["containerOverrides"]["resourceRequirements"] == [{"type": "MEMORY", "value": "4096"}]


def test_a_fargate_size_the_reference_sends_is_not_refused_when_the_compute_is_not_known() -> None:
    size = [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "1024"}]

    built = build(seed_plan(), {"containerOverrides": {"resourceRequirements": size}})

    assert built.kwargs["containerOverrides"]["resourceRequirements"] == size
    assert any("compute of job definition 'airflow-worker' not known" in note for note in built.notes)


def test_a_fargate_size_is_accepted_when_compute_says_fargate() -> None:
    size = [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "1024"}]

    built = build(seed_plan(compute="fargate"), {"containerOverrides": {"resourceRequirements": size}})

    assert built.route.compute == "fargate"


def test_a_size_fargate_does_not_sell_is_refused_when_compute_says_fargate() -> None:
    size = [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "9000"}]

    with pytest.raises(ExecConfigError, match="not a Fargate size"):
        build(seed_plan(compute="fargate"), {"containerOverrides": {"resourceRequirements": size}})


def test_legacy_vcpus_and_memory_keep_working_on_ec2() -> None:
    built = build(seed_plan(compute="ec2"), {"containerOverrides": {"vcpus": 2, "memory": 4096}})

    assert built.kwargs["containerOverrides"]["vcpus"] == 2
    assert built.kwargs["containerOverrides"]["memory"] == 4096


def test_the_job_queue_in_submit_job_kwargs_wins_over_job_queue_as_in_the_reference() -> None:
    plan = seed_plan(submit_job_kwargs={"jobQueue": "from-kwargs"})

    assert build(plan, None).kwargs["jobQueue"] == "from-kwargs"


def test_the_implicit_route_has_no_gpu_cap() -> None:
    built = build(seed_plan(compute="ec2"), {"gpu": 4})

    assert {"type": "GPU", "value": "4"} in built.kwargs["containerOverrides"]["resourceRequirements"]


def test_depends_on_is_sent_as_the_reference_sends_it() -> None:
    built = build(seed_plan(), {"dependsOn": [{"jobId": "abc"}]})

    assert built.kwargs["dependsOn"] == [{"jobId": "abc"}]


def test_an_array_job_is_still_refused_because_a_try_is_one_job() -> None:
    with pytest.raises(ExecConfigError, match="array jobs are not supported"):
        build(seed_plan(), {"arrayProperties": {"size": 2}})


def test_start_up_learns_the_compute_from_the_job_definition() -> None:
    plan = seed_plan().with_definitions({"airflow-worker": DefinitionFacts("fargate", 1, 2048)})

    built = build(plan, {"vcpu": 0.3})

    assert built.route.compute == "fargate"
    assert built.kwargs["containerOverrides"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "0.5"},
        {"type": "MEMORY", "value": "2048"},  # the job definition's memory, kept
    ]


def test_a_fargate_vcpu_hint_pairs_with_the_job_definitions_memory() -> None:
    plan = seed_plan().with_definitions({"airflow-worker": DefinitionFacts("fargate", 1, 16384)})

    built = build(plan, {"vcpu": 2})

    assert built.kwargs["containerOverrides"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"},
        {"type": "MEMORY", "value": "16384"},
    ]


def test_a_fargate_vcpu_without_memory_is_checked_against_the_job_definitions_memory() -> None:
    plan = seed_plan().with_definitions({"airflow-worker": DefinitionFacts("fargate", 1, 2048)})
    four_vcpu = {"containerOverrides": {"resourceRequirements": [{"type": "VCPU", "value": "4"}]}}

    with pytest.raises(ExecConfigError, match=r"VCPU 4 / MEMORY 2048 MiB \(MEMORY from the job definition\)"):
        build(plan, four_vcpu)


def test_a_task_naming_a_job_definition_nobody_described_gets_only_the_shared_rules() -> None:
    plan = seed_plan().with_definitions({"airflow-worker": DefinitionFacts("ec2")})
    half_vcpu = {
        "jobDefinition": "fargate-worker",
        "containerOverrides": {"resourceRequirements": [{"type": "VCPU", "value": "0.5"}]},
    }

    built = build(plan, half_vcpu)

    assert built.kwargs["jobDefinition"] == "fargate-worker"


def test_a_task_naming_a_described_job_definition_gets_that_ones_rules() -> None:
    facts = {"airflow-worker": DefinitionFacts("ec2"), "fargate-worker": DefinitionFacts("fargate")}
    plan = seed_plan().with_definitions(facts)
    bad_pair = {
        "jobDefinition": "fargate-worker",
        "containerOverrides": {"resourceRequirements": [{"type": "VCPU", "value": "3"}]},
    }

    with pytest.raises(ExecConfigError, match="not a Fargate size"):
        build(plan, bad_pair)


def test_a_bad_submit_job_kwargs_is_reported_once_as_the_settings_problem() -> None:
    with pytest.raises(ConfigError) as raised:
        seed_plan(submit_job_kwargs={"retryStrategy": {"attempts": 20}})

    [problem] = raised.value.problems
    assert raised.value.source == "executor settings [aws_batch_executor]"
    assert problem.path == "SUBMIT_JOB_KWARGS.retryStrategy.attempts"


def test_an_unknown_key_in_submit_job_kwargs_is_the_settings_problem() -> None:
    with pytest.raises(ConfigError) as raised:
        seed_plan(submit_job_kwargs={"containerOverride": {}})

    assert [p.path for p in raised.value.problems] == ["SUBMIT_JOB_KWARGS.containerOverride"]


def test_near_fifty_tags_the_executor_keeps_the_try_id_and_leaves_its_other_tags_out() -> None:
    many = {f"cost-{i}": "x" for i in range(45)}

    built = build(seed_plan(), {"tags": many})

    tags = built.kwargs["tags"]
    assert len(tags) == 50
    assert tags["batch-router:try-id"] == "try-1"
    assert tags["batch-router:route"] == "default"
    assert any("left out: SubmitJob takes at most 50 tags" in note for note in built.notes)


def test_an_eks_override_on_an_ecs_request_says_why_it_is_refused() -> None:
    with pytest.raises(ExecConfigError, match="sends ECS containers"):
        build(seed_plan(), {"eksPropertiesOverride": {"podProperties": {}}})


def test_every_job_carries_the_deployment_tag_a_task_cannot_change() -> None:
    built = build(seed_plan(deployment="team-a"), {"tags": {"batch-router:deployment": "team-b"}})

    assert built.kwargs["tags"]["batch-router:deployment"] == "team-a"
