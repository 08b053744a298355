"""Events between worker processes through PostgreSQL's LISTEN/NOTIFY.

A publisher adds `SELECT pg_notify(channel, payload)` to its own transaction: PostgreSQL
delivers the notification to every listening connection when that transaction commits, and
drops it if it rolls back, so nobody hears about a change that did not happen. Each worker
process keeps one listening connection and hands every payload to its local subscribers.

Notifications sent while a listener is disconnected are lost. So after every (re)connect
the listener calls `on_resync`: subscribers read the state again from the database, which
is the source of truth, and carry on from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

log = logging.getLogger(__name__)

# PostgreSQL refuses a payload of 8000 bytes or more; events here are a few ids.
MAX_PAYLOAD_BYTES = 7999
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0


class PayloadTooLarge(ValueError):
    """A notification payload over PostgreSQL's limit."""


def psycopg_conninfo(database_url: str) -> str:
    """The libpq connection string of an SQLAlchemy `postgresql[+psycopg]://` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def notify(session: Session, channel: str, payload: str) -> None:
    """Queue `payload` on `channel`; PostgreSQL sends it when `session` commits."""
    if len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"{channel}: payload of {len(payload)} characters")
    session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
    )


class Listener:
    """One process's listening connection on one channel, reconnecting until stopped."""

    def __init__(
        self,
        database_url: str,
        channel: str,
        on_message: Callable[[str], None],
        on_resync: Callable[[], None],
    ) -> None:
        self.conninfo = psycopg_conninfo(database_url)
        self.channel = channel
        self.on_message = on_message
        self.on_resync = on_resync
        self.connected = asyncio.Event()
        self.connections = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listen in the background on the running event loop (once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """Connect, LISTEN, deliver; after a failure wait a little longer each time, retry."""
        delay = RETRY_FIRST_S
        while True:
            try:
                await self._listen_once()
                delay = RETRY_FIRST_S
            except (psycopg.Error, OSError) as exc:
                log.warning(
                    "listening on %s failed (%s); retrying in %.1f s", self.channel, exc, delay
                )
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _listen_once(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.connections += 1
            self.connected.set()
            # Whatever was sent before this LISTEN took effect was not heard here.
            self.on_resync()
            async for notification in conn.notifies():
                try:
                    self.on_message(notification.payload)
                except Exception:
                    log.exception(
                        "a subscriber of %s failed on %r", self.channel, notification.payload
                    )
