"""Rate limits: failed logins per account and address, and chat frames per attempt.

Login counts are kept in the database, shared by every worker and reset by `sandbox users
unlock`; the chat's frame buckets are in memory, one per attempt in each worker. The clock
is an argument, so the tests move time instead of waiting for it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from sandbox.config import Settings
from sandbox.storage.throttle import Check, Rule, account_key, address_key, count_try, take_back

Clock = Callable[[], float]
#: Attempts whose chat bucket a worker remembers; the least recently used are forgotten.
MAX_KEYS = 10_000


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


@dataclass(frozen=True)
class LoginTry:
    """The keys one login try was counted against (to take it back when it succeeds)."""

    account: str
    address: str


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
    """Failed logins counted per account at one address, and per address across names.

    The counts are in the database (storage/throttle.py), so every worker and the console
    see the same ones. Guessing one account from one address is slowed down there without
    refusing the right password from another address: a stranger can no longer lock the
    owner out by failing on purpose. docs/security.md describes the trade-off.
    """

    per_account: Rule
    per_address: Rule
    secret: str
    clock: Clock = time.time

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = time.time) -> LoginLimits:
        window = float(settings.login_window_s)
        return cls(
            per_account=Rule(settings.login_failures_per_account, window),
            per_address=Rule(settings.login_failures_per_address, window),
            secret=settings.resolved_secret_key(),
            clock=clock,
        )

    def name_hash(self, name: str) -> str:
        """A keyed hash of a name that is no account's: the same for the same name, and
        useless to anyone without the secret (it may be a password typed in the wrong box)."""
        digest = hmac.new(self.secret.encode(), name.encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest[:24]}"

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def begin(
        self, engine: Engine, *, name: str, user_id: int | None, address: str
    ) -> LoginTry | int:
        """Count a try of `name` from `address`: the try, or the seconds to wait first."""
        account = f"user:{user_id}" if user_id is not None else f"name:{self.name_hash(name)}"
        counted = LoginTry(account_key(account, address), address_key(address))
        wait_s = count_try(
            engine,
            [
                Check(counted.account, self.per_account, user_id),
                Check(counted.address, self.per_address),
            ],
            self._now(),
        )
        return counted if wait_s is None else wait_s

    def succeeded(self, engine: Engine, counted: LoginTry) -> None:
        """The password was right: this account starts afresh at this address, and the
        address gets its try back (a classroom behind one address is not slowed by logins)."""
        take_back(engine, forget=counted.account, uncount=counted.address)
