"""Request-rate limits: token buckets, one global and one per client (a verified access
key, or the client's address when keys are not verified)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from ..errors import ProvisionedThroughputExceededException, ThrottlingException

MAX_TRACKED_CLIENTS = 10_000


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
    """Global limit -> ThrottlingException; per-client limit ->
    ProvisionedThroughputExceededException. A rate of 0 turns a limit off. At most
    `max_keys` clients are tracked: past that, the least recently seen one is forgotten
    (its bucket would have refilled by then unless the table is flooded)."""

    def __init__(self, rate: float, key_rate: float, max_keys: int = MAX_TRACKED_CLIENTS) -> None:
        self._lock = threading.Lock()
        self._global = TokenBucket(rate, rate) if rate > 0 else None
        self._key_rate = key_rate
        self._max_keys = max_keys
        self._per_key: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        """How many clients' buckets are held."""
        return len(self._per_key)

    def check(self, client: str) -> None:
        with self._lock:
            if self._global is not None and not self._global.take():
                raise ThrottlingException("Rate exceeded: slow down and try again")
            if self._key_rate > 0 and not self._bucket(client).take():
                raise ProvisionedThroughputExceededException("The number of requests exceeded your throughput limit")

    def _bucket(self, client: str) -> TokenBucket:
        bucket = self._per_key.get(client)
        if bucket is None:
            bucket = self._per_key[client] = TokenBucket(self._key_rate, self._key_rate)
            if len(self._per_key) > self._max_keys:
                self._per_key.popitem(last=False)
        else:
            self._per_key.move_to_end(client)
        return bucket
