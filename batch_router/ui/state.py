"""What the page's endpoints share in the API server: the plan, the AWS snapshot, where links point.

Made on the first request, not when Airflow loads the plugin: loading plugins must not read the route
table or reach AWS (the scheduler and the DAG processor load them too). A route table or settings the
executor would refuse is kept as ``problem``; the endpoints answer 503 with it and the page shows it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batch_router.aws.batch_client import BatchClient
from batch_router.errors import BatchRouterError
from batch_router.plan.configured import NothingConfigured, configured_plan
from batch_router.plan.planner import Plan
from batch_router.ui.airflow_paths import base_path
from batch_router.ui.batch_view import BatchView, ViewLimits
from batch_router.ui.page_data import Place
from batch_router.ui.task_tries import TryJobs

__all__ = ["UiState", "make_state", "state_of"]

_STATE_KEY = "batch_router_ui"
UI_READ_ATTEMPTS = 2
UI_TIMEOUTS = (3.0, 10.0)  # connect, read (seconds)
_LOCK = threading.Lock()


@dataclass(frozen=True)
class UiState:
    plan: Plan
    source: str
    view: BatchView
    tries: TryJobs
    place: Place
    limits: ViewLimits


def make_state(client_factory: Callable[..., BatchClient] = BatchClient) -> UiState | str:
    """The state for the configuration here, or the reason there is none."""
    try:
        configured = configured_plan(None)
    except (NothingConfigured, BatchRouterError) as exc:
        return f"batch-router is not configured on this API server: {exc}"
    settings = configured.settings
    # Someone waits for the page: two attempts and short timeouts, then the page says AWS did not answer.
    client = client_factory(
        aws_conn_id=settings.aws_conn_id,
        region_name=settings.region_name,
        retry_mode=settings.retry_mode,
        read_attempts=UI_READ_ATTEMPTS,
        timeouts=UI_TIMEOUTS,
    )
    limits = ViewLimits(settings.ui_refresh_seconds, settings.ui_window_seconds, settings.ui_max_aws_calls)
    queues = [route.job_queue for route in configured.plan.table.routes]
    base = base_path("/")  # Airflow's base path, for links back to task instances
    place = Place(settings.deployment, client.region(), settings.log_group, base)
    return UiState(
        configured.plan,
        configured.source,
        BatchView(client, queues, limits),
        TryJobs(client, configured.plan, settings.deployment),
        place,
        limits,
    )


def state_of(app: Any) -> UiState | str:
    """The app's state, or why there is none; made once (``app.state.batch_router_ui_factory`` can
    replace ``make_state``, as the tests do)."""
    with _LOCK:
        state = getattr(app.state, _STATE_KEY, None)
        if state is None:
            factory = getattr(app.state, "batch_router_ui_factory", make_state)
            state = factory()
            setattr(app.state, _STATE_KEY, state)
    return state  # type: ignore[no-any-return]
