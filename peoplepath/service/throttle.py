"""Request-rate limits: token buckets, one global and one per access key."""

from __future__ import annotations

import threading
import time

from ..errors import ProvisionedThroughputExceededException, ThrottlingException


class TokenBucket:
    """`rate` tokens a second, holding at most `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, max(burst, 1.0)
        self._tokens, self._last = self.burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Global limit -> ThrottlingException; per-key limit ->
    ProvisionedThroughputExceededException. A rate of 0 turns a limit off."""

    def __init__(self, rate: float, key_rate: float) -> None:
        self._lock = threading.Lock()
        self._global = TokenBucket(rate, rate) if rate > 0 else None
        self._key_rate = key_rate
        self._per_key: dict[str, TokenBucket] = {}

    def check(self, access_key: str | None) -> None:
        with self._lock:
            if self._global is not None and not self._global.take():
                raise ThrottlingException("Rate exceeded: slow down and try again")
            if self._key_rate > 0:
                bucket = self._per_key.setdefault(access_key or "", TokenBucket(self._key_rate, self._key_rate))
                if not bucket.take():
                    raise ProvisionedThroughputExceededException(
                        "The number of requests exceeded your throughput limit"
                    )
