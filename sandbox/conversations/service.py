"""One conversation service for practice and exams: start, say, tick, finish, expire.

Every time is read from the service's clock (tests give it one). A conversation runs the
same way in both modes; where they differ (the exam's deadline and grace message, hints,
the server ending an exam at its deadline) the attempt's policy decides (policy.py). Both
end a conversation with the same atomic claim (`_claim`), so a turn, a chat timer and the
server's timer in another worker can race to end it and only one grades it. Each change of
an exam attempt is announced to the proctor's monitor through the bus after it commits.

Two layers:
- The turn functions (`say`, `tick`, `finish`, `expire`, `start_*`) are synchronous and take
  a session: the full path, which rebuilds the engine state from the database (live.py).
- The socket's calls (`take_message`, `hand_in`, `wake`, ...) run those in a worker thread,
  retrying a write another process raced, and keep the engine state between turns for the
  attempts a socket is open on, so most turns take the fast path (cache.py). Callers hold
  the attempt's lock (`locks.hold`) around them and around queueing what they send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from anyio.to_thread import run_sync
from sqlalchemy import Engine, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, col

from sandbox.conversations import live
from sandbox.conversations.cache import Resume, TurnBatcher
from sandbox.conversations.events import ExamEvent, MonitorBus
from sandbox.conversations.live import ConversationUnavailable, Library, Live, Outcome, ShownMessage
from sandbox.conversations.locks import AttemptLocks
from sandbox.conversations.policy import (
    ENDED,
    LAST_MESSAGE,
    TIME_UP,
    ConversationPolicy,
    default_policies,
)
from sandbox.evaluator.hints import effective, left, read_policy
from sandbox.exams.policy import deadline_for
from sandbox.scenarios.models import Pack, Scenario
from sandbox.storage.attempts import find_client_message, list_messages, start_attempt, store_grade
from sandbox.storage.exams import Exam, next_exam_deadline, open_exam_attempts, start_exam_attempt
from sandbox.storage.extra_time import extra_for
from sandbox.storage.models import Attempt, Mode, Speaker, User, utcnow
from sandbox.storage.turns import PendingTurn

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")

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
#: A write another process raced (the same seq) or a connection lost mid-turn is retried.
WRITE_RETRIES = 3


class ConversationService:
    """Conversations of every mode on one clock, their cached state and the exam timers."""

    def __init__(
        self,
        *,
        library: Library,
        engine: Engine,
        bus: MonitorBus,
        clock: Clock = utcnow,
        policies: dict[Mode, ConversationPolicy] | None = None,
        resync_s: float = RESYNC_S,
        hint_policy: str | int = "on",
    ) -> None:
        self.library = library
        self.engine = engine
        self.bus = bus
        self.clock = clock
        self.policies = policies or default_policies()
        self.resync_s = resync_s
        self.hint_policy = read_policy(hint_policy)  # the organisation's (SANDBOX_HINTS)
        self.locks = AttemptLocks()
        self.turns = TurnBatcher(engine, self._announce_turns)
        # Attempt id -> chat sockets open on it in this process, and the engine state kept
        # for it between turns (both dropped with the last socket).
        self._watchers: dict[int, int] = {}
        self._cache: dict[int, Resume] = {}
        # One timer task per running app lifespan (tests may run several at once).
        self._wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def now(self) -> datetime:
        return self.clock()

    def elapsed_s(self, attempt: Attempt) -> float:
        return live.elapsed_s(attempt, self.now())

    def policy(self, attempt: Attempt) -> ConversationPolicy:
        return self.policies[Mode(attempt.mode)]

    # -- starting ------------------------------------------------------------------------

    def start_practice(
        self, session: Session, *, user: User, pack: Pack, scenario: Scenario
    ) -> Attempt:
        """A new practice attempt with the persona's opening (committed by the caller)."""
        return start_attempt(
            session=session,
            user=user,
            pack_id=pack.id,
            pack_version=pack.version,
            scenario_id=scenario.id,
            time_limit_s=float(scenario.time_limit_s),
            opening=scenario.opening,
            mode=Mode.PRACTICE,
            started_at=self.now(),
        )

    def start_exam(
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
        """A new exam attempt on the service's clock (committed by the caller), or
        `StartRefused` when the sitting's limits leave none (`start_exam_attempt`)."""
        # A candidate's extra time (storage/extra_time.py) lengthens each conversation.
        assert exam.id is not None and user.id is not None
        extra = extra_for(session, exam_id=exam.id, user_id=user.id)
        # The scenario's own limit unless the exam sets one ("in practice and exams alike").
        limit = float(scenario.time_limit_s) if exam.limit_s is None else exam.limit_s
        deadline = deadline_for(limit + extra, exam.exam_rules)
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
        """Tell the monitor about an exam attempt once `session` commits."""
        if attempt.exam_id is not None:
            self.bus.publish(session, ExamEvent(attempt.exam_id, attempt.user_id))

    def _announce_turns(self, session: Session, turns: Sequence[PendingTurn]) -> None:
        for turn in turns:
            if isinstance(turn.tag, ExamEvent):
                self.bus.publish(session, turn.tag)

    # -- turns (the full path) -------------------------------------------------------------

    def say(self, session: Session, attempt: Attempt, text: str, client_id: str | None) -> Outcome:
        """A trainee message: stored with the persona's replies before anything is sent back."""
        if (
            client_id
            and attempt.id is not None
            and find_client_message(session=session, attempt_id=attempt.id, client_id=client_id)
        ):
            return Outcome(duplicate=True)
        policy = self.policy(attempt)
        if attempt.ended:
            return Outcome(notice=policy.ended_notice(attempt))
        now = self.now()
        at = live.elapsed_s(attempt, now)
        state = live.load(session, self.library, attempt)
        sent = [m.at for m in state.stored if m.role == Speaker.TRAINEE]
        if policy.refuses(attempt, sent, at):
            # Too late: the message is refused, and what arrived in time is graded now.
            outcome = Outcome(notice=TIME_UP)
            state.conversation.expire(max(at, attempt.time_limit_s + 0.001))
            outcome.ended_now = self._close(session, state, "timeout", now, outcome)
            session.commit()
            return outcome
        turn = state.conversation.receive(text, at)
        outcome = Outcome(live=state)
        if turn.accepted:
            outcome.new_messages = live.store_new(session, state, client_id)
        elif state.conversation.ended:
            outcome.notice = ENDED
        else:
            outcome.notice = "chat.notice.empty"
        reason: str | None = None
        if state.conversation.ended:
            reason = str(state.conversation.end_reason or "completed")
        elif turn.accepted and policy.last_message(attempt, at):
            state.conversation.finish(at)
            reason = "timeout"
            outcome.notice = LAST_MESSAGE
        if reason is not None:
            outcome.ended_now = self._close(session, state, reason, now, outcome)
        self.announce(session, attempt)
        session.commit()
        return outcome

    def finish(self, session: Session, attempt: Attempt) -> Outcome:
        """The trainee ends the conversation; it is graded once, now."""
        if attempt.ended:
            return Outcome(notice=ENDED)
        now = self.now()
        at = live.elapsed_s(attempt, now)
        state = live.load(session, self.library, attempt)
        reason = self.policy(attempt).hand_in(state.conversation, attempt, at)
        outcome = Outcome(live=state)
        outcome.ended_now = self._close(session, state, reason, now, outcome)
        session.commit()
        return outcome

    def tick(self, session: Session, attempt: Attempt) -> Outcome:
        """Time passed: send a nudge that is due, or end the conversation at its time limit.

        An exam attempt the server already ended (no browser was looking) is announced as
        ended, so the page that wakes for its deadline shows it.
        """
        if attempt.ended:
            return Outcome(ended_now=self.policy(attempt).ended_on_tick(attempt))
        now = self.now()
        at = live.elapsed_s(attempt, now)
        state = live.load(session, self.library, attempt)
        outcome = Outcome(live=state)
        if len(state.conversation.messages) > len(state.stored):
            outcome.new_messages = live.store_new(session, state)
        if at > attempt.time_limit_s:
            state.conversation.expire(at)
            reason = str(state.conversation.end_reason or "timeout")
            outcome.ended_now = self._close(session, state, reason, now, outcome)
        else:
            due = state.conversation.nudge_due_at()
            if due is not None and due < at and state.conversation.send_nudge(at) is not None:
                outcome.new_messages += live.store_new(session, state)
        session.commit()
        return outcome

    def expire(self, session: Session, attempt: Attempt) -> bool:
        """End and grade `attempt` if the server ends its mode at a deadline that has
        passed; True if this call ended it."""
        if attempt.ended or not self.policy(attempt).ends_on_server:
            return False
        now = self.now()
        at = live.elapsed_s(attempt, now)
        limit_s = attempt.time_limit_s
        if at <= limit_s:
            return False
        try:
            state = live.load(session, self.library, attempt)
        except ConversationUnavailable:
            # The pack is gone: the conversation still ends on time, ungraded.
            ended = self._claim(session, attempt, "timeout", now)
            if ended:
                self.announce(session, attempt)
            session.commit()
            log.warning("attempt %s ended ungraded: its pack is not loaded", attempt.id)
            return ended
        state.conversation.expire(at)
        # Only at the limit it was read with: extra time given meanwhile keeps it running.
        ended = self._close(session, state, "timeout", now, Outcome(), limit_s=limit_s)
        if not ended:
            session.rollback()  # what this call stored of the ending goes with it
            return False
        session.commit()
        return ended

    def hints(self, session: Session, attempt: Attempt) -> list[str] | str:
        """Coaching lines for the open criteria of a conversation that gives hints (each
        request counted on the attempt), or a notice key. The scenario's hint policy wins
        over the organisation's: off, on, or a number per attempt (evaluator/hints.py)."""
        if attempt.ended:
            return ENDED
        if not self.policy(attempt).gives_hints:
            return "chat.notice.no_hints"
        found = self.library.find(attempt.pack_id, attempt.scenario_id)
        policy = effective(found[1].hints if found else None, self.hint_policy)
        remaining = left(policy, attempt.hints_used)
        if remaining == 0:
            return "chat.notice.no_hints" if policy == "off" else "chat.notice.hints_used_up"
        lines = live.open_coaching(session, self.library, attempt)
        # One atomic increment: two tabs asking at once are both counted.
        session.exec(
            update(Attempt)
            .where(col(Attempt.id) == attempt.id)
            .values(hints_used=col(Attempt.hints_used) + 1)
        )
        session.commit()
        return lines

    # -- ending: one atomic claim ----------------------------------------------------------

    def _claim(
        self,
        session: Session,
        attempt: Attempt,
        reason: str,
        now: datetime,
        limit_s: float | None = None,
    ) -> bool:
        """Mark the attempt ended unless someone (another worker) already did, or (with
        `limit_s`) its time limit is no longer that one (a proctor gave more time)."""
        statement = update(Attempt).where(
            col(Attempt.id) == attempt.id, col(Attempt.ended_at).is_(None)
        )
        if limit_s is not None:
            statement = statement.where(col(Attempt.time_limit_s) == limit_s)
        claimed = session.exec(statement.values(ended_at=now, end_reason=reason))
        session.refresh(attempt)
        return claimed.rowcount == 1

    def _close(
        self,
        session: Session,
        state: Live,
        reason: str,
        now: datetime,
        outcome: Outcome,
        limit_s: float | None = None,
    ) -> bool:
        """End and grade the conversation once; False if it had already been ended (or
        its limit is no longer `limit_s`: see `_claim`)."""
        outcome.new_messages += live.store_new(session, state)
        if not self._claim(session, state.attempt, reason, now, limit_s):
            return False
        grade = live.grade_live(state)
        grade["pack_version"] = state.attempt.pack_version
        store_grade(session=session, attempt=state.attempt, grade=grade)
        self.announce(session, state.attempt)
        return True

    # -- the chat socket's calls ---------------------------------------------------------------

    def opened(self, attempt_id: int) -> None:
        """A chat socket of this process is open on the attempt."""
        self._watchers[attempt_id] = self._watchers.get(attempt_id, 0) + 1

    def closed(self, attempt_id: int) -> None:
        """A chat socket closed; with the last one the kept engine state goes too."""
        left = self._watchers.get(attempt_id, 0) - 1
        if left > 0:
            self._watchers[attempt_id] = left
        else:
            self._watchers.pop(attempt_id, None)
            self._cache.pop(attempt_id, None)

    def clock_changed(self, attempt_ids: Sequence[int]) -> None:
        """These attempts' time limits changed (extra time during the exam): the engine
        state kept for them goes (the next turn rebuilds it with the new limit), and the
        timer task looks at the deadlines again."""
        for attempt_id in attempt_ids:
            self._cache.pop(attempt_id, None)
        if attempt_ids:
            self.schedule()

    def watched(self, attempt_id: int) -> bool:
        """Whether a chat page of this process is connected to the attempt."""
        return attempt_id in self._watchers

    def cached(self, attempt_id: int) -> Resume | None:
        """The engine state kept for the attempt's next turn, if any."""
        return self._cache.get(attempt_id)

    def _remember(self, attempt_id: int, outcome: Outcome) -> None:
        """Keep the engine state a full-path event left, for the next turn's fast path."""
        if attempt_id not in self._watchers or outcome.duplicate:
            return
        resume = Resume.of(outcome.live) if outcome.live is not None else None
        if resume is None:
            self._cache.pop(attempt_id, None)
        else:
            self._cache[attempt_id] = resume

    async def run(self, attempt_id: int, work: Callable[[Session, Attempt], T]) -> T:
        """Run `work` on the attempt in a worker thread with a fresh session."""

        def call() -> T:
            # Another process (or a second tab on another worker) may have stored the
            # same seq first: the unique constraint refuses ours, and the work runs again
            # on the state that now includes theirs. A database connection lost mid-turn
            # (a restart, a proxy's idle cut) committed nothing: the work runs again on a
            # new connection; a resent client id makes a commit that did land harmless.
            for attempt_number in range(WRITE_RETRIES):
                last = attempt_number == WRITE_RETRIES - 1
                with Session(self.engine, expire_on_commit=False) as session:
                    try:
                        attempt = session.get(Attempt, attempt_id)
                        assert attempt is not None
                        return work(session, attempt)
                    except IntegrityError:
                        session.rollback()
                        if last:
                            raise
                    except DBAPIError as error:
                        if last or not error.connection_invalidated:
                            raise
            raise AssertionError("unreachable")

        return await run_sync(call)

    async def take_message(self, attempt_id: int, text: str, client_id: str | None) -> Outcome:
        """A trainee message: the fast path from the kept state, else the full path.
        `outcome.attempt` is the attempt as the full path left it (None on the fast path)."""
        fast = await self._fast_say(attempt_id, text, client_id)
        if fast is not None:
            return fast

        def work(session: Session, attempt: Attempt) -> Outcome:
            outcome = self.say(session, attempt, text, client_id)
            outcome.attempt = attempt
            return outcome

        outcome = await self.run(attempt_id, work)
        self._remember(attempt_id, outcome)
        return outcome

    async def _fast_say(self, attempt_id: int, text: str, client_id: str | None) -> Outcome | None:
        """The turn from the kept engine state, stored in a batch; None for the full path."""
        resume = self._cache.get(attempt_id)
        if resume is None:
            return None
        if client_id is not None and client_id in resume.client_ids:
            return Outcome(duplicate=True)
        try:
            turn = resume.take_turn(text, client_id, resume.elapsed_s(self.now()))
        except Exception:
            self._cache.pop(attempt_id, None)  # the engine may have stopped half-way
            raise
        if turn is not None and resume.exam_id is not None:
            turn.tag = ExamEvent(resume.exam_id, resume.user_id)  # for the proctor's monitor
        if turn is None or not await self.turns.store(turn):
            self._cache.pop(attempt_id, None)
            return None
        resume.stored(turn)
        return Outcome(new_messages=list(turn.lines))

    async def hand_in(self, attempt_id: int) -> Outcome:
        """The trainee ends the conversation (`finish`), from a socket."""
        return await self._full(attempt_id, self.finish)

    async def wake(self, attempt_id: int) -> Outcome:
        """A chat socket's timer fell due (`tick`)."""
        return await self._full(attempt_id, self.tick)

    async def _full(self, attempt_id: int, step: Callable[[Session, Attempt], Outcome]) -> Outcome:
        def work(session: Session, attempt: Attempt) -> Outcome:
            outcome = step(session, attempt)
            outcome.attempt = attempt
            return outcome

        outcome = await self.run(attempt_id, work)
        self._remember(attempt_id, outcome)
        return outcome

    async def seconds_to_wake(self, attempt_id: int) -> float | None:
        """Wall seconds until the attempt's next nudge or time limit; None once it ended.

        From the kept engine state; loaded (and kept) when there is none. The load takes no
        lock: if a turn kept a newer state meanwhile, that one stays, and a state kept here
        that a turn made stale is refused by the turn's check (cache.py). The wait is real
        time (the socket sleeps it); the turn it leads to reads the service's clock.
        """
        resume = self._cache.get(attempt_id)
        if resume is None:

            def load(session: Session, attempt: Attempt) -> Live | None:
                return None if attempt.ended else live.load(session, self.library, attempt)

            state = await self.run(attempt_id, load)
            if state is None:
                return None
            resume = Resume.of(state)
            if resume is not None and attempt_id in self._watchers:
                self._cache.setdefault(attempt_id, resume)
            if resume is None:
                return live.next_deadline(state) - live.elapsed_s(state.attempt, utcnow())
        return resume.next_deadline() - resume.elapsed_s(utcnow())

    async def missed(self, attempt_id: int, after: int) -> tuple[list[ShownMessage], Attempt]:
        """The stored lines after seq `after`, and the attempt (to show its end)."""

        def work(session: Session, attempt: Attempt) -> tuple[list[ShownMessage], Attempt]:
            found = list_messages(session=session, attempt_id=attempt_id, after_seq=after)
            return list(found), attempt

        return await self.run(attempt_id, work)

    async def open_hints(self, attempt_id: int) -> list[str] | str:
        """`hints` from a socket."""
        return await self.run(attempt_id, self.hints)

    # -- the server's timers (modes it ends on its own) -------------------------------------

    def schedule(self) -> None:
        """A new deadline exists: let the timer task look again (safe from any thread)."""
        for loop, wake in list(self._wakers):
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(wake.set)

    async def run_timers(self) -> None:
        """End every exam attempt at its deadline, for as long as the app runs."""
        waker = (asyncio.get_running_loop(), asyncio.Event())
        self._wakers.append(waker)
        try:
            await self._run_timers(waker[1])
        finally:
            self._wakers.remove(waker)

    async def _run_timers(self, wake: asyncio.Event) -> None:
        while True:
            try:
                await self.expire_due()
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

    async def expire_due(self) -> list[int]:
        """End every open exam attempt past its deadline now; return their ids.

        Each under the attempt's lock, so an ending never interleaves a turn.
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
            async with self.locks.hold(attempt_id):
                if await asyncio.to_thread(self._expire_one, attempt_id):
                    ended.append(attempt_id)
        return ended

    def _expire_one(self, attempt_id: int) -> bool:
        with Session(self.engine, expire_on_commit=False) as session:
            attempt = session.get(Attempt, attempt_id)
            return attempt is not None and self.expire(session, attempt)

    def start_timers(self) -> asyncio.Task[None]:
        """Run the timers in the current event loop until `stop_timers` with the task."""
        return asyncio.create_task(self.run_timers())

    async def stop_timers(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
