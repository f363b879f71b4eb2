"""How the executor paces itself: budgets, pipeline depth, backoff and timeouts, from its settings.

One immutable value per executor, made from that executor's (team's) settings at ``start()``, so two
executors in one scheduler never share a knob and a test changes one executor, not the class.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from batch_router.config.settings import ExecutorSettings

__all__ = ["Tunables"]


def _default(name: str) -> Any:
    """The setting's own default: one place for each number, used before start() reads the settings."""
    return ExecutorSettings.model_fields[name].default


@dataclass(frozen=True)
class Tunables:
    # backoff of retries and resubmits: base * 2**(n-1), capped, jittered
    retry_base_seconds: float = _default("retry_base_seconds")
    retry_max_seconds: float = _default("retry_max_seconds")
    # for the calls under way, then for the TerminateJob calls
    terminate_timeout_seconds: float = _default("terminate_timeout_seconds")
    # end() waits this long for calls under way before leaving them
    end_grace_seconds: float = _default("end_grace_seconds")
    # start() retries a health check AWS does not answer this long
    health_retry_seconds: float = _default("health_retry_seconds")
    # DescribeJobs rounds in a row without a job before it is given up
    vanished_after_polls: int = _default("vanished_after_polls")
    # Applying results stops after this long in one heartbeat; the rest waits for the next one, so
    # 5,000 jobs finishing at once never hold the loop.
    apply_budget_seconds: float = _default("apply_budget_seconds")
    # Handing SubmitJob calls to the pool stops after this long in one heartbeat.
    dispatch_budget_seconds: float = _default("dispatch_budget_seconds")
    # New tries planned on the scheduler thread itself when the planning thread is idle (about 30).
    plan_here_budget_seconds: float = _default("plan_here_budget_seconds")
    plan_chunk: int = _default("plan_chunk")  # planned tries the planning thread hands back at a time
    # SubmitJob calls handed to the pool ahead of time: enough to keep every API thread busy between
    # heartbeats, few enough to react to throttling.
    submit_pipeline_depth: int = _default("submit_pipeline_depth")

    @classmethod
    def from_settings(cls, settings: ExecutorSettings) -> Tunables:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})
