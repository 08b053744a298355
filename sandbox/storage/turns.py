"""Storing chat turns many at a time: one SELECT, one INSERT, one commit per batch.

The chat's fast path (conversations/cache.py) computes a turn from the conversation's state kept in
memory and hands the new lines here. A turn is stored only if the attempt is still as the
memory says: not ended, started at the same moment with the same time limit, and holding
exactly the messages the memory counted (its last seq). Anything else (another worker
stored a message, the attempt was ended or changed) refuses that turn, and the caller
falls back to the full path, which rebuilds the state from the database.

Checking every turn of a batch takes one SELECT, storing them one INSERT, and the whole
batch one commit: under load, dozens of turns share what one turn used to cost. The unique
`(attempt_id, seq)` and `(attempt_id, client_id)` constraints stay the last word: a batch
that breaks one is rolled back and its turns are stored one by one, so only the turn at
fault is refused.

On SQLite (sqlite3) and PostgreSQL (psycopg) the SELECT and the INSERT go straight to the
driver's connection as fixed SQL text, inside the transaction of the SQLAlchemy session
that commits them (and in which `on_stored` may add its own statements): SQLAlchemy's
execution path (compiling, execution contexts, result objects) was a third of a turn's
cost. The text never changes with the batch's size, so the driver prepares it once:
sqlite3 keeps it in its statement cache and steps it once per line (`executemany`);
psycopg prepares it on the server after a few turns, and the INSERT sends one array per
column (`unnest`), one message for the whole batch. Dates are written and read through
the columns' own SQLAlchemy types, so they are stored as the ORM stores them, and the
SQLite write takes the writer lock as any other write does (sqlite_writers.py). Any
other driver goes through SQLAlchemy Core.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from sandbox.storage.models import Attempt, AttemptMessage, utcnow
from sandbox.storage.sqlite_writers import hold_writer_lock

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

#: The columns of a stored line, in the order of `_rows`' tuples.
LINE_COLUMNS = ("attempt_id", "seq", "role", "text", "at", "kind", "client_id", "created_at")
_HEADS_SQL = (
    "SELECT a.id, a.ended_at, a.started_at, a.time_limit_s,"
    f" (SELECT max(m.seq) FROM {MESSAGES.name} AS m WHERE m.attempt_id = a.id)"
    f" FROM {ATTEMPTS.name} AS a WHERE a.id {{ids}}"
)
_INSERT_SQL = f"INSERT INTO {MESSAGES.name} ({{columns}}) VALUES ({{values}})"
_UNNEST_SQL = (
    f"INSERT INTO {MESSAGES.name} ({', '.join(LINE_COLUMNS)})"
    " SELECT a, s, r, t, x, k, c, %s FROM unnest(%s::integer[], %s::integer[], %s::text[],"
    " %s::text[], %s::float8[], %s::text[], %s::text[]) AS u(a, s, r, t, x, k, c)"
)


@dataclass(frozen=True)
class _Driver:
    """How one driver's own connection runs the check and the insert."""

    heads_sql: str
    insert_sql: str
    ids: Callable[[list[int]], Any]  # the attempt ids as the SELECT's one parameter
    read_date: Callable[[Any], datetime | None]  # a stored date as the ORM reads it
    write_date: Callable[[datetime], Any]  # a date as the ORM writes it
    integrity_error: type[Exception]
    columnar: bool  # one INSERT of unnested arrays (PostgreSQL), or executemany


def _driver_for(dialect: Dialect) -> _Driver | None:
    """The raw path of SQLite's sqlite3 and PostgreSQL's psycopg; None for any other."""
    ids: Callable[[list[int]], Any]
    if (dialect.name, dialect.driver) == ("sqlite", "pysqlite"):
        # One statement text for any number of attempts, so sqlite3 prepares it once.
        mark, ids_sql, ids = "?", "IN (SELECT value FROM json_each(?))", json.dumps
    elif (dialect.name, dialect.driver) == ("postgresql", "psycopg"):
        mark, ids_sql, ids = "%s", "= ANY(%s)", list
    else:
        return None
    date_type = ATTEMPTS.c.started_at.type.dialect_impl(dialect)
    read = date_type.result_processor(dialect, None)
    write = MESSAGES.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert read is not None and write is not None  # the UTC date type converts both ways
    if dialect.name == "postgresql":
        insert_sql = _UNNEST_SQL
    else:
        insert_sql = _INSERT_SQL.format(
            columns=", ".join(LINE_COLUMNS), values=", ".join([mark] * len(LINE_COLUMNS))
        )
    return _Driver(
        heads_sql=_HEADS_SQL.format(ids=ids_sql),
        insert_sql=insert_sql,
        ids=ids,
        read_date=read,
        write_date=write,
        integrity_error=dialect.loaded_dbapi.IntegrityError,
        columnar=dialect.name == "postgresql",
    )


_DRIVERS: dict[tuple[str, str], _Driver | None] = {}


def _driver(dialect: Dialect) -> _Driver | None:
    key = (dialect.name, dialect.driver)
    if key not in _DRIVERS:
        _DRIVERS[key] = _driver_for(dialect)
    return _DRIVERS[key]


def _heads(session: Session, attempt_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    rows = session.execute(HEADS, {"ids": list(attempt_ids)})
    return {row[0]: tuple(row[1:]) for row in rows}


def _raw_heads(
    driver: _Driver, dbapi: Any, attempt_ids: Sequence[int]
) -> dict[int, tuple[Any, ...]]:
    cursor = dbapi.cursor()
    try:
        cursor.execute(driver.heads_sql, (driver.ids(list(dict.fromkeys(attempt_ids))),))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    read = driver.read_date
    return {
        attempt_id: (None if ended is None else read(ended), read(started), limit, last_seq)
        for attempt_id, ended, started, limit, last_seq in rows
    }


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


def _rows(turns: Sequence[PendingTurn], created_at: Any) -> list[tuple[Any, ...]]:
    return [
        (
            turn.attempt_id,
            line.seq,
            line.role,
            line.text,
            line.at,
            line.kind,
            line.client_id,
            created_at,
        )
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
    driver = _driver(engine.dialect)
    failed = (IntegrityError,) if driver is None else (IntegrityError, driver.integrity_error)
    with Session(engine) as session:
        connection = session.connection()
        dbapi = connection.connection.driver_connection
        attempt_ids = [turn.attempt_id for turn in turns]
        if driver is None:
            heads = _heads(session, attempt_ids)
        else:
            with _dropped(connection):
                heads = _raw_heads(driver, dbapi, attempt_ids)
        verdicts = [_still_as_expected(turn, heads.get(turn.attempt_id)) for turn in turns]
        stored = [turn for turn, ok in zip(turns, verdicts, strict=True) if ok]
        if not stored:
            return verdicts
        try:
            with _dropped(connection):
                _insert(session, connection, driver, dbapi, stored)
            if on_stored is not None:
                on_stored(session, stored)
            session.commit()
        except failed:
            session.rollback()
            if len(turns) == 1:
                return [False]
            # Someone else stored one of these seqs between the check and the insert: find
            # which turn by storing them one at a time.
            return [store_turns(engine, [turn], on_stored)[0] for turn in turns]
    return verdicts


@contextlib.contextmanager
def _dropped(connection: Connection) -> Iterator[None]:
    """Around the driver's own calls: a connection the error says is gone (the database
    restarted, the backend was ended) is invalidated, as SQLAlchemy's own execution does,
    so that the pool never lends it again. The error goes on to the caller."""
    try:
        yield
    except Exception as error:
        dialect = connection.dialect
        if isinstance(error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
            error, connection.connection.dbapi_connection, None
        ):
            connection.invalidate(error)
        raise


def _insert(
    session: Session,
    connection: Connection,
    driver: _Driver | None,
    dbapi: Any,
    turns: Sequence[PendingTurn],
) -> None:
    now = utcnow()
    if driver is None:
        rows = _rows(turns, now)
        session.execute(INSERT_LINES, [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows])
        return
    hold_writer_lock(connection)  # SQLite: the write queues like any other (sqlite_writers.py)
    cursor = dbapi.cursor()
    try:
        created_at = driver.write_date(now)
        rows = _rows(turns, created_at)
        if driver.columnar:
            # One statement, one array a column: PostgreSQL parses and plans it once (a
            # prepared statement after a few turns), and psycopg sends it in one message.
            *columns, _ = zip(*rows, strict=True)
            cursor.execute(driver.insert_sql, (created_at, *map(list, columns)))
        else:
            cursor.executemany(driver.insert_sql, rows)
    finally:
        cursor.close()
