"""Storing chat turns many at a time: Core statements, one transaction per batch.

The chat's fast path (conversations/cache.py) computes a turn from the conversation's state kept in
memory and hands the new lines here. A turn is stored only if the attempt is still as the
memory says: not ended, started at the same moment with the same time limit, and holding
exactly the messages the memory counted (its last seq). Anything else (another worker
stored a message, the attempt was ended or changed) refuses that turn, and the caller
falls back to the full path, which rebuilds the state from the database.

Checking every turn of a batch takes one SELECT, storing them one multi-row INSERT, and
the whole batch one commit: under load, dozens of turns share what one turn used to cost.
The unique `(attempt_id, seq)` and `(attempt_id, client_id)` constraints stay the last
word: a batch that breaks one is rolled back and its turns are stored one by one, so only
the turn at fault is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from sandbox.storage.models import Attempt, AttemptMessage, utcnow

log = logging.getLogger(__name__)

ATTEMPTS = Attempt.__table__  # type: ignore[attr-defined]
MESSAGES = AttemptMessage.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Head:
    """What a turn expects of its attempt's row when it is stored."""

    started_at: datetime
    time_limit_s: float
    count: int  # messages stored so far: the new lines start at this seq


@dataclass
class TurnLine:
    """One line of a turn, as stored."""

    seq: int
    role: str
    text: str
    at: float
    kind: str | None
    client_id: str | None = None


@dataclass
class PendingTurn:
    """A turn to store: its attempt, what it expects of it, its lines, and a tag for the
    caller (announcements after the commit)."""

    attempt_id: int
    head: Head
    lines: list[TurnLine]
    tag: Any = field(default=None, compare=False)


def _heads_statement() -> Any:
    last_seq = (
        select(func.max(MESSAGES.c.seq))
        .where(MESSAGES.c.attempt_id == ATTEMPTS.c.id)
        .scalar_subquery()
    )
    return select(
        ATTEMPTS.c.id,
        ATTEMPTS.c.ended_at,
        ATTEMPTS.c.started_at,
        ATTEMPTS.c.time_limit_s,
        last_seq,
    ).where(ATTEMPTS.c.id.in_(bindparam("ids", expanding=True)))


# Built once: building a statement costs more than running it on this path.
HEADS = _heads_statement()
INSERT_LINES = insert(MESSAGES)


def _heads(session: Session, attempt_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    rows = session.execute(HEADS, {"ids": list(attempt_ids)})
    return {row[0]: tuple(row[1:]) for row in rows}


def _still_as_expected(turn: PendingTurn, row: tuple[Any, ...] | None) -> bool:
    if row is None:
        return False
    ended_at, started_at, time_limit_s, last_seq = row
    count = -1 if last_seq is None else int(last_seq)
    return (
        ended_at is None
        and started_at == turn.head.started_at
        and float(time_limit_s) == turn.head.time_limit_s
        and count + 1 == turn.head.count
    )


def _rows(turns: Sequence[PendingTurn], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "attempt_id": turn.attempt_id,
            "seq": line.seq,
            "role": line.role,
            "text": line.text,
            "at": line.at,
            "kind": line.kind,
            "client_id": line.client_id,
            "created_at": now,
        }
        for turn in turns
        for line in turn.lines
    ]


def store_turns(
    engine: Engine,
    turns: Sequence[PendingTurn],
    on_stored: Callable[[Session, Sequence[PendingTurn]], None] | None = None,
) -> list[bool]:
    """Store each turn whose attempt is as it expects, in one transaction; say which were.

    `on_stored(session, stored_turns)` runs inside the transaction before it commits (to
    queue announcements that must be heard only if the turns are stored).
    """
    if not turns:
        return []
    with Session(engine) as session:
        heads = _heads(session, [turn.attempt_id for turn in turns])
        verdicts = [_still_as_expected(turn, heads.get(turn.attempt_id)) for turn in turns]
        stored = [turn for turn, ok in zip(turns, verdicts, strict=True) if ok]
        if not stored:
            return verdicts
        try:
            session.execute(INSERT_LINES, _rows(stored, utcnow()))
            if on_stored is not None:
                on_stored(session, stored)
            session.commit()
        except IntegrityError:
            session.rollback()
            if len(turns) == 1:
                return [False]
            # Someone else stored one of these seqs between the check and the insert: find
            # which turn by storing them one at a time.
            return [store_turns(engine, [turn], on_stored)[0] for turn in turns]
    return verdicts
