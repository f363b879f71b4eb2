"""Process groups: start a command as the leader of its own, signal the whole group, find what is left.

Each job of the local Batch and each component of the Airflow stack gets a new session
(``start_new_session``) so that everything it forks can be signalled at once: SIGTERM first, SIGKILL
after a grace period, as ``docker stop`` does to a container.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["live_group_members", "processes_with_env", "signal_group", "spawn", "stop_group"]


def spawn(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, output: IO[str] | int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new process group; stdout and stderr go, in the order written, to ``output``
    (a pipe unless a file is given)."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False when nothing of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # the group id was reused by someone else's processes: not ours to kill
        return False
    return True


def stop_group(proc: subprocess.Popen[bytes], grace_seconds: float) -> None:
    """SIGTERM the group if its leader still runs, give it ``grace_seconds``, then SIGKILL what is left.

    Also right after a normal exit: what the leader left running dies with it, as a container's
    processes die with its PID 1.
    """
    if proc.poll() is None:
        signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


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
