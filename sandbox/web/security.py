"""Login sessions behind a signed cookie, and CSRF tokens bound to them."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine
from sqlmodel import Session, col, delete
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from sandbox.storage.models import LoginSession, Role, User, utcnow

SESSION_COOKIE = "sandbox_session"
ANON_COOKIE = "sandbox_anon"
LANG_COOKIE = "sandbox_lang"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Signer:
    """Signs cookie values and CSRF tokens with the app's secret."""

    secret_key: str
    max_age_s: int

    def _serializer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret_key, salt=salt)

    def sign_session(self, session_id: str) -> str:
        return self._serializer("session").dumps(session_id)

    def unsign_session(self, cookie: str | None) -> str | None:
        """The session id in a cookie, or None when it is missing, forged or too old."""
        if not cookie:
            return None
        try:
            value = self._serializer("session").loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def csrf_token(self, binding: str) -> str:
        """A token valid for forms of the browser identified by `binding`."""
        return self._serializer("csrf").dumps(binding)

    def csrf_valid(self, token: str | None, binding: str | None) -> bool:
        if not token or not binding:
            return False
        try:
            value = self._serializer("csrf").loads(token, max_age=self.max_age_s)
        except BadSignature:
            return False
        return isinstance(value, str) and hmac.compare_digest(value, binding)


def cookies_secure(connection: HTTPConnection, env: str) -> bool:
    """Mark cookies `Secure` in production and whenever the request came over HTTPS.

    Behind a TLS-terminating proxy the scheme is https only if `sandbox serve` trusts the
    proxy's X-Forwarded-Proto (SANDBOX_FORWARDED_ALLOW_IPS).
    """
    return env == "production" or connection.url.scheme in ("https", "wss")


def client_address(connection: HTTPConnection) -> str:
    """The client's address (the proxy's X-Forwarded-For when the proxy is trusted)."""
    return connection.client.host if connection.client else "unknown"


def new_anon_id() -> str:
    return secrets.token_urlsafe(24)


def open_session(*, session: Session, user: User, max_age_s: int) -> LoginSession:
    """A new login session for `user`."""
    assert user.id is not None
    now = utcnow()
    # Forget this user's expired sessions, so the table does not grow without bound.
    session.exec(
        delete(LoginSession).where(
            col(LoginSession.user_id) == user.id, col(LoginSession.expires_at) <= now
        )
    )
    login = LoginSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=max_age_s),
    )
    session.add(login)
    session.flush()
    return login


def resolve_session(
    *, session: Session, session_id: str | None
) -> tuple[LoginSession, User] | None:
    """The live login session and its active user, or None."""
    if not session_id:
        return None
    login = session.get(LoginSession, session_id)
    if login is None or login.expires_at <= utcnow():
        return None
    user = session.get(User, login.user_id)
    if user is None or not user.active:
        return None
    return login, user


def close_session(*, session: Session, session_id: str) -> None:
    """Revoke a login session, so its cookie no longer signs anyone in."""
    session.exec(delete(LoginSession).where(col(LoginSession.id) == session_id))
    session.flush()


# More login sessions than any process has sockets open for; beyond it the entries past
# their time are dropped.
LIVE_SESSIONS_MAX = 10_000


@dataclass
class LiveSessions:
    """Whether login sessions are still live, and their user's role, as this process last
    read them: what an open WebSocket checks again while it stays open (web/sockets.py).

    An answer is kept for `ttl_s` seconds, shared by every socket of the session in this
    process, so a chat frame usually costs a dictionary lookup rather than a query. A logout
    in this process forgets the session at once (`forget`); a logout on another worker, a
    role changed by `sandbox users role`, a deactivated user or an expired session are seen
    within `ttl_s`.
    """

    engine: Engine
    ttl_s: float
    clock: Callable[[], float] = time.monotonic
    answers: dict[str, tuple[float, Role | None]] = field(default_factory=dict)
    # `forget` runs in the logout request's worker thread, `role` in the event loop.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _forgotten: int = 0  # how many times `forget` was called: a read it overlapped is not kept

    def read(self, session_id: str) -> Role | None:
        """The role of the session's user, or None when the session is no longer live."""
        with Session(self.engine) as session:
            resolved = resolve_session(session=session, session_id=session_id)
            return Role(resolved[1].role) if resolved else None

    async def role(self, session_id: str) -> Role | None:
        """`read`, answered from what this process read less than `ttl_s` ago if it can."""
        known = self.answers.get(session_id)
        if known is not None and known[0] > self.clock():
            return known[1]
        forgotten = self._forgotten
        role = await run_in_threadpool(self.read, session_id)
        with self._lock:
            if forgotten != self._forgotten:
                return role  # a logout ran meanwhile: this answer may predate it
            now = self.clock()
            if len(self.answers) >= LIVE_SESSIONS_MAX:
                for key in [key for key, kept in self.answers.items() if kept[0] <= now]:
                    del self.answers[key]
            self.answers[session_id] = (now + self.ttl_s, role)
        return role

    def forget(self, session_id: str) -> None:
        """The session was closed in this process: its sockets here learn it at their next
        check, without waiting for `ttl_s`."""
        with self._lock:
            self._forgotten += 1
            self.answers.pop(session_id, None)
