"""The executor's settings and route table, and the one way it turns a try into a SubmitJob request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch_router.errors import BatchRouterError
from batch_router.model import BuiltJob, RouteTable, TaskIdentity
from batch_router.naming import job_name
from batch_router.planner import plan_task
from batch_router.routes import route_table_from_settings
from batch_router.settings import ConfSource, ExecutorSettings, load_settings

# Stands in for the command when only the job's name and queue are wanted (looking a job up).
NO_COMMAND = ("true",)


@dataclass(frozen=True)
class Plan:
    settings: ExecutorSettings
    table: RouteTable

    @classmethod
    def load(cls, conf: ConfSource | None = None) -> Plan:
        """Settings and route table from Airflow's configuration; raises ``ConfigError``."""
        settings = load_settings(conf)
        return cls(settings, route_table_from_settings(settings))

    def build(
        self,
        *,
        identity: TaskIdentity,
        executor_config: Mapping[str, Any] | None,
        queue: str | None,
        command: Sequence[str] = NO_COMMAND,
    ) -> BuiltJob:
        """The try's SubmitJob request; raises ``ExecConfigError`` or ``RoutingError``."""
        return plan_task(
            self.table,
            base_kwargs=self.settings.base_submit_job_kwargs(),
            job_name_prefix=self.settings.job_name,
            executor_config=executor_config,
            queue=queue,
            identity=identity,
            command=command,
            default_queue=self.settings.default_queue,
        )

    def places(
        self, identity: TaskIdentity, executor_config: Mapping[str, Any] | None, queue: str | None
    ) -> list[tuple[str, str]]:
        """Where the try's job would be: (job queue, job name). Every route's queue if planning fails."""
        try:
            built = self.build(identity=identity, executor_config=executor_config, queue=queue)
            return [(str(built.kwargs["jobQueue"]), str(built.kwargs["jobName"]))]
        except BatchRouterError:
            name = job_name(self.settings.job_name, identity)
            return list(dict.fromkeys((route.job_queue, name) for route in self.table.routes))
