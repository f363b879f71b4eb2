"""The few Airflow REST API v2 calls the demo and the end-to-end tests make."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from batch_router.dev.airflow_stack.errors import StackError

__all__ = ["AirflowApi", "ApiError"]


class AirflowApi:
    """The few REST API v2 calls the demo and the tests need, over the standard library's HTTP client.

    The stack runs the simple auth manager with ``all_admins``, so calls need no token; a stack with
    real users (``simple_auth_manager_users``) calls ``login`` first, and every call then carries the
    user's JWT, as a script of a platform team would.
    """

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token: str | None = None

    def login(self, username: str, password: str) -> str:
        """A JWT from the simple auth manager's ``POST /auth/token``; used by every later call."""
        answer = self.request("POST", "/auth/token", {"username": username, "password": password})
        self.token = str(answer["access_token"])
        return self.token

    def request(self, method: str, path: str, body: object = None, **params: Any) -> Any:
        pairs = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
        url = f"{self.base_url}{path}" + (f"?{urllib.parse.urlencode(pairs)}" if pairs else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token is not None:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise ApiError(method, path, err.code, detail) from None
        return json.loads(text) if text else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, **params)

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/api/v2/monitor/health")
        return result

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.get(f"/api/v2/dags/{dag_id}")
        except ApiError as err:
            if err.status == 404:
                return None
            raise
        return result

    def import_errors(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get("/api/v2/importErrors")["import_errors"]
        return result

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        body = {"logical_date": None, "conf": dict(conf or {})}
        run_id: str = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]
        return run_id

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        return result

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        result: list[dict[str, Any]] = self.get(path, limit=100)["task_instances"]
        return result

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return result

    def event_logs(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get("/api/v2/eventLogs", limit=100, **filters)["event_logs"]
        return result

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
        """The try's log pane as the UI reads it: each line's text (``event``), sources included."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        answer = self.get(urllib.parse.quote(path), full_content="true")
        content = answer.get("content") if isinstance(answer, dict) else None
        lines = content if isinstance(content, list) else [content]
        return [str(line.get("event", line)) if isinstance(line, dict) else str(line) for line in lines]

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get("/api/v2/jobs", limit=100, **filters)["jobs"]
        return result


class ApiError(StackError):
    """The API server answered with an HTTP error."""

    def __init__(self, method: str, path: str, status: int, detail: str):
        self.status = status
        super().__init__(f"{method} {path} answered {status}: {detail}")
