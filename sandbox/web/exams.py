"""Exam conversations on the server's clock: start, turns, the deadline, the timers.

An exam attempt is a chat like any other (routes/chat.py runs its socket), but its turns
come here: every time is read from this service's clock (tests give it one), a message is
taken only while `Deadline.accepts` it, and the server ends and grades the conversation at
its deadline whether or not a browser is connected. Each change is announced to the
proctor's monitor through the bus after it is committed.

Turn functions are synchronous: the socket handler runs them in a worker thread under the
attempt's lock, exactly like the practice ones in `conversations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from sandbox.exams.policy import Deadline, deadline_for
from sandbox.scenarios.library import PackLibrary
from sandbox.scenarios.models import Scenario
from sandbox.storage.attempts import find_client_message, store_grade
from sandbox.storage.exams import (
    Exam,
    next_exam_deadline,
    open_exam_attempts,
    start_exam_attempt,
)
from sandbox.storage.models import Attempt, Mode, Speaker, User, utcnow
from sandbox.web import conversations
from sandbox.web.conversations import ConversationUnavailable, Live, Outcome
from sandbox.web.monitor import ExamEvent, MonitorBus

if TYPE_CHECKING:
    from sandbox.web.state import AppState

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: How often the timer task re-reads the open exam attempts, to hear of those started by
#: another process (its own are scheduled at once).
RESYNC_S = 30.0
#: How long after a deadline the timer wakes: the engine refuses messages strictly after
#: the limit, so the conversation is ended just after it.
AFTER_DEADLINE_S = 0.05
#: While a chat page is connected to the attempt, its own socket timer ends the
#: conversation (and shows the end on the page); the server's timer steps in only if that
#: has not happened this long after the deadline.
WATCHED_GRACE_S = 3.0

TIME_UP = "chat.notice.exam_time_up"
LAST_MESSAGE = "chat.notice.exam_last_message"


def deadline_of(attempt: Attempt) -> Deadline:
    """The exam limit and grace of an attempt (its `time_limit_s` includes the grace)."""
    return Deadline(attempt.time_limit_s - attempt.grace_s, attempt.grace_s)


@dataclass
class ExamService:
    """The exam clock, the turns of exam conversations and the timers that end them."""

    library: PackLibrary
    engine: Engine
    bus: MonitorBus
    clock: Clock = utcnow
    resync_s: float = RESYNC_S
    #: Whether a chat page of this process is connected to an attempt (see WATCHED_GRACE_S).
    watched: Callable[[int], bool] = lambda _attempt_id: False

    def __post_init__(self) -> None:
        # One timer task per running app lifespan (tests may run several at once).
        self._wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def now(self) -> datetime:
        return self.clock()

    def elapsed_s(self, attempt: Attempt) -> float:
        return conversations.elapsed_s(attempt, self.now())

    # -- starting ------------------------------------------------------------------------

    def start(
        self,
        session: Session,
        *,
        exam: Exam,
        user: User,
        pack_id: str,
        pack_version: int,
        scenario: Scenario,
        retake: bool,
    ) -> Attempt:
        """A new exam attempt on the exam's clock (committed by the caller), or
        `StartRefused` when the sitting's limits leave none (`start_exam_attempt`)."""
        deadline = deadline_for(exam.time_limit_s, exam.exam_rules)
        attempt = start_exam_attempt(
            session=session,
            exam=exam,
            user=user,
            pack_id=pack_id,
            pack_version=pack_version,
            scenario_id=scenario.id,
            opening=scenario.opening,
            retake=retake,
            time_limit_s=deadline.last_message_s,
            grace_s=deadline.grace_s,
            started_at=self.now(),
        )
        self.announce(session, attempt)
        return attempt

    def announce(self, session: Session, attempt: Attempt) -> None:
        """Tell the monitor about `attempt` once `session` commits."""
        if attempt.exam_id is not None:
            self.bus.publish(session, ExamEvent(attempt.exam_id, attempt.user_id))

    # -- turns -----------------------------------------------------------------------------

    def say(
        self, session: Session, attempt: Attempt, text: str, client_id: str | None
    ) -> Outcome:
        """A trainee message, taken only while the deadline accepts it."""
        if (
            client_id
            and attempt.id is not None
            and find_client_message(session=session, attempt_id=attempt.id, client_id=client_id)
        ):
            return Outcome(duplicate=True)
        if attempt.ended:
            late = attempt.end_reason == "timeout"
            return Outcome(notice=TIME_UP if late else "chat.notice.ended")
        now = self.now()
        at = conversations.elapsed_s(attempt, now)
        deadline = deadline_of(attempt)
        live = conversations.load(session, self.library, attempt)
        grace_used = any(
            m.role == Speaker.TRAINEE and m.at > deadline.limit_s for m in live.stored
        )
        if not deadline.accepts(at, grace_used):
            # Too late: the message is refused, and what arrived in time is graded now.
            outcome = Outcome(notice=TIME_UP)
            live.conversation.expire(max(at, attempt.time_limit_s + 0.001))
            outcome.ended_now = self._close(session, live, "timeout", now, outcome)
            session.commit()
            return outcome
        turn = live.conversation.receive(text, at)
        outcome = Outcome(live=live)
        if turn.accepted:
            outcome.new_messages = conversations.store_new(session, live, client_id)
        else:
            outcome.notice = "chat.notice.empty"
        reason: str | None = None
        if live.conversation.ended:
            reason = str(live.conversation.end_reason or "completed")
        elif turn.accepted and deadline.ends_after(at):
            # The one message of the grace period was taken: that was the last.
            live.conversation.finish(at)
            reason = "timeout"
            outcome.notice = LAST_MESSAGE
        if reason is not None:
            outcome.ended_now = self._close(session, live, reason, now, outcome)
        self.announce(session, attempt)
        session.commit()
        return outcome

    def finish(self, session: Session, attempt: Attempt) -> Outcome:
        """The trainee hands in the conversation before the deadline."""
        if attempt.ended:
            return Outcome(notice="chat.notice.ended")
        now = self.now()
        at = conversations.elapsed_s(attempt, now)
        live = conversations.load(session, self.library, attempt)
        late = at > deadline_of(attempt).limit_s
        live.conversation.finish(at)
        outcome = Outcome(live=live)
        reason = "timeout" if late else "finished"
        outcome.ended_now = self._close(session, live, reason, now, outcome)
        session.commit()
        return outcome

    def tick(self, session: Session, attempt: Attempt) -> Outcome:
        """A chat socket's timer: a nudge that is due, or the end at the deadline.

        An attempt the server already ended (no browser was looking) is announced as ended,
        so the page that wakes for its deadline shows it.
        """
        if attempt.ended:
            return Outcome(ended_now=True)
        now = self.now()
        at = conversations.elapsed_s(attempt, now)
        live = conversations.load(session, self.library, attempt)
        outcome = Outcome(live=live)
        if len(live.conversation.messages) > len(live.stored):
            outcome.new_messages = conversations.store_new(session, live)
        if at > attempt.time_limit_s:
            live.conversation.expire(at)
            outcome.ended_now = self._close(session, live, "timeout", now, outcome)
        else:
            due = live.conversation.nudge_due_at()
            if due is not None and due < at and live.conversation.send_nudge(at) is not None:
                outcome.new_messages += conversations.store_new(session, live)
        session.commit()
        return outcome

    def expire(self, session: Session, attempt: Attempt) -> bool:
        """End and grade `attempt` if its deadline has passed; True if this call ended it."""
        if attempt.ended or attempt.mode != Mode.EXAM:
            return False
        now = self.now()
        at = conversations.elapsed_s(attempt, now)
        if at <= attempt.time_limit_s:
            return False
        try:
            live = conversations.load(session, self.library, attempt)
        except ConversationUnavailable:
            # The pack is gone: the conversation still ends on time, ungraded.
            ended = self._claim(session, attempt, "timeout", now)
            if ended:
                self.announce(session, attempt)
            session.commit()
            log.warning("exam attempt %s ended ungraded: its pack is not loaded", attempt.id)
            return ended
        live.conversation.expire(at)
        ended = self._close(session, live, "timeout", now, Outcome())
        session.commit()
        return ended

    # -- storing and closing ----------------------------------------------------------------

    def _claim(self, session: Session, attempt: Attempt, reason: str, now: datetime) -> bool:
        """Mark the attempt ended unless someone (another worker) already did."""
        claimed = session.exec(
            update(Attempt)
            .where(col(Attempt.id) == attempt.id, col(Attempt.ended_at).is_(None))
            .values(ended_at=now, end_reason=reason)
        )
        session.refresh(attempt)
        return claimed.rowcount == 1

    def _close(
        self, session: Session, live: Live, reason: str, now: datetime, outcome: Outcome
    ) -> bool:
        """End and grade the conversation once; False if it had already been ended."""
        outcome.new_messages += conversations.store_new(session, live)
        if not self._claim(session, live.attempt, reason, now):
            return False
        grade = conversations.grade_live(live)
        grade["pack_version"] = live.attempt.pack_version
        store_grade(session=session, attempt=live.attempt, grade=grade)
        self.announce(session, live.attempt)
        return True

    # -- the timers --------------------------------------------------------------------------

    def schedule(self) -> None:
        """A new deadline exists: let the timer task look again (safe from any thread)."""
        for loop, wake in list(self._wakers):
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(wake.set)

    async def run_timers(self, locks: Callable[[int], asyncio.Lock]) -> None:
        """End every exam attempt at its deadline, for as long as the app runs."""
        waker = (asyncio.get_running_loop(), asyncio.Event())
        self._wakers.append(waker)
        try:
            await self._run(locks, waker[1])
        finally:
            self._wakers.remove(waker)

    async def _run(self, locks: Callable[[int], asyncio.Lock], wake: asyncio.Event) -> None:
        while True:
            try:
                await self.expire_due(locks)
                wait_s = await asyncio.to_thread(self._seconds_to_next)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not stop the clock
                log.exception("exam timers: sweep failed; trying again")
                wait_s = 1.0
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=wait_s)

    def _seconds_to_next(self) -> float:
        with Session(self.engine) as session:
            due = next_exam_deadline(session=session)
        if due is None:
            return self.resync_s
        wait = (due - self.now()).total_seconds() + AFTER_DEADLINE_S
        if wait <= AFTER_DEADLINE_S:
            # Overdue but left to a connected page for now: look again a little later.
            wait = min(1.0, WATCHED_GRACE_S)
        return min(max(wait, AFTER_DEADLINE_S), self.resync_s)

    async def expire_due(self, locks: Callable[[int], asyncio.Lock] | None = None) -> list[int]:
        """End every open exam attempt past its deadline now; return their ids.

        `locks` are the chat's per-attempt locks, so an ending never interleaves a turn.
        """
        def due() -> list[int]:
            now = self.now()
            with Session(self.engine) as session:
                found = open_exam_attempts(session=session, due_before=now)
            watched_until = now - timedelta(seconds=WATCHED_GRACE_S)
            return [
                a.id
                for a in found
                if a.id is not None
                and not (self.watched(a.id) and a.deadline_at and a.deadline_at > watched_until)
            ]

        ended = []
        for attempt_id in await asyncio.to_thread(due):
            lock = locks(attempt_id) if locks is not None else asyncio.Lock()
            async with lock:
                if await asyncio.to_thread(self._expire_one, attempt_id):
                    ended.append(attempt_id)
        return ended

    def _expire_one(self, attempt_id: int) -> bool:
        with Session(self.engine, expire_on_commit=False) as session:
            attempt = session.get(Attempt, attempt_id)
            return attempt is not None and self.expire(session, attempt)

    def start_timers(self, locks: Callable[[int], asyncio.Lock]) -> asyncio.Task[None]:
        """Run the timers in the current event loop until `stop_timers` with the task."""
        task = asyncio.create_task(self.run_timers(locks))
        self._tasks.append(task)
        return task

    async def stop_timers(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if task in self._tasks:
            self._tasks.remove(task)


def exam_service(state: AppState) -> ExamService:
    """The app's exam service (`exam_area.install_exams` makes it)."""
    service = state.exams
    assert isinstance(service, ExamService), "create_app installs the exam area"
    return service
