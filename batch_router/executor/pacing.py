"""When the executor may call AWS again: exponential backoff with jitter, and pauses after throttling
or failed credentials that hold every call, not just the one that failed (the next ones would fail alike).
"""

from __future__ import annotations

import random


class Pacing:
    def __init__(self, base_seconds: float, max_seconds: float):
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.throttled_until = 0.0
        self.credentials_until = 0.0
        self._throttle_streak = 0
        self._credentials_streak = 0

    def backoff(self, n: int) -> float:
        """The wait before try ``n`` (1-based): base * 2**(n-1), capped, with jitter so callers spread out."""
        delay = min(self.max_seconds, self.base_seconds * 2 ** max(n - 1, 0))
        return float(delay * random.uniform(0.5, 1.0))

    def paused(self, now: float) -> bool:
        return now < max(self.throttled_until, self.credentials_until)

    def throttled(self, now: float) -> float:
        """AWS said slow down: hold every call, longer each time in a row. Returns when calls resume."""
        self._throttle_streak += 1
        self.throttled_until = max(self.throttled_until, now + self.backoff(self._throttle_streak))
        return self.throttled_until

    def credentials_failed(self, now: float) -> float:
        """Credentials are missing or expired: hold every call until they may have been renewed."""
        self._credentials_streak += 1
        self.credentials_until = now + self.backoff(self._credentials_streak)
        return self.credentials_until

    def recovered(self) -> None:
        """A call went through: the next throttling or credential failure starts from a short pause."""
        self._throttle_streak = self._credentials_streak = 0
