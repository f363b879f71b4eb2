"""When the executor may call AWS again: exponential backoff with jitter, and pauses after throttling
or failed credentials that hold every call, not just the one that failed (the next ones would fail alike).

One spell is one step: the calls already in flight when a pause begins come back failing too, and they
must not lengthen it (a 1.4 s credentials spell once became a two-minute stall that way). A pause grows
only for a failure after it ended, and a pause for credentials ends as soon as one call goes through.
"""

from __future__ import annotations

import random

from batch_router.config.tunables import Tunables


class Pacing:
    def __init__(self, base_seconds: float, max_seconds: float, rng: random.Random | None = None):
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self._rng = rng if rng is not None else random.Random()
        self.throttled_until = 0.0
        self.credentials_until = 0.0
        self._throttle_streak = 0
        self._credentials_streak = 0

    @classmethod
    def of(cls, tunables: Tunables) -> Pacing:
        """A fresh backoff and pause keeper with the executor's (team's) bounds."""
        return cls(tunables.retry_base_seconds, tunables.retry_max_seconds)

    def backoff(self, n: int) -> float:
        """The wait before try ``n`` (1-based): base * 2**(n-1), capped, with jitter so callers spread out."""
        delay = min(self.max_seconds, self.base_seconds * 2 ** max(n - 1, 0))
        return float(delay * self._rng.uniform(0.5, 1.0))

    def paused(self, now: float) -> bool:
        return now < max(self.throttled_until, self.credentials_until)

    def throttled(self, now: float) -> float:
        """AWS said slow down: hold every call, longer each time in a row. Returns when calls resume."""
        if now < self.throttled_until:  # sent before this pause began: the spell is paced already
            return self.throttled_until
        self._throttle_streak += 1
        self.throttled_until = max(self.throttled_until, now + self.backoff(self._throttle_streak))
        return self.throttled_until

    def credentials_failed(self, now: float) -> float:
        """Credentials are missing or expired: hold every call until they may have been renewed."""
        if now < self.credentials_until:  # sent before this pause began: the spell is paced already
            return self.credentials_until
        self._credentials_streak += 1
        self.credentials_until = now + self.backoff(self._credentials_streak)
        return self.credentials_until

    def recovered(self) -> None:
        """A call went through: the credentials work, and the next failure starts from a short pause."""
        self._throttle_streak = self._credentials_streak = 0
        self.credentials_until = 0.0
