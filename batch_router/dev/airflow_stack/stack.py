"""A real Airflow (API server, DAG processor, scheduler) and a local Batch as child processes.

Used by ``batch-router demo`` and by the end-to-end tests, so both exercise what a deployment runs:
separate processes talking through one metadata database (SQLite, or PostgreSQL for several
schedulers) and the Execution API, never Airflow imported
in-process. Every component runs in its own process group and writes one log file under the throw-away
``AIRFLOW_HOME``, so a failed run can be read afterwards and stopping a component takes its children
(uvicorn workers, DAG parsers, Batch jobs) with it.

The local Batch runs as a process of its own (``batch-router local``) started with the same environment
as Airflow: its jobs are the "containers" and inherit that environment, which is how a task process
finds the Execution API, the DAGs folder and the JWT secret, as a worker image would carry them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch_router.config.settings import env_var
from batch_router.dev.airflow_stack.api import AirflowApi
from batch_router.dev.airflow_stack.components import Component, stop_components, tail
from batch_router.dev.airflow_stack.env import airflow_env, parse_exports
from batch_router.dev.airflow_stack.errors import StackError
from batch_router.dev.airflow_stack.ports import HOST, check_port_free, free_port
from batch_router.dev.processes import processes_with_env, signal_group, spawn

__all__ = ["AIRFLOW_COMPONENTS", "LOCAL_BATCH", "AirflowStack"]

AIRFLOW_COMPONENTS: tuple[str, ...] = ("api-server", "dag-processor", "scheduler")
LOCAL_BATCH = "local-batch"
TERMINAL_RUN_STATES = frozenset({"success", "failed"})

StateCallback = Callable[[str, "str | None", "str | None"], None]


@dataclass
class AirflowStack:
    """Airflow's three long-running components (and optionally a local Batch) in ``home``.

    Call ``spawn_local_batch`` (if the executor is batch-router), ``migrate``, ``wait_local_batch``,
    then ``start``;
    ``stop`` (or leaving the ``with`` block) stops them all. ``env`` is what every process runs with.
    """

    home: Path
    dags_folder: Path
    port: int = 0
    executor: str = "LocalExecutor"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    database_url: str | None = None  # SQLite in ``home`` when not given
    job_events: bool = True  # the executor reads the local Batch's job events queue (else: polls only)
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
            database_url=self.database_url,
            extra=self.extra_env,
        )
        self.api = AirflowApi(f"http://{HOST}:{self.port}")
        self.batch_env: dict[str, str] = {}
        self.killed: set[str] = set()  # components killed on purpose: their exit is not a failure

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs" / "components"

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def log_paths(self) -> dict[str, Path]:
        """Every component's log file that exists, by component name."""
        names = ["db-migrate", LOCAL_BATCH, *AIRFLOW_COMPONENTS, *self.components]
        names = list(dict.fromkeys(names))
        return {name: self.log_path(name) for name in names if self.log_path(name).exists()}

    def _airflow(self, *args: str) -> list[str]:
        return [self.python, "-m", "airflow", *args]

    def migrate(self, timeout: float = 300.0) -> None:
        """``airflow db migrate``: create the database the components share."""
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
        self.killed.discard(name)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(name)
        log_file = log_path.open("a")
        process = spawn(args, env={**self.env, **self.batch_env}, cwd=self.home, output=log_file)
        component = Component(name, process, log_path, log_file)
        self.components[name] = component
        return component

    def spawn_local_batch(
        self, routes_file: Path, port: int = 0, *, held: Sequence[str] = (), throttle_submits: int = 0
    ) -> None:
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
            "--work-dir",  # inside the home, so a local Batch that had to be killed leaves nothing behind
            str(self.home / "local-batch"),
        ]
        for job_queue in held:
            args += ["--hold-capacity", job_queue]
        if throttle_submits:
            args += ["--throttle-submits", str(throttle_submits)]
        self._spawn(LOCAL_BATCH, args)

    def wait_local_batch(self, timeout: float = 60.0) -> dict[str, str]:
        """Until the local Batch has provisioned its routes; returns (and from now on uses) its env."""
        component = self.components[LOCAL_BATCH]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = component.log_path.read_text(errors="replace")
            if "Press Ctrl-C" in text:
                self.batch_env = parse_exports(text)
                if not self.job_events:
                    self.batch_env.pop(env_var("job_events_queue"), None)
                if "AWS_ENDPOINT_URL" not in self.batch_env:
                    raise StackError(f"the local Batch printed no endpoint; see {component.log_path}")
                return dict(self.batch_env)
            self.check_running()
            time.sleep(0.1)
        raise StackError(f"the local Batch did not start within {timeout:.0f}s; see {component.log_path}")

    def start_on_local_batch(
        self,
        routes_file: Path,
        timeout: float = 180.0,
        *,
        held: Sequence[str] = (),
        throttle_submits: int = 0,
    ) -> None:
        """The usual whole start: the local Batch for ``routes_file`` (while the database is migrated;
        ``held``: job queues whose capacity it holds), then every Airflow component, healthy."""
        self.spawn_local_batch(routes_file, held=held, throttle_submits=throttle_submits)
        self.migrate()
        self.wait_local_batch()
        self.start()
        self.wait_healthy(timeout=timeout)

    def start(self, names: Sequence[str] = AIRFLOW_COMPONENTS) -> None:
        """Start Airflow's components (in the background; ``wait_healthy`` waits for them)."""
        if "api-server" in names:
            check_port_free(self.port, "the Airflow API server")
        for name in names:
            self.start_component(name)

    def start_component(self, name: str, command: str | None = None) -> Component:
        """Start ``airflow <command>`` (``name`` by default) in a new process group, appending to the
        log file of ``name``: a second scheduler is ``start_component("scheduler-2", "scheduler")``."""
        command = command or name
        args = self._airflow(command)
        if command == "api-server":
            args += ["--port", str(self.port), "--host", HOST]
        return self._spawn(name, args)

    def kill_component(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one component's whole group and wait for it to die (to crash a scheduler)."""
        component = self.components[name]
        self.killed.add(name)
        signal_group(component.process.pid, sig)
        component.process.wait(timeout=30)
        component.close_log()

    def check_running(self) -> None:
        """Raise, with the end of its log, if any component has exited (but those killed on purpose)."""
        for component in self.components.values():
            if component.name in self.killed:
                continue
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
