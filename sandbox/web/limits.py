"""Rate limits: failed logins per account and per address, and chat frames per attempt.

Both are in memory, per process: with several workers each counts on its own, so the
effective limit is the setting times the number of workers (docs/security.md). The clock
is an argument, so the tests move time instead of waiting for it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.config import Settings

Clock = Callable[[], float]

# Enough keys for every account and address of a large site; the least recently failing
# ones are forgotten first, so a flood of made-up names cannot grow memory without bound.
MAX_KEYS = 10_000


@dataclass
class FailureLimiter:
    """At most `limit` failures per key in any `window_s` seconds; then wait for one to age out."""

    limit: int
    window_s: float
    clock: Clock = time.monotonic
    failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self.failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self.failures[key]
        return times

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until `key` may try again, or None when it may try now."""
        now = self.clock()
        times = self._recent(key, now)
        if len(times) < self.limit:
            return None
        # The oldest failure that still counts must age out before a try is allowed.
        oldest = times[len(times) - self.limit]
        return max(1, math.ceil(oldest + self.window_s - now))

    def fail(self, key: str) -> None:
        """Count one failure for `key`."""
        now = self.clock()
        times = self._recent(key, now)
        times.append(now)
        self.failures[key] = times
        self.failures.move_to_end(key)
        while len(self.failures) > MAX_KEYS:
            self.failures.popitem(last=False)

    def clear(self, key: str) -> None:
        """Forget `key`'s failures (a successful login)."""
        self.failures.pop(key, None)


@dataclass
class TokenBucket:
    """`burst` frames at once, then one more every 60/`per_minute` seconds."""

    burst: int
    per_minute: float
    clock: Clock = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.updated = self.clock()

    def take(self) -> bool:
        """Spend one token; False (and nothing spent) when the bucket is empty."""
        now = self.clock()
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.per_minute / 60)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class SharedBuckets:
    """One `TokenBucket` per key (a chat attempt), shared by every socket on it.

    A bucket outlives its sockets: closing a socket and opening a new one does not refill
    it. The least recently used keys are forgotten first (`MAX_KEYS`); a forgotten key
    starts again with a full burst.
    """

    burst: int
    per_minute: float
    clock: Clock = time.monotonic
    buckets: OrderedDict[int, TokenBucket] = field(default_factory=OrderedDict)

    def take(self, key: int) -> bool:
        """Spend one of `key`'s tokens; False (nothing spent) when its bucket is empty."""
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(self.burst, self.per_minute, self.clock)
            while len(self.buckets) > MAX_KEYS:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
        return bucket.take()


@dataclass
class LoginLimits:
    """Failed logins counted per account name and per client address."""

    per_account: FailureLimiter
    per_address: FailureLimiter

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = time.monotonic) -> LoginLimits:
        window = float(settings.login_window_s)
        return cls(
            per_account=FailureLimiter(settings.login_failures_per_account, window, clock),
            per_address=FailureLimiter(settings.login_failures_per_address, window, clock),
        )

    @staticmethod
    def account_key(name: str) -> str:
        return name.strip().lower()[:64]

    def retry_after(self, name: str, address: str) -> int | None:
        """Seconds until this name may try again from this address, or None."""
        waits = [
            wait
            for wait in (
                self.per_account.retry_after(self.account_key(name)),
                self.per_address.retry_after(address),
            )
            if wait is not None
        ]
        return max(waits) if waits else None

    def failed(self, name: str, address: str) -> None:
        self.per_account.fail(self.account_key(name))
        self.per_address.fail(address)

    def succeeded(self, name: str) -> None:
        self.per_account.clear(self.account_key(name))
