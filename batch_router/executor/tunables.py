"""How the executor paces itself: budgets, pipeline depth, backoff and timeouts, from its settings.

One immutable value per executor, made from that executor's (team's) settings at ``start()``, so two
executors in one scheduler never share a knob and a test changes one executor, not the class.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from batch_router.config.settings import ExecutorSettings
from batch_router.executor.pacing import Pacing

__all__ = ["Tunables"]


@dataclass(frozen=True)
class Tunables:
    retry_base_seconds: float = 2.0  # backoff of retries and resubmits: base * 2**(n-1), capped, jittered
    retry_max_seconds: float = 120.0
    terminate_timeout_seconds: float = 20.0  # for the calls under way, then for the TerminateJob calls
    end_grace_seconds: float = 0.2  # end() waits this long for calls under way before leaving them
    health_retry_seconds: float = 30.0  # start() retries a health check AWS does not answer this long
    vanished_after_polls: int = 2  # DescribeJobs rounds in a row without a job before it is given up
    # Applying results stops after this long in one heartbeat; the rest waits for the next one, so
    # 5,000 jobs finishing at once never hold the loop.
    apply_budget_seconds: float = 0.008
    # Handing SubmitJob calls to the pool stops after this long in one heartbeat.
    dispatch_budget_seconds: float = 0.004
    # New tries planned on the scheduler thread itself when the planning thread is idle (about 30).
    plan_here_budget_seconds: float = 0.006
    plan_chunk: int = 100  # planned tries the planning thread hands back at a time
    # SubmitJob calls handed to the pool ahead of time: enough to keep every API thread busy between
    # heartbeats, few enough to react to throttling.
    submit_pipeline_depth: int = 500

    def pacing(self) -> Pacing:
        """A fresh backoff and pause keeper with these bounds."""
        return Pacing(self.retry_base_seconds, self.retry_max_seconds)

    @classmethod
    def from_settings(cls, settings: ExecutorSettings) -> Tunables:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})
