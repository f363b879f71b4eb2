"""The stack's running commands, each the leader of its own process group with its own log file."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from batch_router.dev.processes import live_group_members, signal_group

__all__ = ["Component", "stop_components", "tail"]


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
            signal_group(component.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    pending = list(components)
    while pending and time.monotonic() < deadline:
        pending = [c for c in pending if c.process.poll() is None or live_group_members(c.process.pid)]
        if pending:
            time.sleep(0.1)
    for component in pending:
        signal_group(component.process.pid, signal.SIGKILL)
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
