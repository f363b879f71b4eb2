"""Executor settings: the reference executor's ``[aws_batch_executor]`` options plus batch-router's own.

Values are read through Airflow's configuration object rather than from ``os.environ`` directly, so
everything Airflow users already rely on keeps working: ``AIRFLOW__AWS_BATCH_EXECUTOR__<OPTION>`` over
``airflow.cfg`` over the default, ``_CMD``/``_SECRET`` variants, and per-team scoping
(``AIRFLOW__<TEAM>___AWS_BATCH_EXECUTOR__<OPTION>``) when the executor runs for a team. pydantic-settings
does the typing and validation; a failure becomes one ``ConfigError`` that names each option and the
place its value came from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from batch_router.config.compute_kinds import Compute, kind
from batch_router.errors import ConfigError, Problem

SECTION = "aws_batch_executor"
DEFAULT_DEPLOYMENT = "airflow"

# Option names as users write them (airflow.cfg keys, upper-cased in environment variables), per field.
# The first name is the one batch-router documents; later ones are accepted for drop-in compatibility
# with the reference executor, whose connection option is really called ``conn_id``.
OPTION_NAMES: dict[str, tuple[str, ...]] = {
    "aws_conn_id": ("aws_conn_id", "conn_id"),
}

JSON_OPTIONS = frozenset({"submit_job_kwargs", "routes", "eks_properties_override", "node_override"})


class ConfSource(Protocol):
    """Anything that answers like Airflow's ``conf`` or an executor's team-aware ``ExecutorConf``."""

    def get(self, section: str, key: str, *args: Any, **kwargs: Any) -> Any: ...


class MappingConf:
    """A ConfSource over a plain mapping: for tests and for tools that run without an airflow.cfg."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = {k.lower(): v for k, v in values.items()}

    def get(self, section: str, key: str, *args: Any, **kwargs: Any) -> Any:
        if section != SECTION:
            return kwargs.get("fallback")
        return self._values.get(key.lower(), kwargs.get("fallback"))


def option_name(field_name: str) -> str:
    return OPTION_NAMES.get(field_name, (field_name,))[0].upper()


def _env_names(key: str, team_name: str | None) -> list[str]:
    """Airflow's names for an option's environment variables. Written here because the parser's own
    (``AirflowConfigParser._env_var_name``) is private and this room reads Airflow's conf only when
    asked; ``tests/compat/test_airflow_compat.py`` fails when Airflow names them otherwise."""
    team = f"{team_name.upper()}___" if team_name else ""
    base = f"AIRFLOW__{team}{SECTION.upper()}__{key.upper()}"
    return [base, f"{base}_CMD", f"{base}_SECRET"]


def env_var(key: str) -> str:
    """The environment variable that sets option ``key`` (``job_events_queue``) for the executor."""
    return _env_names(key, None)[0]


def describe_origin(key: str, team_name: str | None) -> str:
    """Where a value most likely came from, in the words a user would search their deployment for."""
    for name in _env_names(key, team_name):
        if name in os.environ:
            return f"environment variable {name}"
    section = f"{team_name}={SECTION}" if team_name else SECTION
    return f"airflow.cfg [{section}] {key}"


class AirflowConfSource(PydanticBaseSettingsSource):
    """Reads every field from an Airflow-style configuration object; records where each value came from."""

    def __init__(self, settings_cls: type[BaseSettings], conf: ConfSource, team_name: str | None):
        super().__init__(settings_cls)
        self._conf = conf
        self._team_name = team_name
        self.origins: dict[str, str] = {}
        self.problems: list[Problem] = []

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for key in OPTION_NAMES.get(field_name, (field_name,)):
            value = self._conf.get(SECTION, key, fallback=None)
            if value is not None and value != "":
                self.origins[field_name] = describe_origin(key, self._team_name)
                return value, field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is None:
                continue
            if field_name in JSON_OPTIONS and isinstance(value, str):
                try:
                    value = self.decode_complex_value(field_name, field, value)  # pydantic-settings' own
                except RecursionError:
                    self.problems.append(
                        Problem(
                            option_name(field_name),
                            f"is nested too deeply to read; from {self.origins[field_name]}",
                        )
                    )
                    continue
                except json.JSONDecodeError as exc:
                    self.problems.append(
                        Problem(
                            option_name(field_name),
                            f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                            f"from {self.origins[field_name]}",
                            'write a JSON object, e.g. {"containerOverrides": {"environment": []}}',
                        )
                    )
                    continue
            data[key] = value
        return data


def _camelize(key: str) -> str:
    head, *rest = key.split("_")
    return head[:1].lower() + head[1:] + "".join(part[:1].upper() + part[1:] for part in rest)


def camelize_keys(value: Any, *, parent: str = "") -> Any:
    """Accept ``job_queue`` or ``JobQueue`` where SubmitJob wants ``jobQueue``, as the reference does.

    Keys under ``tags`` and ``parameters`` are the user's own names and are left alone.

    Written here rather than calling the amazon provider's ``camelize_dict_keys``
    (``aws/executors/ecs/utils.py``): that lives in the provider's executor package, which the pure
    config room must not import, and it renames a job parameter's key (``parameters`` are the job
    definition's own names, which SubmitJob matches as given) and leaves keys inside lists alone (a
    ``resource_requirements`` entry's keys), which AWS would then refuse.
    """
    if isinstance(value, dict):
        if parent in ("tags", "parameters"):
            return dict(value)
        return {_camelize(k): camelize_keys(v, parent=_camelize(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [camelize_keys(v, parent=parent) for v in value]
    return value


class ExecutorSettings(BaseSettings):
    """Every option of the ``[aws_batch_executor]`` section. Documented in docs/settings.md."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    # The reference executor's options (the seed document); same names, same meaning.
    job_queue: str | None = None
    job_definition: str | None = None
    job_name: str = "airflow-task"
    region_name: str | None = None
    aws_conn_id: str = "aws_default"
    submit_job_kwargs: dict[str, Any] = Field(default_factory=dict)
    eks_properties_override: dict[str, Any] | None = None
    node_override: dict[str, Any] | None = None
    max_submit_job_attempts: int = Field(default=3, ge=1)
    check_health_on_startup: bool = True

    # batch-router's own.
    # The implicit route's compute (``plan`` answers offline); unset, start-up reads JOB_DEFINITION's.
    compute: Compute | None = None
    # Every job's batch-router:deployment tag: the scheduler's IAM policy (iam-policy / provision
    # --deployment) lets it stop only jobs with this value, so deployments sharing an account cannot
    # stop each other's jobs. A tag value: letters, digits, spaces and + - = . _ : / @.
    deployment: str = Field(default=DEFAULT_DEPLOYMENT, pattern=r"^[A-Za-z0-9 +\-=._:/@]{1,128}$")
    routes_file: Path | None = None
    routes: dict[str, Any] | None = None
    poll_interval: float = Field(default=5.0, gt=0)
    api_concurrency: int = Field(default=8, ge=1, le=64)
    # The poll sweeps' own threads: SubmitJob never waits behind a sweep (docs/performance.md).
    poll_concurrency: int = Field(default=2, ge=1, le=16)
    # AWS Batch allows 50 SubmitJob calls per second per account and Region (a fixed quota).
    submit_rate_limit: float = Field(default=50.0, ge=0)
    # DescribeJobs calls per second the poll sweeps may average (0: no limit). AWS throttles every Batch
    # API per account and Region (re:Post Knowledge Center, aws-batch-requests-error); 10/s covers
    # 5,000 running jobs at the default POLL_INTERVAL and leaves most of the account's rate to others.
    describe_rate_limit: float = Field(default=10.0, ge=0)
    log_group: str = "/aws/batch/job"
    # Job state from AWS Batch's own events (docs/job-events.md): the SQS queue (URL or ARN) of the
    # EventBridge rule; the sweep then reconciles every RECONCILE_INTERVAL. Unset: DescribeJobs only.
    job_events_queue: str | None = Field(
        default=None, pattern=r"^(https?://\S+|arn:[^:\s]+:sqs:[^:\s]+:\d{12}:\S+)$"
    )
    reconcile_interval: float = Field(default=300.0, gt=0)
    event_grace_seconds: float = Field(default=60.0, gt=0)
    # 0 to 20 s (SQS API reference, ReceiveMessage, WaitTimeSeconds)
    events_wait_seconds: int = Field(default=20, ge=0, le=20)
    events_hold_seconds: float = Field(default=600.0, gt=0)
    events_concurrency: int = Field(default=2, ge=1, le=8)  # reader threads, each 10 messages a call
    # The Batch routes page (docs/ui.md): one shared read of AWS Batch per refresh, within a call budget.
    ui_refresh_seconds: float = Field(default=15.0, ge=1)
    ui_window_seconds: int = Field(default=3600, ge=300, le=86_400)
    ui_max_aws_calls: int = Field(default=40, ge=4, le=200)
    default_queue: str = "default"
    # botocore's DEBUG wire logging (request bodies with tokens, signatures, response bodies) is dropped
    # unless this is on.
    log_aws_requests: bool = False
    # botocore's retry mode for every call but SubmitJob (which makes one attempt, see aws/batch_client).
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"

    # How the executor paces itself (docs/settings.md, "Tuning"). The defaults are measured ones
    # (docs/performance.md); each is read per team like every other option.
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=120.0, gt=0)
    terminate_timeout_seconds: float = Field(default=20.0, ge=0)
    end_grace_seconds: float = Field(default=0.2, ge=0)
    health_retry_seconds: float = Field(default=30.0, ge=0)
    vanished_after_polls: int = Field(default=2, ge=1)
    # The three budgets add up to under 20 ms, so no heartbeat's own work passes the benchmark's p99
    # target however much is waiting (docs/performance.md, "At 20,000 tries").
    apply_budget_seconds: float = Field(default=0.008, ge=0)
    dispatch_budget_seconds: float = Field(default=0.004, ge=0)
    plan_here_budget_seconds: float = Field(default=0.006, ge=0)
    plan_chunk: int = Field(default=100, ge=1)
    submit_pipeline_depth: int = Field(default=500, ge=1)

    @field_validator("submit_job_kwargs", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("node_override")
    @classmethod
    def _no_multi_node(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            raise ValueError("multi-node jobs are not supported; remove NODE_OVERRIDE")
        return value

    @model_validator(mode="after")
    def _backoff_cap_above_base(self) -> ExecutorSettings:
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("RETRY_MAX_SECONDS is below RETRY_BASE_SECONDS; make it at least as large")
        return self

    @model_validator(mode="after")
    def _eks_override_needs_eks(self) -> ExecutorSettings:
        if self.eks_properties_override and self.compute is not None and not kind(self.compute).pods:
            raise ValueError(
                f"EKS_PROPERTIES_OVERRIDE is set but COMPUTE is {self.compute}; EKS overrides need "
                "COMPUTE=eks (or leave COMPUTE unset)"
            )
        return self

    @model_validator(mode="after")
    def _one_route_source(self) -> ExecutorSettings:
        if self.routes_file is not None and self.routes is not None:
            raise ValueError("ROUTES_FILE and ROUTES are both set; keep one of them")
        return self

    @property
    def has_route_table(self) -> bool:
        return self.routes_file is not None or self.routes is not None

    @property
    def has_implicit_route(self) -> bool:
        """JOB_QUEUE and JOB_DEFINITION without a route table: the seed's one route."""
        return not self.has_route_table and self.job_queue is not None and self.job_definition is not None

    def base_submit_job_kwargs(self) -> dict[str, Any]:
        """SUBMIT_JOB_KWARGS as SubmitJob wants it: the lowest layer of every request."""
        kwargs: dict[str, Any] = camelize_keys(self.submit_job_kwargs)
        if self.eks_properties_override:
            kwargs.setdefault("eksPropertiesOverride", camelize_keys(self.eks_properties_override))
        return kwargs

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only explicit keyword arguments here; load_settings() binds the Airflow configuration source.
        return (init_settings,)


def _bind(conf: ConfSource, team_name: str | None) -> tuple[type[ExecutorSettings], list[AirflowConfSource]]:
    """A subclass of ExecutorSettings whose only outside source is this configuration object.

    Airflow's conf already layers environment over airflow.cfg over defaults (and team scopes); a
    second, independent environment reader would disagree with it on teams and on _CMD options.
    """
    made: list[AirflowConfSource] = []

    class BoundSettings(ExecutorSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            source = AirflowConfSource(settings_cls, conf, team_name)
            made.append(source)
            return (init_settings, source)

    return BoundSettings, made


def _default_conf() -> ConfSource:
    from airflow.configuration import conf

    return conf


def load_settings(
    conf: ConfSource | None = None, *, team_name: str | None = None, route_table_given: bool = False
) -> ExecutorSettings:
    """Read and validate the executor's settings, or raise one ConfigError listing every bad option.

    ``route_table_given``: the caller has a route table of its own (``validate FILE``), so JOB_QUEUE and
    JOB_DEFINITION are not required.
    """
    if conf is None:
        conf = _default_conf()
    team_name = team_name or getattr(conf, "team_name", None)
    bound, made = _bind(conf, team_name)
    try:
        settings: ExecutorSettings = bound()
    except ValidationError as exc:
        source = made[-1]
        problems = list(source.problems) + [
            _problem_from_pydantic(err, source.origins) for err in exc.errors(include_url=False)
        ]
        raise ConfigError(f"executor settings [{SECTION}]", problems) from None
    source = made[-1]
    if source.problems:
        raise ConfigError(f"executor settings [{SECTION}]", source.problems)
    if not settings.has_route_table and not route_table_given:
        missing = [name for name in ("job_queue", "job_definition") if getattr(settings, name) is None]
        if missing:
            raise ConfigError(
                f"executor settings [{SECTION}]",
                [
                    Problem(
                        option_name(name),
                        "is required when no route table is configured",
                        f"set AIRFLOW__{SECTION.upper()}__{option_name(name)}, or point "
                        f"AIRFLOW__{SECTION.upper()}__ROUTES_FILE at a route table",
                    )
                    for name in missing
                ],
            )
    return settings


def unused_beside_route_table(settings: ExecutorSettings) -> list[Problem]:
    """JOB_QUEUE / JOB_DEFINITION left beside a route table (usual mid-migration): the table wins."""
    if not settings.has_route_table:
        return []
    table = "ROUTES_FILE" if settings.routes_file is not None else "ROUTES"
    return [
        Problem(
            option_name(name),
            f"is set beside {table}; the route table wins and {option_name(name)} is not used",
            "remove it once a route names that job queue and job definition; docs/routes.md",
        )
        for name in ("job_queue", "job_definition")
        if getattr(settings, name) is not None
    ]


def _problem_from_pydantic(err: Mapping[str, Any], origins: Mapping[str, str]) -> Problem:
    loc = [str(part) for part in err.get("loc", ())]
    field = loc[0] if loc else ""
    if field in ExecutorSettings.model_fields:
        name = option_name(field)
        origin = origins.get(field, "its default")
        detail = ".".join(loc[1:])
        where = f"{name}.{detail}" if detail else name
        hint = None
        if err.get("type", "").startswith(("int_", "float_", "bool_")):
            hint = f"give {name} a value of the right type, e.g. {_example(field)}"
        return Problem(where, f"{err['msg']} (got {err.get('input')!r} from {origin})", hint)
    return Problem("", str(err.get("msg", "invalid settings")).removeprefix("Value error, "))


def _example(field: str) -> str:
    default = ExecutorSettings.model_fields[field].default
    return json.dumps(default) if not isinstance(default, str) else default
