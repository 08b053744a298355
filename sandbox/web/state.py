"""What the app holds for its lifetime; built by the app factory, found via request.app.state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from sandbox.config import Settings
from sandbox.scenarios.library import PackLibrary
from sandbox.web.demo import DemoLogin
from sandbox.web.limits import LoginLimits, SharedBuckets
from sandbox.web.security import LiveSessions, Signer


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    library: PackLibrary
    signer: Signer
    demo_logins: list[DemoLogin] = field(default_factory=list)
    attempt_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    # attempt id -> the chat sockets open on it (routes.chat.Room); in memory, one process.
    chat_rooms: dict[int, Any] = field(default_factory=dict)
    # The exam clock, turns and timers (web.exams.ExamService), set by the app factory.
    exams: Any = None
    # The chat's batched turn store (web.turns.TurnBatcher), made on first use.
    turns: Any = None
    login_limits: LoginLimits = field(init=False)
    # Chat frames per attempt, shared by the attempt's sockets in this process.
    chat_limits: SharedBuckets = field(init=False)
    # Login sessions and roles as the open sockets re-check them (web/sockets.py).
    live_sessions: LiveSessions = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.login_limits = LoginLimits.from_settings(settings)
        self.chat_limits = SharedBuckets(settings.chat_burst, settings.chat_per_minute)
        self.live_sessions = LiveSessions(self.engine, settings.socket_recheck_s)

    def attempt_lock(self, attempt_id: int) -> asyncio.Lock:
        """One lock per attempt, so two tabs of one conversation never interleave a turn."""
        return self.attempt_locks.setdefault(attempt_id, asyncio.Lock())
