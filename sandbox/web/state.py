"""What the app holds for its lifetime; built whole by the app factory, found via
request.app.state."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from sandbox.config import Settings
from sandbox.conversations.events import MonitorBus
from sandbox.conversations.service import ConversationService
from sandbox.questions.loader import BankSet
from sandbox.scenarios.library import PackLibrary
from sandbox.web.demo import DemoLogin
from sandbox.web.limits import LoginLimits, SharedBuckets
from sandbox.web.rooms import Room
from sandbox.web.security import LiveSessions, Signer


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    library: PackLibrary
    signer: Signer
    # The proctor's monitor hears exam news on it (LISTEN/NOTIFY on PostgreSQL).
    bus: MonitorBus
    # Every chat turn of practice and exams, its clock, locks and the exam timers.
    conversations: ConversationService
    # The question banks of quizzes and written parts (question_banks/, SANDBOX_QUESTIONS).
    questions: BankSet = field(default_factory=BankSet)
    demo_logins: list[DemoLogin] = field(default_factory=list)
    # attempt id -> the chat sockets open on it (web.rooms.Room); in memory, one process.
    chat_rooms: dict[int, Room] = field(default_factory=dict)
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
