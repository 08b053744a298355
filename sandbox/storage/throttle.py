"""Failed-login counts in the database, shared by every worker and by the console.

A row counts the recent login tries of one key: an account name at one client address, or
one client address across names. A try is counted before the password is checked (in its
own short transaction, under a row lock), so many simultaneous guesses cannot all pass
the check before any of them is counted; a success takes its try back. Past a number of
free tries each further one must wait, twice as long as the one before, up to the window;
a key quiet for a whole window starts again from nothing. Rows that old are purged.

The keys never hold a name as typed (it may be a password typed into the name field):
a known account is keyed by its id, an unknown name by a keyed hash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Engine, String, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col, select

#: The first wait once the free tries are used up; each further failure doubles it.
FIRST_DELAY_S = 60.0
KEY_CHARS = 160
ADDRESS_CHARS = 100


class LoginThrottle(SQLModel, table=True):
    """Recent login tries of one key (see the module's description)."""

    __tablename__ = "login_throttle"

    key: str = Field(sa_type=String(KEY_CHARS), primary_key=True)
    # The account the key is about, when the name is a known one: `sandbox users unlock`.
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    failures: int = 0
    last_failure_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class Rule:
    """`free` tries per `window_s`; after them a wait that doubles from FIRST_DELAY_S."""

    free: int
    window_s: float

    def delay_s(self, failures: int) -> float:
        """How long after the last counted try the next one must wait."""
        if failures < self.free:
            return 0.0
        doublings = min(failures - self.free, 32)
        return min(self.window_s, FIRST_DELAY_S * 2.0**doublings)


@dataclass(frozen=True)
class Check:
    """One key to count a try against, under `rule`."""

    key: str
    rule: Rule
    user_id: int | None = None


def address_key(address: str) -> str:
    return f"address:{address[:ADDRESS_CHARS]}"


def account_key(account: str, address: str) -> str:
    """`account` is "user:ID" for a known name or "name:HASH" for an unknown one."""
    return f"{account}@{address[:ADDRESS_CHARS]}"


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; they were stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _insert(engine: Engine) -> type[sqlite.Insert] | type[postgresql.Insert]:
    return postgresql.Insert if engine.dialect.name == "postgresql" else sqlite.Insert


def _purge(engine: Engine, before: datetime) -> None:
    """Forget keys quiet since `before`: the table stays as small as the recent past.

    In a transaction of its own, skipping rows another try holds (PostgreSQL), so it never
    waits for a lock and never holds one while a try takes its keys.
    """
    stale = (
        select(LoginThrottle.key)
        .where(col(LoginThrottle.last_failure_at) < before)
        .with_for_update(skip_locked=True)
    )
    with Session(engine) as session:
        session.exec(delete(LoginThrottle).where(col(LoginThrottle.key).in_(stale)))
        session.commit()


def count_try(engine: Engine, checks: Sequence[Check], now: datetime) -> int | None:
    """Count one try against every key, or none if any key must still wait.

    Returns None when the try may go ahead (it is counted, committed), else the whole
    seconds the longest wait has left (nothing is counted: a refused try costs nothing).
    """
    checks = sorted(checks, key=lambda check: check.key)  # one lock order for everyone
    longest_window = max((check.rule.window_s for check in checks), default=0.0)
    _purge(engine, now - timedelta(seconds=longest_window))
    with Session(engine) as session:
        # Make each row exist, then lock them (PostgreSQL: FOR UPDATE; SQLite: the insert
        # already took the database's write lock), so simultaneous tries queue here.
        insert = _insert(engine)
        for check in checks:
            session.exec(
                insert(LoginThrottle)
                .values(key=check.key, user_id=check.user_id, failures=0, last_failure_at=now)
                .on_conflict_do_nothing(index_elements=["key"])
            )
        rows = {
            row.key: row
            for row in session.exec(
                select(LoginThrottle)
                .where(col(LoginThrottle.key).in_([check.key for check in checks]))
                .order_by(col(LoginThrottle.key))
                .with_for_update()
            )
        }
        waits: list[float] = []
        counts: dict[str, int] = {}
        for check in checks:
            row = rows[check.key]
            last = _aware(row.last_failure_at)
            recent = row.failures if now - last < timedelta(seconds=check.rule.window_s) else 0
            counts[check.key] = recent
            wait = (last - now).total_seconds() + check.rule.delay_s(recent)
            if recent >= check.rule.free and wait > 0:
                waits.append(wait)
        if waits:
            session.rollback()
            return max(1, math.ceil(max(waits)))
        for check in checks:
            row = rows[check.key]
            row.failures = counts[check.key] + 1
            row.last_failure_at = now
            if check.user_id is not None:
                row.user_id = check.user_id
            session.add(row)
        session.commit()
    return None


def take_back(engine: Engine, *, forget: str, uncount: str) -> None:
    """A try succeeded: forget the key `forget` and take the try back from `uncount`."""
    with Session(engine) as session:
        session.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == forget))
        session.exec(
            update(LoginThrottle)
            .where(col(LoginThrottle.key) == uncount, col(LoginThrottle.failures) > 0)
            .values(failures=LoginThrottle.failures - 1)  # type: ignore[operator]
        )
        session.commit()


def unlock(session: Session, *, user_id: int, address: str | None = None) -> int:
    """Forget the counts of one account at every address (and of `address`); not committed.

    Returns how many keys were forgotten.
    """
    condition = col(LoginThrottle.user_id) == user_id
    if address is not None:
        condition = condition | (col(LoginThrottle.key) == address_key(address))
    rows = list(session.exec(select(LoginThrottle).where(condition)))
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)
