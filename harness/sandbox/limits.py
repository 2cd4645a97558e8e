"""Rate limits: a token bucket per client, refilled continuously (rate per second, up to burst)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # whole seconds until one request is allowed again (0 when allowed)
    reset: int  # whole seconds until the bucket is full

    def headers(self, rate: float, burst: int) -> dict[str, str]:
        """IETF RateLimit header fields, and Retry-After on refusals."""
        window = max(1, math.ceil(burst / rate))
        out = {
            "RateLimit": f'"default";r={self.remaining};t={self.reset}',
            "RateLimit-Policy": f'"default";q={burst};w={window}',
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
        return self.decide(allowed, tokens)

    def decide(self, allowed: bool, tokens: float) -> Decision:
        """The answer for a bucket left with `tokens` (wherever the bucket is kept)."""
        retry = 0 if allowed else max(1, math.ceil((1 - tokens) / self.rate))
        reset = math.ceil((self.burst - tokens) / self.rate)
        return Decision(allowed, int(tokens), retry, reset)
