"""The chat socket: one per open conversation page, speaking htmx's ws extension.

It only speaks the socket protocol: frames in become calls on the conversation service
(sandbox/conversations), its outcomes become frames out, under the attempt's lock so every
tab sees the same order.

Frames from the browser are JSON objects with a `type`:
`hello` (`last_seq`: the highest message seq the page shows), `say` (`text`, `client_id`),
`finish`, `hint`. Frames to the browser are HTML fragments with out-of-band swap targets.
On an exam conversation the socket also hears the proctor give the candidate more time
during it (a clock event of the bus) and sends the new clock (`#clock-sync`, which chat.js
reads) with a notice.
A socket that may no longer stay open (logged out, too many on one attempt) gets a notice
and a close with 1008 (web/sockets.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from sandbox import access
from sandbox.conversations.live import ConversationUnavailable, Outcome, ShownMessage
from sandbox.conversations.service import ConversationService
from sandbox.origins import parse_allowed_origins
from sandbox.storage.models import Attempt, Mode, User
from sandbox.web.chat_frames import ChatFrames
from sandbox.web.deps import get_state, viewer_for
from sandbox.web.i18n import Translate
from sandbox.web.origin import origin_allowed
from sandbox.web.practice import closed_for_practice
from sandbox.web.rooms import Outbox, Room
from sandbox.web.sockets import (
    NOTICE_KEYS,
    POLICY_VIOLATION,
    CloseReason,
    SocketGuard,
    close_with_notice,
    receive_frame,
)
from sandbox.web.state import AppState
from sandbox.web.templating import minutes, render_text

log = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])

FRAMES = "_chat_frames.html"
CLIENT_ID_MAX = 64
MAX_ID = 2**63 - 1
TIMER_SLACK_S = 0.05
#: How long a socket trusts its last answer to "is this practice closed by an exam" before
#: asking again (a turn should not pay for the exam queries every time).
CLOSED_RECHECK_S = 5.0


def room_for(state: AppState, attempt_id: int) -> Room:
    return state.chat_rooms.setdefault(attempt_id, Room())


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
    #: Every turn's frames (its lines, the ack), without Jinja2 (web/chat_frames.py).
    turn_frames: ChatFrames = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.turn_frames = ChatFrames(self.t, self.persona_name, self.content_lang)

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
        return self.turn_frames.messages(messages)

    @property
    def service(self) -> ConversationService:
        return self.state.conversations

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
                closed = closed_for_practice(session, user, self.service.now())
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
    service = state.conversations
    async with service.locks.hold(attempt_id):
        # At most SANDBOX_CHAT_SOCKETS_PER_ATTEMPT sockets on one attempt in this process;
        # checked and counted under the lock, so two handshakes cannot both take the last.
        crowded = len(room.outboxes) >= settings.chat_sockets_per_attempt
        if not crowded:
            room.outboxes.add(channel.outbox)
            service.opened(attempt_id)
    if crowded:
        limit = settings.chat_sockets_per_attempt
        notice = channel.closed(CloseReason.TOO_MANY, limit=limit)
        await close_with_notice(websocket, notice, CloseReason.TOO_MANY)
        return
    guard = SocketGuard(state.live_sessions, viewer.login.id)
    sender = channel.outbox.start()
    timer: asyncio.Task[None] | None = None
    watcher: asyncio.Task[None] | None = None
    clock: asyncio.Task[None] | None = None
    try:
        timer = asyncio.create_task(run_timer(channel))
        watcher = asyncio.create_task(close_when_refused(channel, guard))
        if attempt.exam_id is not None and not attempt.ended:
            clock = asyncio.create_task(watch_clock(channel, attempt.exam_id, attempt.user_id))
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
        service.closed(attempt_id)
        for task in (clock, watcher, timer, sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not room.outboxes:
            state.chat_rooms.pop(attempt_id, None)


async def watch_clock(channel: Channel, exam_id: int, user_id: int) -> None:
    """Send the new clock when the proctor gives the candidate more time while this exam
    conversation runs (exam_order.py publishes a clock event after its commit; any worker
    may have taken the proctor's request). The attempt is read again; a frame goes out
    only when its limit changed."""
    service = channel.service

    def read() -> Attempt | None:
        with Session(channel.state.engine, expire_on_commit=False) as session:
            return session.get(Attempt, channel.attempt_id)

    async with service.bus.subscribe_clock(exam_id, user_id) as subscription:
        first = await run_in_threadpool(read)
        if first is None:
            return
        limit_s = first.time_limit_s
        while True:
            await subscription.next_batch()
            attempt = await run_in_threadpool(read)
            if attempt is None or attempt.ended:
                return
            if attempt.time_limit_s == limit_s:
                continue
            added_s, limit_s = attempt.time_limit_s - limit_s, attempt.time_limit_s
            service.clock_changed([channel.attempt_id])  # this worker's kept state goes
            notice = (
                channel.t("chat.notice.extra_time", minutes=minutes(added_s)) if added_s > 0 else ""
            )
            async with service.locks.hold(channel.attempt_id):
                channel.outbox.put(
                    channel.frame(
                        "clock",
                        limit_s=attempt.time_limit_s - attempt.grace_s,
                        elapsed_s=service.elapsed_s(attempt),
                        notice=notice,
                    )
                )


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
    async with channel.service.locks.hold(channel.attempt_id):
        outcome = await channel.service.hand_in(channel.attempt_id)
        channel.broadcast(outcome, outcome.attempt)
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
    ack = channel.turn_frames.ack(client_id or "")
    async with channel.service.locks.hold(channel.attempt_id):
        outcome = await channel.service.take_message(channel.attempt_id, text, client_id)
        attempt = outcome.attempt
        if outcome.duplicate:
            channel.outbox.put(ack)
            channel.outbox.put(channel.fixed_frame("typing", typing=False, done=True))
        elif outcome.notice:
            channel.broadcast(outcome, attempt)
            channel.outbox.put(channel.notice(outcome.notice, **outcome.notice_fields))
        else:
            channel.broadcast(outcome, attempt, ack=ack)


async def send_missed(channel: Channel, after: int) -> None:
    """Replay what the page has not shown yet, then the ended state if the attempt is over."""
    async with channel.service.locks.hold(channel.attempt_id):
        missed, attempt = await channel.service.missed(channel.attempt_id, after)
        if missed:
            channel.outbox.put(channel.messages_html(missed))
        if attempt.ended:
            channel.outbox.put(channel.ended_html(attempt))
        channel.outbox.put(channel.fixed_frame("synced"))


async def send_hints(channel: Channel) -> None:
    hints = await channel.service.open_hints(channel.attempt_id)
    if isinstance(hints, str):
        channel.outbox.put(channel.notice(hints))
    else:
        channel.outbox.put(channel.frame("hints", hints=hints))


async def run_timer(channel: Channel) -> None:
    """Send nudges when the trainee is silent and end the conversation at its time limit."""
    service, attempt_id = channel.service, channel.attempt_id
    while True:
        try:
            wait_s = await service.seconds_to_wake(attempt_id)
        except ConversationUnavailable:
            return
        if wait_s is None:
            return
        if wait_s > TIMER_SLACK_S:
            # Sleep until it is due, then look again: a turn in between only moves the
            # deadline later, so waking up early to poll would only cost a replay.
            await asyncio.sleep(wait_s)
            continue
        async with service.locks.hold(attempt_id):
            outcome = await service.wake(attempt_id)
            channel.broadcast(outcome, outcome.attempt)
