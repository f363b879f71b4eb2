"""The start-up health check, made safe against an AWS that does not answer for a while.

A finding (a queue missing or disabled, the wrong compute, an inactive job definition) stops start-up:
every task on that route would fail. A check AWS did not answer (throttling, a 5xx, the network, a
short spell without credentials) found nothing: it is tried again with backoff for a bounded time, and
if AWS still does not answer the scheduler starts anyway and the check goes on in a background thread,
its result logged (an ERROR naming each route, should it find something then).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from batch_router.aws.health import HealthUnknown
from batch_router.aws.log import Log
from batch_router.aws.pacing import Pacing
from batch_router.errors import ConfigError

__all__ = ["StartupCheck"]


class StartupCheck:
    def __init__(self, check: Callable[[], None], log: Log, pacing: Pacing, *, retry_seconds: float):
        self._check = check  # raises ConfigError (a finding) or HealthUnknown (AWS did not answer)
        self._log = log
        self._pacing = pacing
        self._retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Check now; raise ``ConfigError`` on a finding; return once checked, or once handed to the
        background after ``retry_seconds`` without an answer."""
        deadline = time.monotonic() + self._retry_seconds
        attempt = 0
        while True:
            try:
                self._check()
            except HealthUnknown as exc:
                attempt += 1
                delay = self._pacing.backoff(attempt)
                if time.monotonic() + delay > deadline:
                    self._log.warning(
                        "batch-router: AWS did not answer the start-up health check (%s); starting "
                        "anyway and checking again in the background",
                        exc,
                    )
                    self._start_background(attempt)
                    return
                time.sleep(delay)
                continue
            self._log.info("batch-router: every route passed the AWS Batch health check")
            return

    def _start_background(self, attempts: int) -> None:
        self._thread = threading.Thread(
            target=self._keep_checking, args=(attempts,), name="batch-router-health", daemon=True
        )
        self._thread.start()

    def _keep_checking(self, attempt: int) -> None:
        while not self._stop.wait(self._pacing.backoff(attempt)):
            attempt += 1
            try:
                self._check()
            except HealthUnknown:
                continue
            except ConfigError as exc:
                self._log.error("batch-router: the AWS Batch health check found problems:\n%s", exc)
                return
            except Exception:  # a bug of ours must not kill the thread silently
                self._log.exception("batch-router: the background health check failed")
                return
            self._log.info("batch-router: every route passed the AWS Batch health check (in the background)")
            return

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
