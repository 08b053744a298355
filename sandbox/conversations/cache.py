"""The conversation service's cached state (its fast path): a turn computed from the engine
state kept in memory, stored in batches.

The full path (`ConversationService.say`, on live.py) loads every stored message of the
attempt and replays the trainee's lines through the engine on every message. Between turns
the service keeps a `Resume` instead, for each attempt a chat socket is open on: the engine
state as stored, and what the attempt's row must still say for that state to be right
(started at, time limit, how many messages).

A turn on the fast path runs the engine on that state and hands the new lines to the
`TurnBatcher`, which stores them with the turns of other conversations in one transaction
(storage/turns.py) and checks, in the same transaction, that each attempt is still as its
`Resume` expects. Only then are the lines sent: every message is stored before the reply,
as on the full path. Whatever the fast path does not cover (the end of a conversation, a
time limit, an exam's grace period, a refused message, an attempt another process changed)
drops the `Resume` and goes the full path, which rebuilds the state from the database. So
no worker needs to have seen a conversation before, and no sticky sessions are needed.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from anyio.to_thread import run_sync
from sqlalchemy import Engine
from sqlmodel import Session

from sandbox.conversations.live import Live, deadline_at, seconds_since
from sandbox.engine.conversation import Conversation
from sandbox.storage.models import Mode
from sandbox.storage.turns import Head, PendingTurn, TurnLine, store_turns

log = logging.getLogger(__name__)

#: Turns stored in one transaction at most; more wait for the next one.
BATCH_MAX = 256


@dataclass
class Resume:
    """A live conversation's engine state as stored, kept between turns."""

    attempt_id: int
    user_id: int
    mode: Mode
    exam_id: int | None
    grace_s: float
    head: Head
    conversation: Conversation
    client_ids: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, live: Live) -> Resume | None:
        """The state of a full-path load, or None when it is not one to keep."""
        attempt = live.attempt
        if attempt.id is None or attempt.ended or live.conversation.ended:
            return None
        if len(live.conversation.messages) != len(live.stored):
            return None  # replay disagrees with what is stored: always the full path
        return cls(
            attempt_id=attempt.id,
            user_id=attempt.user_id,
            mode=Mode(attempt.mode),
            exam_id=attempt.exam_id,
            grace_s=attempt.grace_s,
            head=Head(attempt.started_at, attempt.time_limit_s, len(live.stored)),
            conversation=live.conversation,
            client_ids={m.client_id for m in live.stored if m.client_id},
        )

    def elapsed_s(self, now: datetime) -> float:
        """Seconds since the attempt started, as `live.elapsed_s` counts them."""
        return seconds_since(self.head.started_at, now)

    def next_deadline(self) -> float:
        """The attempt time of the next nudge or of the time limit, whichever is first."""
        return deadline_at(self.conversation, self.head.time_limit_s)

    def take_turn(self, text: str, client_id: str | None, at: float) -> PendingTurn | None:
        """The lines of a trainee message that needs nothing but storing, or None when the
        full path must decide (the conversation would end, the time is up, the message is
        refused). After None the state may have moved on: drop it."""
        limit = self.head.time_limit_s - (self.grace_s if self.mode == Mode.EXAM else 0.0)
        if at > limit:
            return None
        conversation = self.conversation
        before = len(conversation.messages)
        turn = conversation.receive(text, at)
        if not turn.accepted or conversation.ended:
            return None
        lines: list[TurnLine] = []
        for offset, message in enumerate(conversation.messages[before:]):
            line = TurnLine(
                self.head.count + offset,
                str(message.role),
                message.text,
                float(message.at),
                message.kind,
            )
            if client_id is not None and message.role == "trainee":
                line.client_id, client_id = client_id, None
            lines.append(line)
        return PendingTurn(self.attempt_id, self.head, lines)

    def stored(self, turn: PendingTurn) -> None:
        """`turn` is stored: the state counts its lines."""
        self.head = Head(
            self.head.started_at, self.head.time_limit_s, self.head.count + len(turn.lines)
        )
        self.client_ids.update(line.client_id for line in turn.lines if line.client_id)


OnStored = Callable[[Session, Sequence[PendingTurn]], None]


class _LoopQueue:
    """The turns waiting in one event loop, and the task storing them."""

    def __init__(self) -> None:
        self.waiting: list[tuple[PendingTurn, asyncio.Future[bool]]] = []
        self.flusher: asyncio.Task[None] | None = None


class TurnBatcher:
    """Stores the fast path's turns: one transaction for everything waiting at once.

    The first turn starts a store at once; turns that arrive while it runs wait and go
    together in the next transaction. An idle server stores each turn at once; a busy one
    stores dozens per commit.
    """

    def __init__(self, engine: Engine, on_stored: OnStored | None = None) -> None:
        self.engine = engine
        self.on_stored = on_stored
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = (
            weakref.WeakKeyDictionary()
        )

    async def store(self, turn: PendingTurn) -> bool:
        """Store `turn` if its attempt is as it expects; True once committed."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _LoopQueue()
        done: asyncio.Future[bool] = loop.create_future()
        queue.waiting.append((turn, done))
        if queue.flusher is None or queue.flusher.done():
            queue.flusher = loop.create_task(self._flush(queue))
        return await done

    async def _flush(self, queue: _LoopQueue) -> None:
        while queue.waiting:
            batch, queue.waiting = queue.waiting[:BATCH_MAX], queue.waiting[BATCH_MAX:]
            turns = [turn for turn, _ in batch]
            try:
                # The same worker threads as Starlette's `run_in_threadpool` (anyio's limiter).
                verdicts = await run_sync(store_turns, self.engine, turns, self.on_stored)
            except Exception:
                # Nothing of this batch was stored: each turn goes the full path, which
                # retries on its own and reports what still fails.
                log.exception("storing %d chat turns failed", len(batch))
                verdicts = [False] * len(batch)
            for (_, done), ok in zip(batch, verdicts, strict=True):
                if not done.done():
                    done.set_result(ok)
