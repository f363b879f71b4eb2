"""The token bucket that stands in for AWS Batch's SubmitJob request-rate limit."""

from __future__ import annotations

import threading


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; a request without a token is throttled.

    Time is passed in rather than read, so the arithmetic can be tested without sleeping.
    """

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1 token, got {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = now
        self._lock = threading.Lock()

    def try_acquire(self, now: float) -> bool:
        with self._lock:
            if now > self._stamp:
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False
