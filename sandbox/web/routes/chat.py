"""The chat socket: one per open conversation page, speaking htmx's ws extension.

Frames from the browser are JSON objects with a `type`:
`hello` (`last_seq`: the highest message seq the page shows), `say` (`text`, `client_id`),
`finish`, `hint`. Frames to the browser are HTML fragments with out-of-band swap targets.
A socket that may no longer stay open (logged out, too many on one attempt) gets a notice
and a close with 1008 (web/sockets.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from sandbox import access
from sandbox.storage.attempts import list_messages
from sandbox.storage.models import Attempt, Mode, User, utcnow
from sandbox.web import conversations
from sandbox.web.conversations import ConversationUnavailable, Outcome, ShownMessage
from sandbox.web.deps import get_state, viewer_for
from sandbox.web.exams import exam_service
from sandbox.web.i18n import Translate
from sandbox.web.monitor import ExamEvent
from sandbox.web.origin import origin_allowed, parse_allowed_origins
from sandbox.web.practice import closed_for_practice
from sandbox.web.sockets import (
    NOTICE_KEYS,
    POLICY_VIOLATION,
    CloseReason,
    SocketGuard,
    close_with_notice,
    receive_frame,
)
from sandbox.web.state import AppState
from sandbox.web.templating import render_text
from sandbox.web.turns import Resume, TurnBatcher

log = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])

FRAMES = "_chat_frames.html"
CLIENT_ID_MAX = 64
MAX_ID = 2**63 - 1
TIMER_SLACK_S = 0.05
WRITE_RETRIES = 3
#: How long a socket trusts its last answer to "is this practice closed by an exam" before
#: asking again (a turn should not pay for the exam queries every time).
CLOSED_RECHECK_S = 5.0
T = TypeVar("T")


@dataclass
class Outgoing:
    html: str
    delay_s: float = 0.0


class Outbox:
    """Frames for one socket, sent in order; a persona reply waits for the typing delay."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self.sender: asyncio.Task[None] | None = None
        self.closed = False

    def put(self, html: str, delay_s: float = 0.0) -> None:
        self.queue.put_nowait(Outgoing(html, delay_s))

    def start(self) -> asyncio.Task[None]:
        self.sender = asyncio.create_task(self.run())
        return self.sender

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            if item.delay_s > 0:
                await asyncio.sleep(item.delay_s)
            await self.websocket.send_text(item.html)

    async def close(self, notice_html: str, reason: CloseReason) -> None:
        """Drop the frames still queued, send the notice and close the socket with 1008."""
        if self.closed:
            return
        self.closed = True
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sender
        await close_with_notice(self.websocket, notice_html, reason)


class Room:
    """The sockets open on one attempt (several tabs see the same conversation), and the
    conversation's engine state between turns while any is open (web/turns.py)."""

    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()
        self.resume: Resume | None = None


def room_for(state: AppState, attempt_id: int) -> Room:
    room: Room = state.chat_rooms.setdefault(attempt_id, Room())
    return room


@dataclass
class Channel:
    """Everything one socket handler needs to run a turn and send its frames."""

    state: AppState
    attempt_id: int
    persona_name: str
    content_lang: str
    t: Translate
    outbox: Outbox
    rendered: dict[tuple[Any, ...], str] = field(default_factory=dict, repr=False)
    #: The user and attempt the socket serves, to ask whether practice is closed to them.
    user: User | None = None
    practice: tuple[str, str] | None = None  # (pack, scenario) of a practice attempt
    closed_at: tuple[float, str | None] | None = field(default=None, repr=False)

    def frame(self, block: str, **context: Any) -> str:
        base = {"t": self.t, "persona_name": self.persona_name, "content_lang": self.content_lang}
        return render_text(FRAMES, {**base, **context}, block=block)

    def fixed_frame(self, block: str, **flags: bool) -> str:
        """A frame that depends only on this socket's language and persona: rendered once."""
        key = (block, *sorted(flags.items()))
        html = self.rendered.get(key)
        if html is None:
            html = self.rendered[key] = self.frame(block, **flags)
        return html

    def notice(self, key: str | None, **fields: Any) -> str:
        text = self.t(key, **fields) if key else ""
        return self.frame("notice", notice=text)

    def closed(self, reason: CloseReason, **fields: Any) -> str:
        """The last frame of a socket closed with 1008: why, and that it is disconnected."""
        return self.frame("closed", notice=self.t(NOTICE_KEYS[reason], **fields))

    def messages_html(self, messages: list[ShownMessage]) -> str:
        return self.frame("messages", messages=messages)

    @property
    def room(self) -> Room | None:
        """This attempt's room, while a socket is open on it."""
        room: Room | None = self.state.chat_rooms.get(self.attempt_id)
        return room

    def remember(self, outcome: Outcome) -> None:
        """Keep the engine state a full-path event left, for the next turn's fast path."""
        room = self.room
        if room is not None and not outcome.duplicate:
            room.resume = Resume.of(outcome.live) if outcome.live is not None else None

    def now(self, mode: Mode) -> datetime:
        """The clock the full path reads for this mode (an exam has the exam service's)."""
        return exam_service(self.state).now() if mode == Mode.EXAM else utcnow()

    async def locked(self, work: Callable[[Session, Attempt], T]) -> T:
        """Run `work` in a worker thread with a fresh session (callers hold the attempt's lock)."""

        def call() -> T:
            # Another process (or a second tab on another worker) may have stored the
            # same seq first: the unique constraint refuses ours, and the work runs again
            # on the state that now includes theirs. A database connection lost mid-turn
            # (a restart, a proxy's idle cut) committed nothing: the work runs again on a
            # new connection; a resent client id makes a commit that did land harmless.
            for attempt_number in range(WRITE_RETRIES):
                last = attempt_number == WRITE_RETRIES - 1
                with Session(self.state.engine, expire_on_commit=False) as session:
                    try:
                        attempt = session.get(Attempt, self.attempt_id)
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

        return await run_in_threadpool(call)

    def broadcast(
        self, outcome: Outcome, attempt: Attempt | None = None, ack: str | None = None
    ) -> None:
        """Queue an outcome's messages for every socket on this attempt (under the lock).

        What is shown at the same moment goes in one frame: the sender's own line, `ack`
        (its input clears) and, with no typing delay, the reply and the `data-turn="done"`
        marker. With a delay, the reply and the marker follow in a second frame. The end of
        the conversation comes in a frame of its own, with the marker.
        """
        room = room_for(self.state, self.attempt_id)
        trainee = [m for m in outcome.new_messages if m.role == "trainee"]
        persona = [m for m in outcome.new_messages if m.role != "trainee"]
        delay = self.state.settings.reply_delay_s if trainee and persona else 0.0
        trainee_html = self.messages_html(trainee) if trainee else ""
        persona_html = self.messages_html(persona) if persona else ""
        ended_html = self.ended_html(attempt) if outcome.ended_now and attempt else ""
        reply_delay = delay if persona else 0.0
        for outbox in room.outboxes | {self.outbox}:
            sender = outbox is self.outbox
            frames: list[tuple[list[str], float]] = [([trainee_html], 0.0)]
            if sender and ack:
                frames[-1][0].append(ack)
            if persona and delay:
                frames[-1][0].append(self.fixed_frame("typing", typing=True))
                frames.append(([], reply_delay))
            frames[-1][0].append(persona_html)
            if ended_html:
                frames.append(([ended_html], 0.0))
            if delay or (sender and ack):
                frames[-1][0].append(self.fixed_frame("typing", typing=False, done=sender))
            for parts, wait_s in frames:
                if any(parts):
                    outbox.put("".join(parts), wait_s)

    async def practice_closed(self) -> str | None:
        """Why practice of this attempt's scenario is closed to its trainee now (a message
        key), or None; the same policy as every page (web/practice.py)."""
        if self.practice is None or self.user is None:
            return None
        clock = asyncio.get_running_loop().time()
        if self.closed_at is not None and clock - self.closed_at[0] < CLOSED_RECHECK_S:
            return self.closed_at[1]
        user, (pack_id, scenario_id) = self.user, self.practice

        def ask() -> str | None:
            with Session(self.state.engine) as session:
                closed = closed_for_practice(session, user, exam_service(self.state).now())
                return closed.reason(pack_id, scenario_id)

        reason = await run_in_threadpool(ask)
        self.closed_at = (clock, reason)
        return reason

    def ended_html(self, attempt: Attempt) -> str:
        reason = attempt.end_reason or "completed"
        key = f"end.{reason}" if reason in ("finished", "timeout") else "end.completed"
        return self.frame("ended", attempt=attempt, reason_text=self.t(key))


def same_origin(websocket: WebSocket) -> bool:
    """True when the handshake comes from an allowed page (cross-site WebSocket hijacking)."""
    allowed = parse_allowed_origins(get_state(websocket).settings.allowed_origins)
    return origin_allowed(websocket.headers, allowed, websocket.url.scheme)


def parse_frame(raw: str, max_chars: int) -> dict[str, Any] | None:
    """The frame as a dict, or None when it is not a JSON object of a known type."""
    if len(raw) > max_chars * 4 + 4096:
        return None
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("type") not in ("hello", "say", "finish", "hint"):
        return None
    return frame


def storable(value: str) -> bool:
    """True when `value` can be stored as text: no lone surrogate (JSON's `\\ud800` decodes
    to one, and UTF-8 cannot encode it) and no NUL (PostgreSQL refuses it in text)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def seq_after(frame: dict[str, Any]) -> int | None:
    """A `hello`'s `last_seq` (-1 when absent); None when it is not a seq a page can show."""
    last_seq = frame.get("last_seq", -1)
    if last_seq is None:
        return -1
    if isinstance(last_seq, bool) or not isinstance(last_seq, int):
        return None
    return last_seq if -1 <= last_seq <= MAX_ID else None


@router.websocket("/attempts/{attempt_id}/ws")
async def chat_socket(websocket: WebSocket, attempt_id: int) -> None:
    """Run one browser's side of a conversation."""
    state = get_state(websocket)

    def who() -> tuple[Any, Attempt | None, str, str]:
        with Session(state.engine, expire_on_commit=False) as session:
            viewer = viewer_for(websocket, state, session)
            # An id beyond any database integer names no attempt (SQLite would raise).
            attempt = session.get(Attempt, attempt_id) if 0 < attempt_id <= MAX_ID else None
            found = state.library.find(attempt.pack_id, attempt.scenario_id) if attempt else None
            if found is None:
                return viewer, attempt, "", ""
            return viewer, attempt, found[1].persona.name, found[0].locale

    # Origin, session and ownership are checked before the handshake is accepted: a refused
    # socket is answered 403 and never gets a frame (web/origin.py, docs/security.md).
    settings = state.settings
    if not same_origin(websocket):
        await websocket.close(code=POLICY_VIOLATION)
        return
    viewer, attempt, persona_name, content_lang = await run_in_threadpool(who)
    user = viewer.user
    if user is None or attempt is None or not access.can_converse(user, attempt.user_id):
        await websocket.close(code=POLICY_VIOLATION)
        return
    assert viewer.login is not None
    await websocket.accept()
    channel = Channel(state, attempt_id, persona_name, content_lang, viewer.t, Outbox(websocket))
    channel.user = viewer.user
    if attempt.mode == Mode.PRACTICE:
        channel.practice = (attempt.pack_id, attempt.scenario_id)
    room = room_for(state, attempt_id)
    async with state.attempt_lock(attempt_id):
        # At most SANDBOX_CHAT_SOCKETS_PER_ATTEMPT sockets on one attempt in this process;
        # checked and counted under the lock, so two handshakes cannot both take the last.
        crowded = len(room.outboxes) >= settings.chat_sockets_per_attempt
        if not crowded:
            room.outboxes.add(channel.outbox)
    if crowded:
        limit = settings.chat_sockets_per_attempt
        notice = channel.closed(CloseReason.TOO_MANY, limit=limit)
        await close_with_notice(websocket, notice, CloseReason.TOO_MANY)
        return
    guard = SocketGuard(state.live_sessions, viewer.login.id)
    sender = channel.outbox.start()
    timer: asyncio.Task[None] | None = None
    watcher: asyncio.Task[None] | None = None
    try:
        timer = asyncio.create_task(run_timer(channel))
        watcher = asyncio.create_task(close_when_refused(channel, guard))
        while True:
            raw = await receive_frame(websocket)
            refusal = await guard.refusal()  # from memory unless the answer is old
            if refusal is not None:
                await channel.outbox.close(channel.closed(refusal), refusal)
                break
            if not state.chat_limits.take(attempt_id):
                # Over the attempt's rate (all its sockets together): dropped with a notice,
                # the socket stays open.
                channel.outbox.put(channel.notice("chat.notice.too_fast"))
                continue
            if raw is None:
                channel.outbox.put(channel.notice("chat.notice.malformed"))
                continue
            await handle_frame(channel, raw)
            if sender.done():
                break
    except WebSocketDisconnect:
        pass
    finally:
        room.outboxes.discard(channel.outbox)
        for task in (watcher, timer, sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not room.outboxes:
            state.chat_rooms.pop(attempt_id, None)


async def close_when_refused(channel: Channel, guard: SocketGuard) -> None:
    """Close the socket once its session ends, even if the browser sends nothing."""
    refusal = await guard.watch()
    await channel.outbox.close(channel.closed(refusal), refusal)


async def handle_frame(channel: Channel, raw: str) -> None:
    """Act on one frame from the browser; bad input gets a notice and changes nothing."""
    settings = channel.state.settings
    if len(raw) > settings.message_max_chars * 4 + 4096:
        # Far longer than any message may be: say so as plainly as for one just over the limit.
        limit = settings.message_max_chars
        channel.outbox.put(channel.notice("chat.notice.too_long", length=len(raw), limit=limit))
        return
    frame = parse_frame(raw, settings.message_max_chars)
    if frame is None:
        channel.outbox.put(channel.notice("chat.notice.malformed"))
        return
    kind = frame["type"]
    try:
        if kind in ("say", "hint") and (closed := await channel.practice_closed()) is not None:
            # An exam keeps this scenario from the trainee's practice: nothing is said or
            # hinted (web/practice.py).
            channel.outbox.put(channel.notice(closed))
        elif kind == "hello":
            after = seq_after(frame)
            if after is None:
                channel.outbox.put(channel.notice("chat.notice.malformed"))
                return
            await send_missed(channel, after)
        elif kind == "say":
            await handle_say(channel, frame)
        elif kind == "finish":
            await handle_finish(channel)
        elif kind == "hint":
            await send_hints(channel)
    except ConversationUnavailable:
        channel.outbox.put(channel.notice("chat.notice.unknown_scenario"))
    except Exception:
        # Nothing was stored for this frame (each write commits whole or not at all): say so
        # and keep the socket, rather than drop it into a reconnect loop.
        log.exception("chat frame failed on attempt %s", channel.attempt_id)
        channel.outbox.put(channel.notice("error.500"))


async def handle_finish(channel: Channel) -> None:
    library = channel.state.library

    def work(session: Session, attempt: Attempt) -> tuple[Outcome, Attempt]:
        if attempt.mode == Mode.EXAM:  # on the exam's clock (web/exams.py)
            return exam_service(channel.state).finish(session, attempt), attempt
        return conversations.finish(session, library, attempt), attempt

    async with channel.state.attempt_lock(channel.attempt_id):
        outcome, attempt = await channel.locked(work)
        channel.remember(outcome)
        channel.broadcast(outcome, attempt)
    if outcome.notice:
        channel.outbox.put(channel.notice(outcome.notice))


async def handle_say(channel: Channel, frame: dict[str, Any]) -> None:
    text = frame.get("text")
    client_id = frame.get("client_id")
    if not isinstance(text, str) or (client_id is not None and not isinstance(client_id, str)):
        channel.outbox.put(channel.notice("chat.notice.malformed"))
        return
    if client_id is not None and not (0 < len(client_id) <= CLIENT_ID_MAX):
        channel.outbox.put(channel.notice("chat.notice.malformed"))
        return
    if not storable(text) or (client_id is not None and not storable(client_id)):
        channel.outbox.put(channel.notice("chat.notice.malformed"))
        return
    limit = channel.state.settings.message_max_chars
    if not text.strip():
        channel.outbox.put(channel.notice("chat.notice.empty"))
        return
    if len(text) > limit:
        channel.outbox.put(channel.notice("chat.notice.too_long", length=len(text), limit=limit))
        return
    library = channel.state.library

    def work(session: Session, attempt: Attempt) -> tuple[Outcome, Attempt]:
        if attempt.mode == Mode.EXAM:  # refused after the deadline (web/exams.py)
            return exam_service(channel.state).say(session, attempt, text, client_id), attempt
        return conversations.say(session, library, attempt, text, client_id), attempt

    ack = channel.frame("ack", client_id=client_id or "")
    async with channel.state.attempt_lock(channel.attempt_id):
        fast = await fast_say(channel, text, client_id)
        if fast is not None:
            outcome, attempt = fast, None
        else:
            outcome, attempt = await channel.locked(work)
            channel.remember(outcome)
        if outcome.duplicate:
            channel.outbox.put(ack)
            channel.outbox.put(channel.fixed_frame("typing", typing=False, done=True))
        elif outcome.notice:
            channel.broadcast(outcome, attempt)
            channel.outbox.put(channel.notice(outcome.notice, **outcome.notice_fields))
        else:
            channel.broadcast(outcome, attempt, ack=ack)


async def fast_say(channel: Channel, text: str, client_id: str | None) -> Outcome | None:
    """The turn from the kept engine state, stored in a batch; None for the full path."""
    room = channel.room
    resume = room.resume if room is not None else None
    if room is None or resume is None:
        return None
    if client_id is not None and client_id in resume.client_ids:
        return Outcome(duplicate=True)
    try:
        turn = resume.take_turn(text, client_id, resume.elapsed_s(channel.now(resume.mode)))
    except Exception:
        room.resume = None  # the engine may have stopped half-way: never reuse that state
        raise
    if turn is not None and resume.exam_id is not None:
        turn.tag = ExamEvent(resume.exam_id, resume.user_id)  # for the proctor's monitor
    if turn is None or not await turn_batcher(channel.state).store(turn):
        room.resume = None
        return None
    resume.stored(turn)
    return Outcome(new_messages=list(turn.lines))


def turn_batcher(state: AppState) -> TurnBatcher:
    """The app's turn batcher, made on first use; it announces exam turns to the monitor."""
    if state.turns is None:
        bus = exam_service(state).bus

        def announce(session: Session, turns: Any) -> None:
            for turn in turns:
                if isinstance(turn.tag, ExamEvent):
                    bus.publish(session, turn.tag)

        state.turns = TurnBatcher(state.engine, announce)
    batcher: TurnBatcher = state.turns
    return batcher


async def send_missed(channel: Channel, after: int) -> None:
    """Replay what the page has not shown yet, then the ended state if the attempt is over."""

    def work(session: Session, attempt: Attempt) -> tuple[list[ShownMessage], Attempt]:
        missed = list_messages(session=session, attempt_id=channel.attempt_id, after_seq=after)
        return list(missed), attempt

    async with channel.state.attempt_lock(channel.attempt_id):
        missed, attempt = await channel.locked(work)
        if missed:
            channel.outbox.put(channel.messages_html(missed))
        if attempt.ended:
            channel.outbox.put(channel.ended_html(attempt))
        channel.outbox.put(channel.fixed_frame("synced"))


async def send_hints(channel: Channel) -> None:
    library = channel.state.library

    def work(session: Session, attempt: Attempt) -> list[str] | str:
        if attempt.ended:
            return "chat.notice.ended"
        if attempt.mode != Mode.PRACTICE:
            return "chat.notice.no_hints"
        return conversations.open_criteria(session, library, attempt)

    hints = await channel.locked(work)
    if isinstance(hints, str):
        channel.outbox.put(channel.notice(hints))
    else:
        channel.outbox.put(channel.frame("hints", hints=hints))


async def run_timer(channel: Channel) -> None:
    """Send nudges when the trainee is silent and end the conversation at its time limit."""
    library = channel.state.library
    lock = channel.state.attempt_lock(channel.attempt_id)

    def load(session: Session, attempt: Attempt) -> conversations.Live | None:
        return None if attempt.ended else conversations.load(session, library, attempt)

    def tick(session: Session, attempt: Attempt) -> tuple[Outcome, Attempt]:
        if attempt.mode == Mode.EXAM:  # ended and graded on the exam's clock
            return exam_service(channel.state).tick(session, attempt), attempt
        return conversations.tick(session, library, attempt), attempt

    async def seconds_to_wait() -> float | None:
        # From the engine state the turns keep; loaded (and kept) when there is none. The
        # load takes no lock: if a turn kept a newer state meanwhile, that one stays, and a
        # state kept here that a turn made stale is refused by the turn's check (turns.py).
        room = channel.room
        resume = room.resume if room is not None else None
        if resume is None:
            live = await channel.locked(load)
            if live is None:
                return None
            resume = Resume.of(live)
            if room is not None and room.resume is None:
                room.resume = resume
            if resume is None:
                due_at = conversations.next_deadline(live)
                return due_at - conversations.elapsed_s(live.attempt, utcnow())
        return resume.next_deadline() - resume.elapsed_s(utcnow())

    while True:
        try:
            wait_s = await seconds_to_wait()
        except ConversationUnavailable:
            return
        if wait_s is None:
            return
        if wait_s > TIMER_SLACK_S:
            # Sleep until it is due, then look again: a turn in between only moves the
            # deadline later, so waking up early to poll would only cost a replay.
            await asyncio.sleep(wait_s)
            continue
        async with lock:
            outcome, attempt = await channel.locked(tick)
            channel.remember(outcome)
            channel.broadcast(outcome, attempt)
