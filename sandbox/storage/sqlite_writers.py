"""One writer at a time per process on SQLite, queued on a lock instead of SQLite's busy loop.

SQLite lets one connection write at a time. The others wait in its busy handler, which
sleeps 1 ms, then 2, 5, 10 ... up to 100 ms between tries and so hands the lock over late
and unfairly: under a few dozen concurrent chat turns some waited seconds. Here a
connection takes a process-wide lock before its first INSERT, UPDATE or DELETE and gives it
back when its transaction ends, so writers of one process follow each other at once; the
busy timeout still covers writers in other processes (the CLI, a benchmark).

A write sent on the driver's own connection (storage/turns.py) passes no SQLAlchemy event:
it takes the lock first with `hold_writer_lock`.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

HELD = "sandbox_sqlite_writer"
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")

#: Each serialized engine's lock and how long a writer waits for it.
_LOCKS: weakref.WeakKeyDictionary[Engine, tuple[threading.Lock, float]] = (
    weakref.WeakKeyDictionary()
)


def hold_writer_lock(connection: Connection) -> None:
    """Take the writer lock for `connection`'s transaction before a write that goes around
    SQLAlchemy's execution (its end gives the lock back, as for any other write). Nothing
    to take on an engine without one (PostgreSQL)."""
    held = _LOCKS.get(connection.engine)
    if held is None or connection.info.get(HELD):
        return
    lock, wait_s = held
    if lock.acquire(timeout=wait_s):
        connection.info[HELD] = True


def serialize_writers(engine: Engine, wait_s: float) -> None:
    """Queue the engine's write transactions on one lock; give up waiting after `wait_s`."""
    lock = threading.Lock()
    _LOCKS[engine] = (lock, wait_s)

    def before_execute(
        connection: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if connection.info.get(HELD) or not statement.lstrip()[:7].upper().startswith(WRITE_VERBS):
            return
        # After `wait_s` go on without the lock and let SQLite's busy timeout decide: a
        # thread that writes on two connections at once must not hang here for ever.
        if lock.acquire(timeout=wait_s):
            connection.info[HELD] = True

    def release(info: dict[Any, Any]) -> None:
        if info.pop(HELD, False):
            lock.release()

    def on_transaction_end(connection: Connection) -> None:
        release(connection.info)

    def on_reset(_dbapi_connection: Any, record: ConnectionPoolEntry, _state: Any) -> None:
        release(record.info)

    def on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        release(record.info)

    def on_invalidate(_dbapi_connection: Any, record: ConnectionPoolEntry, _exc: Any) -> None:
        release(record.info)

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", on_transaction_end)
    event.listen(engine, "rollback", on_transaction_end)
    # A connection returned or dropped mid-transaction is rolled back by the pool itself.
    event.listen(engine, "reset", on_reset)
    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "invalidate", on_invalidate)
