"""One rate limiter per backend, shared by every thread in the process.

A token bucket (a short burst, then a steady rate) keeps us polite, and a back-off
window after the service says "too many requests" keeps us from hammering it: while
the window is open the chain skips the backend at once instead of waiting, so the
agent gets an answer from the next backend (or a clear message) without stalling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter", "limiter_for", "reset_limiters"]

MAX_BACKOFF_SECONDS = 300.0


class RateLimiter:
    """Token bucket plus exponential back-off; every method is thread-safe."""

    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int,
        backoff_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.backoff_seconds = backoff_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()
        self._penalty = 0.0
        self._blocked_until = 0.0

    def blocked_for(self) -> float:
        """Seconds left in the back-off window (0 when the backend may be called)."""
        with self._lock:
            return max(0.0, self._blocked_until - self._clock())

    def acquire(self, max_wait: float) -> float | None:
        """Reserve a call: the seconds to sleep first, or None if that exceeds ``max_wait``."""
        with self._lock:
            now = self._clock()
            if self.rate_per_second > 0:
                elapsed = now - self._updated
                self._tokens = min(self.burst, self._tokens + elapsed * self.rate_per_second)
            else:
                self._tokens = float(self.burst)
            self._updated = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate_per_second
            if wait > max_wait:
                return None
            self._tokens -= 1  # may go negative: later callers queue behind this one
            return wait

    def back_off(self, retry_after: float | None = None) -> float:
        """The service rate-limited us: stay away for a while. Returns the window in seconds."""
        with self._lock:
            if retry_after is not None and retry_after > 0:
                self._penalty = min(retry_after, MAX_BACKOFF_SECONDS)
            else:
                self._penalty = min(
                    max(self._penalty * 2, self.backoff_seconds), MAX_BACKOFF_SECONDS
                )
            self._blocked_until = self._clock() + self._penalty
            return self._penalty

    def succeeded(self) -> None:
        """A call went through: forget the back-off."""
        with self._lock:
            self._penalty = 0.0
            self._blocked_until = 0.0


_lock = threading.Lock()
_limiters: dict[str, RateLimiter] = {}


def limiter_for(
    name: str, *, rate_per_second: float, burst: int, backoff_seconds: float
) -> RateLimiter:
    """The process-wide limiter for backend ``name`` (created on first use)."""
    with _lock:
        if name not in _limiters:
            _limiters[name] = RateLimiter(
                rate_per_second=rate_per_second, burst=burst, backoff_seconds=backoff_seconds
            )
        return _limiters[name]


def reset_limiters() -> None:
    """Forget every limiter's state (a fresh process, as far as rate limits go)."""
    with _lock:
        _limiters.clear()
