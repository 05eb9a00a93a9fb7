"""Limits on the unauthenticated `POST /<endpoint>/feedback` (each record is a commit that gc
never reclaims): a size per record, one record per request id, and a rate per endpoint.

The rate is a token bucket per endpoint holding `count` tokens, refilled at count/period: a
burst of `count` feedbacks passes, then one per period/count. Refused requests answer 413 (too
large), 409 (this request id already has its record) or 429 with Retry-After (rate)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class FeedbackLimits:
    max_bytes: int = DEFAULT_MAX_BYTES  # KAON_FEEDBACK_MAX_BYTES
    count: int = 600  # KAON_FEEDBACK_RATE = count/period (kaon.config)
    period: float = 60.0

    @property
    def rate_text(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.period, f"{self.period:g}s")
        return f"{self.count}/{unit}"


class FeedbackGate:
    """The per-endpoint token buckets (thread-safe; the clock is injectable for tests)."""

    def __init__(self, limits: FeedbackLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # endpoint -> (tokens, when)

    def admit(self, endpoint: str) -> float:
        """Take a token for `endpoint`: 0 when admitted, else the seconds until one is free."""
        rate = self.limits.count / self.limits.period
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(endpoint, (float(self.limits.count), now))
            tokens = min(float(self.limits.count), tokens + (now - then) * rate)
            if tokens >= 1.0:
                self._buckets[endpoint] = (tokens - 1.0, now)
                return 0.0
            self._buckets[endpoint] = (tokens, now)
            return max(1.0, math.ceil((1.0 - tokens) / rate))
