"""What the app's WebSockets (the chat, the proctor's monitor) share once they are open.

A socket is checked at its handshake (web/origin.py, the session, the attempt or the role),
but it may stay open for hours: the user may log out in another tab, be given another role
(`sandbox users role`), be deactivated, or the session may expire. `SocketGuard` checks the
login session, and the role a socket needs, again while it is open: at every frame it
receives and every `SANDBOX_SOCKET_RECHECK_S` seconds (a monitor only sends). The answer
comes from `LiveSessions` (web/security.py), which reads the database at most once per
interval per session in a process, so the chat's turn does not pay a query per frame.

A socket that may no longer stay open gets a notice frame the page shows, then a close with
code 1008 and a short reason (`CloseReason`) the page's script reads (static/chat.js,
static/monitor.js). docs/web.md lists the codes and reasons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from enum import StrEnum

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy.exc import SQLAlchemyError

from sandbox.storage.models import Role
from sandbox.web.security import LiveSessions

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008


class CloseReason(StrEnum):
    """Why an open socket was closed with 1008: its close reason, read by the page."""

    SIGNED_OUT = "signed-out"
    ROLE = "role-changed"
    TOO_MANY = "too-many-sockets"


#: The interface text (message keys of the catalogues, web/i18n.py) of each reason's notice.
NOTICE_KEYS = {
    CloseReason.SIGNED_OUT: "socket.closed.signed_out",
    CloseReason.ROLE: "socket.closed.role",
    CloseReason.TOO_MANY: "socket.closed.too_many",
}


@dataclass
class SocketGuard:
    """The login session an open socket was accepted for, and the roles it needs."""

    sessions: LiveSessions
    session_id: str
    roles: frozenset[Role] | None = None  # None: any signed-in user

    async def refusal(self) -> CloseReason | None:
        """Why the socket may no longer stay open, or None while it may."""
        try:
            role = await self.sessions.role(self.session_id)
        except SQLAlchemyError as error:
            # The database is away (a restart, a dropped connection): the socket stays and
            # is checked again at its next frame or tick; it cannot store anything meanwhile.
            log.warning("could not re-check an open socket's session: %s", type(error).__name__)
            return None
        if role is None:
            return CloseReason.SIGNED_OUT
        if self.roles is not None and role not in self.roles:
            return CloseReason.ROLE
        return None

    async def watch(self) -> CloseReason:
        """Check every recheck interval; return the reason once the socket must close."""
        while True:
            await asyncio.sleep(self.sessions.ttl_s)
            reason = await self.refusal()
            if reason is not None:
                return reason


async def close_with_notice(websocket: WebSocket, notice_html: str, reason: CloseReason) -> None:
    """Send the notice frame, then close with 1008 and `reason`; a socket already gone is
    left alone."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_text(notice_html)
        await websocket.close(code=POLICY_VIOLATION, reason=reason.value)


async def receive_frame(websocket: WebSocket) -> str | None:
    """The next frame's text; None for a binary frame (no socket of ours takes one).

    Raises WebSocketDisconnect when the browser goes away.
    """
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    return text if isinstance(text, str) else None
