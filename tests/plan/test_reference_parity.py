"""With only the seed's options, the request batch-router plans contains every value the amazon
provider's AwsBatchExecutor would send (its own ``build_submit_kwargs`` and ``_submit_job_kwargs``,
imported, not copied), but the command and the job name; environment variables compared by name and
tags by key. And nothing AWS accepts is refused."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.amazon.aws.executors.batch.batch_executor import AwsBatchExecutor
from airflow.providers.amazon.aws.executors.batch.batch_executor_config import build_submit_kwargs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_router.cli import main
from batch_router.config.settings import MappingConf, load_settings
from batch_router.plan.model import TaskIdentity
from batch_router.plan.planner import Plan

COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"]
IDENTITY = TaskIdentity("dag", "task", "manual__1", try_number=1, try_id="try-1")
OPTIONS = {"job_queue": "airflow-queue", "job_definition": "airflow-worker", "job_name": "airflow-task"}


def reference_request(options: Mapping[str, str], exec_config: Mapping[str, Any]) -> dict[str, Any]:
    """What AwsBatchExecutor sends: its configuration read by its own code, merged by its own method."""
    executor = SimpleNamespace(submit_job_kwargs=build_submit_kwargs(MappingConf(options)))
    request: dict[str, Any] = AwsBatchExecutor._submit_job_kwargs(
        executor,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        list(COMMAND),
        "default",
        copy.deepcopy(dict(exec_config)),  # the reference appends to the task's lists
    )
    return request


def our_request(options: Mapping[str, str], exec_config: Mapping[str, Any]) -> Mapping[str, Any]:
    plan = Plan.from_settings(load_settings(MappingConf(options)))
    return plan.build(identity=IDENTITY, executor_config=exec_config, queue="default", command=COMMAND).kwargs


def missing(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Every value of ``theirs`` that ``ours`` lacks, as paths; env by name, tags by key."""
    if isinstance(theirs, Mapping):
        if not isinstance(ours, Mapping):
            return [path or "(root)"]
        found: list[str] = []
        for key, value in theirs.items():
            at = f"{path}.{key}" if path else str(key)
            if at in ("jobName", "containerOverrides.command"):
                continue
            if key not in ours:
                found.append(at)
            elif key == "environment":
                found += missing(_by_name(ours[key]), _by_name(value), at)
            else:
                found += missing(ours[key], value, at)
        return found
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


def _by_name(entries: list[Mapping[str, str]]) -> dict[str, str]:
    """A container's variables as the container sees them: the last entry of a name wins."""
    return {entry["name"]: entry.get("value", "") for entry in entries}


# --- what reference DAGs send ---------------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True).filter(
    lambda name: not name.startswith(("AWS_BATCH", "BATCH_ROUTER_"))  # AWS's / the executor's own
)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_env = st.lists(st.fixed_dictionaries({"name": _names, "value": _text}), max_size=4)
_tag_keys = st.from_regex(r"[a-z][a-z0-9_.:/=+@-]{0,20}", fullmatch=True).filter(
    lambda key: not key.startswith(("aws:", "airflow:", "batch-router:"))  # AWS's / the executor's own
)
_tags = st.dictionaries(_tag_keys, _text, max_size=5)
_sizes = st.lists(
    st.sampled_from(
        [
            {"type": "VCPU", "value": "1"},
            {"type": "VCPU", "value": "0.5"},
            {"type": "VCPU", "value": "4"},
            {"type": "MEMORY", "value": "1024"},
            {"type": "MEMORY", "value": "8192"},
            {"type": "GPU", "value": "1"},
        ]
    ),
    max_size=3,
    unique_by=lambda requirement: requirement["type"],
)
_container = st.fixed_dictionaries(
    {},
    optional={
        "environment": _env,
        "resourceRequirements": _sizes,
        "vcpus": st.integers(1, 16),
        "memory": st.integers(512, 16384),
    },
)
_exec_configs = st.fixed_dictionaries(
    {},
    optional={
        "jobQueue": st.sampled_from(["airflow-gpu", "arn:aws:batch:us-east-1:123456789012:job-queue/other"]),
        "jobDefinition": st.sampled_from(["airflow-worker-gpu", "airflow-worker:4"]),
        "containerOverrides": _container,
        "tags": _tags,
        "parameters": st.dictionaries(_names, _text, max_size=3),
        "timeout": st.fixed_dictionaries({"attemptDurationSeconds": st.integers(60, 86400)}),
        "retryStrategy": st.fixed_dictionaries({"attempts": st.integers(1, 10)}),
        "propagateTags": st.booleans(),
        "schedulingPriorityOverride": st.integers(0, 9999),
    },
)
_submit_job_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "containerOverrides": st.fixed_dictionaries({}, optional={"environment": _env}),
        "tags": _tags,
        "timeout": st.fixed_dictionaries({"attemptDurationSeconds": st.integers(60, 86400)}),
        "retryStrategy": st.fixed_dictionaries({"attempts": st.integers(1, 10)}),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(submit_job_kwargs=_submit_job_kwargs, exec_config=_exec_configs)
def test_the_request_holds_everything_the_reference_would_send(
    submit_job_kwargs: dict[str, Any], exec_config: dict[str, Any]
) -> None:
    options = {**OPTIONS, "submit_job_kwargs": json.dumps(submit_job_kwargs)}

    ours = our_request(options, exec_config)  # raises if batch-router refuses what AWS accepts

    assert missing(ours, reference_request(options, exec_config)) == []


@pytest.mark.parametrize(
    "exec_config",
    [
        {
            "jobQueue": "airflow-gpu",
            "containerOverrides": {"resourceRequirements": [{"type": "GPU", "value": "1"}]},
        },
        {"containerOverrides": {"environment": [{"name": "STAGE", "value": "dev"}]}, "tags": {"team": "ml"}},
        {
            "containerOverrides": {
                "environment": [{"name": "AIRFLOW__LOGGING__LOGGING_LEVEL", "value": "DEBUG"}]
            }
        },
        {
            "containerOverrides": {
                "resourceRequirements": [
                    {"type": "VCPU", "value": "0.5"},
                    {"type": "MEMORY", "value": "1024"},
                ]
            }
        },
    ],
)
def test_plan_json_prints_a_request_holding_everything_the_reference_would_send(
    exec_config: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    submit_job_kwargs = {
        "containerOverrides": {"environment": [{"name": "STAGE", "value": "prod"}]},
        "tags": {"team": "data"},
    }
    options = {**OPTIONS, "submit_job_kwargs": json.dumps(submit_job_kwargs)}
    for name, value in options.items():
        monkeypatch.setenv(f"AIRFLOW__AWS_BATCH_EXECUTOR__{name.upper()}", value)

    code = main(["plan", "--json", "--exec-config", json.dumps(exec_config)])

    [task] = json.loads(capsys.readouterr().out)["tasks"]
    assert code == 0, task.get("error")
    assert missing(task["submit_job_kwargs"], reference_request(options, exec_config)) == []


def test_a_task_variable_overrides_submit_job_kwargs_and_the_others_are_kept() -> None:
    options = {
        **OPTIONS,
        "submit_job_kwargs": json.dumps(
            {
                "containerOverrides": {
                    "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
                }
            }
        ),
    }
    exec_config = {"containerOverrides": {"environment": [{"name": "A", "value": "task"}]}}

    env = _by_name(our_request(options, exec_config)["containerOverrides"]["environment"])

    assert (env["A"], env["B"]) == ("task", "2")
