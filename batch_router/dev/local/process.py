"""Start a job's command as its own process group and stop the whole group, like a container's end.

Each job gets a new session (``start_new_session``) so that everything it forks can be signalled at
once: SIGTERM first, SIGKILL after a grace period, as ``docker stop`` does to a container.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def spawn(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new process group; stdout and stderr share one pipe, in the order written."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> bool:
    """Send ``sig`` to the job's process group; False when nothing of it is left."""
    try:
        os.killpg(proc.pid, sig)
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
        signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    signal_group(proc, signal.SIGKILL)
    proc.wait()
