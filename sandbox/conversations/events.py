"""News for the proctor's live monitor: "candidate U of exam E changed", heard after commit.

The conversation service and the exam pages publish it; the monitor socket hears it.

The monitor never trusts an event's content: an event only says which row to re-read from
the database, and a monitor that (re)connects reads every row. So a bus may drop, repeat
or reorder events without showing anything wrong for longer than the next event.

`InProcessBus` serves one process. A bus for several workers (PostgreSQL's
LISTEN/NOTIFY: `publish` as `SELECT pg_notify(...)` inside the same transaction, a
listening connection calling `deliver` for each notification and `resync_all` after it
reconnects, since notifications sent meanwhile are lost) fits the same two methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import event
from sqlmodel import Session

PENDING_KEY = "sandbox_exam_events"


@dataclass(frozen=True)
class ExamEvent:
    """Something about one candidate of one exam changed (None: read them all again).
    `clock`: their running conversation's time limit changed (extra time given during it):
    their own chat pages hear it too (`subscribe_clock`), to show the new clock."""

    exam_id: int
    user_id: int | None
    clock: bool = False


@dataclass(eq=False)
class Subscription:
    """One monitor socket's queue of events, fed from any thread."""

    exam_id: int
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[ExamEvent] = field(default_factory=asyncio.Queue)

    async def next_batch(self) -> set[ExamEvent]:
        """Wait for an event, then take every other one already queued (deduplicated)."""
        batch = {await self.queue.get()}
        while not self.queue.empty():
            batch.add(self.queue.get_nowait())
        return batch


class MonitorBus(Protocol):
    def publish(self, session: Session, news: ExamEvent) -> None:
        """Announce `news` when `session` commits; nothing is heard if it rolls back."""

    def subscribe(self, exam_id: int) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Hear the events of one exam while the context is open."""

    def subscribe_clock(
        self, exam_id: int, user_id: int
    ) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Hear only the clock events of one candidate of one exam (their chat pages)."""


class InProcessBus:
    """Events of this process, delivered to the monitor sockets of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[int, set[Subscription]] = {}
        # (exam, user) -> the candidate's chat pages, for clock events only: a turn's
        # event never wakes the other candidates' pages.
        self._clocks: dict[tuple[int, int], set[Subscription]] = {}

    def publish(self, session: Session, news: ExamEvent) -> None:
        pending: set[ExamEvent] | None = session.info.get(PENDING_KEY)
        if pending is None:
            pending = session.info[PENDING_KEY] = set()
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_soft_rollback", _forget)
        pending.add(news)

    def _after_commit(self, session: Session) -> None:
        for news in session.info.pop(PENDING_KEY, set()):
            self.deliver(news)
        session.info[PENDING_KEY] = set()

    def deliver(self, news: ExamEvent) -> None:
        """Hand `news` to every subscriber of its exam (safe from any thread)."""
        with self._lock:
            targets = list(self._subscriptions.get(news.exam_id, ()))
            if news.clock and news.user_id is not None:
                targets += self._clocks.get((news.exam_id, news.user_id), ())
            elif news.user_id is None:  # read everything again: clocks may have changed too
                targets += [
                    s
                    for (exam, _), found in self._clocks.items()
                    if exam == news.exam_id
                    for s in found
                ]
        for subscription in targets:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                subscription.loop.call_soon_threadsafe(subscription.queue.put_nowait, news)

    def resync_all(self) -> None:
        """Tell every subscriber to read everything again (events may have been missed)."""
        with self._lock:
            exams = set(self._subscriptions) | {exam for exam, _ in self._clocks}
        for exam_id in exams:
            self.deliver(ExamEvent(exam_id, None))

    @contextlib.asynccontextmanager
    async def subscribe(self, exam_id: int) -> AsyncIterator[Subscription]:
        subscription = Subscription(exam_id, asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.setdefault(exam_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                subscribers = self._subscriptions.get(exam_id, set())
                subscribers.discard(subscription)
                if not subscribers:
                    self._subscriptions.pop(exam_id, None)

    @contextlib.asynccontextmanager
    async def subscribe_clock(self, exam_id: int, user_id: int) -> AsyncIterator[Subscription]:
        subscription = Subscription(exam_id, asyncio.get_running_loop())
        key = (exam_id, user_id)
        with self._lock:
            self._clocks.setdefault(key, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                subscribers = self._clocks.get(key, set())
                subscribers.discard(subscription)
                if not subscribers:
                    self._clocks.pop(key, None)


def _forget(session: Session, _previous_transaction: object) -> None:
    session.info[PENDING_KEY] = set()
