"""``batch-router local``: run the local Batch in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from batch_router.config.model import RouteTable
from batch_router.dev.local.local_batch import LocalBatch
from batch_router.errors import BatchRouterError, ProblemsError


def _load_routes(routes_file: Path | None) -> tuple[RouteTable, str]:
    from batch_router.config.routes import read_route_file

    if routes_file is None:
        from batch_router.examples import ROUTES_FILE

        return read_route_file(ROUTES_FILE), "the bundled example routes"
    return read_route_file(routes_file), str(routes_file)


def export_lines(env: dict[str, str]) -> list[str]:
    """``export NAME=value`` lines, quoted for a POSIX shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def run_local(
    routes_file: Path | None,
    port: int | None,
    region: str,
    work_dir: Path | None = None,
    *,
    held: Sequence[str] = (),
    throttle_submits: int = 0,
) -> int:
    """Serve a local Batch provisioned from ``routes_file`` (default: the bundled example routes).

    Jobs run in ``work_dir`` (default: a temporary folder removed on exit; a caller that may have to kill
    the server gives its own, inside a folder it removes). ``held``: job queues whose capacity is held
    (``LocalBatch.hold_capacity``), so their jobs wait as on AWS when EC2 has no instances."""
    try:
        table, source = _load_routes(routes_file)
    except ProblemsError as err:
        print(str(err), file=sys.stderr)
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    batch = LocalBatch(table, port=port, region=region, work_dir=work_dir, throttle_submits=throttle_submits)
    try:
        try:
            batch.start()
        except BatchRouterError as err:
            print(f"batch-router local: {err}", file=sys.stderr)
            return 1
        for job_queue in held:
            batch.hold_capacity(job_queue)
        print(f"Local AWS Batch listening on {batch.endpoint_url} (region {region})")
        print(
            "WARNING: every job submitted here runs its command as you, on this machine. The server "
            "listens on 127.0.0.1 only and refuses requests for another host or from a web browser, "
            "but any program you run can submit jobs. Do not forward its port. (docs/local.md)",
            file=sys.stderr,
        )
        print(f"Provisioned from {source}:")
        for route in table.routes:
            print(f"  {route.name} ({route.compute}): {route.job_queue} / {route.job_definition}")
        for job_queue in held:
            print(f"  capacity held for {job_queue}: its jobs wait (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY)")
        if throttle_submits:
            print(
                f"  the first {throttle_submits} SubmitJob calls are throttled (429 TooManyRequestsException)"
            )
        print("\nPoint Airflow and boto3 at it with:\n")
        print("\n".join(export_lines(batch.env())))
        print("\nPress Ctrl-C to stop (every running job is killed).", flush=True)
        while not stop.wait(0.5):
            pass
        print("Stopping the local Batch...", flush=True)
        return 0
    finally:
        batch.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
