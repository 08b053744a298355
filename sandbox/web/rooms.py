"""The chat sockets open on an attempt (a `Room`) and each socket's queue of frames.

Kept apart from the routes so that the app's state can name them without importing a
router (the import graph has no cycles: see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from fastapi import WebSocket

from sandbox.web.sockets import CloseReason, close_with_notice


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
    """The sockets open on one attempt: several tabs see the same conversation."""

    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()
