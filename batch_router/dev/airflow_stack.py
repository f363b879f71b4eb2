"""A real Airflow (API server, DAG processor, scheduler) and a local Batch as child processes.

Used by ``batch-router demo`` and by the end-to-end tests, so both exercise what a deployment runs:
separate processes talking through one SQLite database and the Execution API, never Airflow imported
in-process. Every component runs in its own process group and writes one log file under the throw-away
``AIRFLOW_HOME``, so a failed run can be read afterwards and stopping a component takes its children
(uvicorn workers, DAG parsers, Batch jobs) with it.

The local Batch runs as a process of its own (``batch-router local``) started with the same environment
as Airflow: its jobs are the "containers" and inherit that environment, which is how a task process
finds the Execution API, the DAGs folder and the JWT secret, as a worker image would carry them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

AIRFLOW_COMPONENTS: tuple[str, ...] = ("api-server", "dag-processor", "scheduler")
LOCAL_BATCH = "local-batch"
HOST = "127.0.0.1"

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"

# Fast enough that a four-task DAG finishes in well under a minute on two cores, slow enough that the
# three components do not spend those cores polling SQLite. The health threshold is also how long a
# killed scheduler's tasks wait before a new scheduler adopts them.
FAST_INTERVALS: Mapping[str, str] = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "3",
    "AIRFLOW__SCHEDULER__POOL_METRICS_INTERVAL": "60",
    "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "600",
    "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
    "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "5",
}

DROPPED_PREFIXES = ("AIRFLOW", "AWS_")

TERMINAL_RUN_STATES = frozenset({"success", "failed"})

StateCallback = Callable[[str, "str | None", "str | None"], None]


class StackError(RuntimeError):
    """The stack could not start, or did not do what was asked in time; the message says why and where."""


# ---------------------------------------------------------------- ports


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when binding ``host:port`` fails, i.e. another program already holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_port_free(port: int, what: str) -> None:
    if port_in_use(port):
        raise StackError(
            f"port {port} on {HOST} is already in use, and {what} needs it; stop what is using it "
            "or choose another port"
        )


# ---------------------------------------------------------------- environment


def airflow_env(
    *,
    home: Path,
    dags_folder: Path,
    port: int,
    executor: str,
    jwt_secret: str,
    log_server_port: int,
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every component and every task process runs with.

    Every ``AIRFLOW*`` and ``AWS_*`` variable of ``base`` (the caller's environment) is dropped first,
    so that a developer's own settings, a test session's unit-test mode or a real AWS profile cannot
    leak into the stack; the local Batch's variables take the place of the AWS ones.
    """
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(DROPPED_PREFIXES)}
    api_url = f"http://{HOST}:{port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": jwt_secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_port),
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "PYTHONUNBUFFERED": "1",
            **FAST_INTERVALS,
        }
    )
    env.update(extra or {})
    return env


def parse_exports(text: str) -> dict[str, str]:
    """``export NAME=value`` lines (POSIX shell quoting) as a dict; other lines are ignored."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("export "):
            continue
        words = shlex.split(line[len("export ") :])
        if len(words) == 1 and "=" in words[0]:
            name, value = words[0].split("=", 1)
            result[name] = value
    return result


# ---------------------------------------------------------------- processes


def _proc_stat_fields(pid_dir: Path) -> list[str] | None:
    try:
        stat = (pid_dir / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    return stat[stat.rfind(")") + 2 :].split()


def _live_pids() -> list[Path]:
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    result = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            fields = _proc_stat_fields(entry)
            if fields and fields[0] != "Z":
                result.append(entry)
    return result


def live_group_members(pgid: int) -> list[int]:
    """Pids still running (zombies do not count) in process group ``pgid``."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in _live_pids():
        fields = _proc_stat_fields(entry)
        if fields and len(fields) > 2 and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def processes_with_env(name: str, value: str) -> list[int]:
    """Running processes (other than this one) whose environment has ``name=value``.

    Every process the stack starts, down to each Batch job's task process, carries the stack's
    ``AIRFLOW_HOME``, which is a fresh temporary folder: this finds anything left behind.
    """
    needle = f"{name}={value}".encode()
    found = []
    for entry in _live_pids():
        if int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Component:
    """One running command: its process (the leader of its own group) and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: TextIO

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def close_log(self) -> None:
        if not self.log_file.closed:
            self.log_file.close()


def stop_components(components: Sequence[Component], grace: float = 15.0) -> dict[str, list[int]]:
    """SIGTERM every component's group at once, SIGKILL what is left after ``grace`` seconds.

    Returns, per component, the pids still alive at the end (nothing, normally).
    """
    for component in components:
        if component.running:
            _signal_group(component.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    pending = list(components)
    while pending and time.monotonic() < deadline:
        pending = [c for c in pending if c.process.poll() is None or live_group_members(c.process.pid)]
        if pending:
            time.sleep(0.1)
    for component in pending:
        _signal_group(component.process.pid, signal.SIGKILL)
    leftovers: dict[str, list[int]] = {}
    for component in components:
        with contextlib.suppress(subprocess.TimeoutExpired):
            component.process.wait(timeout=5)
        component.close_log()
        alive = live_group_members(component.process.pid)
        if alive:
            leftovers[component.name] = alive
    return leftovers


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------- REST API


class AirflowApi:
    """The few REST API v2 calls the demo and the tests need, over the standard library's HTTP client.

    The stack runs the simple auth manager with ``all_admins``, so calls need no token.
    """

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: object = None, **params: Any) -> Any:
        pairs = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
        url = f"{self.base_url}{path}" + (f"?{urllib.parse.urlencode(pairs)}" if pairs else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
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

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        result: list[dict[str, Any]] = self.get(path)["task_instances"]
        return result

    def event_logs(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get("/api/v2/eventLogs", limit=100, **filters)["event_logs"]
        return result

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get("/api/v2/jobs", limit=100, **filters)["jobs"]
        return result


class ApiError(StackError):
    """The API server answered with an HTTP error."""

    def __init__(self, method: str, path: str, status: int, detail: str):
        self.status = status
        super().__init__(f"{method} {path} answered {status}: {detail}")


# ---------------------------------------------------------------- the stack


@dataclass
class AirflowStack:
    """Airflow's three long-running components (and optionally a local Batch) in ``home``.

    Call ``migrate``, then ``start_local_batch`` (if the executor is batch-router), then ``start``;
    ``stop`` (or leaving the ``with`` block) stops them all. ``env`` is what every process runs with.
    """

    home: Path
    dags_folder: Path
    port: int = 0
    executor: str = "LocalExecutor"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(64))
    components: dict[str, Component] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()
        self.env = airflow_env(
            home=self.home,
            dags_folder=self.dags_folder,
            port=self.port,
            executor=self.executor,
            jwt_secret=self.jwt_secret,
            log_server_port=free_port(),
            extra=self.extra_env,
        )
        self.api = AirflowApi(f"http://{HOST}:{self.port}")
        self.batch_env: dict[str, str] = {}

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs" / "components"

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def log_paths(self) -> dict[str, Path]:
        """Every component's log file that exists, by component name."""
        names = ["db-migrate", LOCAL_BATCH, *AIRFLOW_COMPONENTS]
        return {name: self.log_path(name) for name in names if self.log_path(name).exists()}

    def _airflow(self, *args: str) -> list[str]:
        return [self.python, "-m", "airflow", *args]

    def migrate(self, timeout: float = 300.0) -> None:
        """``airflow db migrate``: create the SQLite database the components share."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_path("db-migrate")
        with path.open("w") as log:
            try:
                result = subprocess.run(
                    self._airflow("db", "migrate"),
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout,
                    check=False,
                    cwd=self.home,
                )
            except subprocess.TimeoutExpired:
                raise StackError(f"airflow db migrate took over {timeout:.0f}s; see {path}") from None
        if result.returncode != 0:
            raise StackError(f"airflow db migrate failed (exit {result.returncode}):\n{tail(path)}")

    def _spawn(self, name: str, args: Sequence[str]) -> Component:
        if name in self.components and self.components[name].running:
            raise StackError(f"{name} is already running (pid {self.components[name].process.pid})")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(name)
        log_file = log_path.open("a")
        process = subprocess.Popen(
            list(args),
            env={**self.env, **self.batch_env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.home,
        )
        component = Component(name, process, log_path, log_file)
        self.components[name] = component
        return component

    def spawn_local_batch(self, routes_file: Path, port: int = 0) -> None:
        """Start ``batch-router local`` for ``routes_file`` without waiting (``wait_local_batch`` does)."""
        port = port or free_port()
        check_port_free(port, "the local Batch")
        args = [
            self.python,
            "-m",
            "batch_router.cli",
            "local",
            "--routes",
            str(routes_file),
            "--port",
            str(port),
        ]
        self._spawn(LOCAL_BATCH, args)

    def wait_local_batch(self, timeout: float = 60.0) -> dict[str, str]:
        """Until the local Batch has provisioned its routes; returns (and from now on uses) its env."""
        component = self.components[LOCAL_BATCH]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = component.log_path.read_text(errors="replace")
            if "Press Ctrl-C" in text:
                self.batch_env = parse_exports(text)
                if "AWS_ENDPOINT_URL" not in self.batch_env:
                    raise StackError(f"the local Batch printed no endpoint; see {component.log_path}")
                return dict(self.batch_env)
            self.check_running()
            time.sleep(0.1)
        raise StackError(f"the local Batch did not start within {timeout:.0f}s; see {component.log_path}")

    def start_local_batch(self, routes_file: Path, port: int = 0, timeout: float = 60.0) -> dict[str, str]:
        """``spawn_local_batch`` then ``wait_local_batch``."""
        self.spawn_local_batch(routes_file, port)
        return self.wait_local_batch(timeout)

    def start(self, names: Sequence[str] = AIRFLOW_COMPONENTS) -> None:
        """Start Airflow's components (in the background; ``wait_healthy`` waits for them)."""
        if "api-server" in names:
            check_port_free(self.port, "the Airflow API server")
        for name in names:
            self.start_component(name)

    def start_component(self, name: str) -> Component:
        """Start ``airflow <name>`` in a new process group, appending to its log file."""
        args = self._airflow(name)
        if name == "api-server":
            args += ["--port", str(self.port), "--host", HOST]
        return self._spawn(name, args)

    def kill_component(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one component's whole group and wait for it to die (to crash a scheduler)."""
        component = self.components[name]
        _signal_group(component.process.pid, sig)
        component.process.wait(timeout=30)
        component.close_log()

    def check_running(self) -> None:
        """Raise, with the end of its log, if any component has exited."""
        for component in self.components.values():
            code = component.process.poll()
            if code is not None:
                raise StackError(
                    f"{component.name} exited with code {code}; the end of {component.log_path}:\n"
                    + tail(component.log_path)
                )

    def wait_healthy(
        self, timeout: float = 120.0, needs: Sequence[str] = ("scheduler", "dag_processor")
    ) -> None:
        """Until the API server answers and reports the scheduler and the DAG processor healthy."""
        last: object = "no answer"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            try:
                health = self.api.health()
            except (OSError, StackError) as err:
                last = err
            else:
                last = health
                if all((health.get(part) or {}).get("status") == "healthy" for part in needs):
                    return
            time.sleep(0.5)
        raise StackError(f"Airflow did not become healthy within {timeout:.0f}s; last answer: {last}")

    def wait_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Until the DAG processor has parsed ``dag_id``; fail fast on an import error in the DAGs folder."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            dag = self.api.dag(dag_id)
            if dag is not None:
                return dag
            errors = self.api.import_errors()
            if errors:
                text = "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                raise StackError(f"DAG files failed to import:\n{text}")
            time.sleep(0.5)
        raise StackError(
            f"DAG {dag_id!r} was not parsed within {timeout:.0f}s; see {self.log_path('dag-processor')}"
        )

    def run_dag(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Unpause and trigger ``dag_id``; returns the run id."""
        self.api.unpause(dag_id)
        return self.api.trigger(dag_id, conf)

    def wait_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 300.0,
        on_change: StateCallback | None = None,
        interval: float = 0.5,
        on_tick: Callable[[], None] | None = None,
    ) -> str:
        """Until the run has finished; ``on_change(task, old, new)`` sees every task state change.

        ``on_tick`` runs once per poll, for callers that watch something else (Batch) meanwhile.
        """
        states: dict[str, str | None] = {}
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            for ti in self.api.task_instances(dag_id, run_id):
                key = ti["task_id"] if ti.get("map_index", -1) < 0 else f"{ti['task_id']}[{ti['map_index']}]"
                new = ti.get("state")
                if key not in states or states[key] != new:
                    old = states.get(key)
                    states[key] = new
                    if on_change is not None:
                        on_change(key, old, new)
            if on_tick is not None:
                on_tick()
            state: str = self.api.dag_run(dag_id, run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                return state
            if time.monotonic() > deadline:
                raise StackError(f"run {run_id} of {dag_id} is still {state} after {timeout:.0f}s")
            time.sleep(interval)

    def stop(self, grace: float = 15.0) -> dict[str, list[int]]:
        """Stop every component and kill anything still carrying this home; returns what had to be killed.

        The keys are component names, plus ``"stray"`` for processes outside every component's group
        (e.g. a Batch job whose local Batch died).
        """
        leftovers = stop_components(list(self.components.values()), grace)
        strays = processes_with_env("AIRFLOW_HOME", str(self.home))
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if strays:
            leftovers["stray"] = strays
        return leftovers

    def __enter__(self) -> AirflowStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
