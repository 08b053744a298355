"""The live monitor's bus across worker processes, on PostgreSQL's LISTEN/NOTIFY.

`publish` adds a `pg_notify` to the publisher's own transaction, so an event is heard only
if its change commits; every worker's one listening connection hands what it hears to that
worker's monitor sockets through an `InProcessBus`, and asks them to read every row again
after each (re)connect, since notifications sent while it was away are lost.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

from sqlmodel import Session

from sandbox.config import Settings
from sandbox.conversations.events import ExamEvent, InProcessBus, MonitorBus, Subscription
from sandbox.web.pg_notify import Listener, notify

log = logging.getLogger(__name__)

CHANNEL = "sandbox_exam_events"


class PostgresBus:
    """A `MonitorBus` whose events reach the monitors of every worker process."""

    def __init__(self, database_url: str) -> None:
        self.local = InProcessBus()
        self.listener = Listener(database_url, CHANNEL, self._hear, self.local.resync_all)

    def publish(self, session: Session, news: ExamEvent) -> None:
        """Announce `news` to every worker when `session` commits."""
        payload: dict[str, object] = {"exam_id": news.exam_id, "user_id": news.user_id}
        if news.clock:
            payload["clock"] = True
        notify(session, CHANNEL, json.dumps(payload))

    def _hear(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            news = ExamEvent(
                int(data["exam_id"]), _user_id(data["user_id"]), data.get("clock") is True
            )
        except (ValueError, KeyError, TypeError):
            log.warning("%s: ignored a payload that is not an exam event: %r", CHANNEL, payload)
            return
        self.local.deliver(news)

    async def close(self) -> None:
        """Stop listening (at the app's shutdown)."""
        await self.listener.stop()

    @contextlib.asynccontextmanager
    async def subscribe(self, exam_id: int) -> AsyncIterator[Subscription]:
        """Hear one exam's events from every worker; the listener starts with the first."""
        self.listener.start()
        async with self.local.subscribe(exam_id) as subscription:
            yield subscription

    @contextlib.asynccontextmanager
    async def subscribe_clock(self, exam_id: int, user_id: int) -> AsyncIterator[Subscription]:
        """Hear one candidate's clock events from every worker."""
        self.listener.start()
        async with self.local.subscribe_clock(exam_id, user_id) as subscription:
            yield subscription


def _user_id(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"user_id {value!r}")
    return value


def monitor_bus(settings: Settings) -> MonitorBus:
    """The bus for this deployment: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite."""
    if settings.is_sqlite:
        return InProcessBus()
    return PostgresBus(settings.database_url)
