"""The tables. Every schema change goes through an Alembic revision in migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, aware, in UTC (SQLModel stores datetimes as UTC on every backend)."""
    return datetime.now(UTC)


class Role(StrEnum):
    TRAINEE = "trainee"
    MENTOR = "mentor"
    PROCTOR = "proctor"
    ADMIN = "admin"


class Mode(StrEnum):
    PRACTICE = "practice"
    EXAM = "exam"


class Speaker(StrEnum):
    PERSONA = "persona"
    TRAINEE = "trainee"


class UserBase(SQLModel):
    name: str = Field(sa_type=String(64), unique=True, index=True)
    role: Role = Field(default=Role.TRAINEE, sa_type=String(16))
    locale: str | None = Field(default=None, sa_type=String(16))
    mentor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    active: bool = True


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(sa_type=String(255))
    created_at: datetime = Field(default_factory=utcnow)


class LoginSession(SQLModel, table=True):
    """A signed-in browser; the cookie carries only this id, so logout can revoke it."""

    __tablename__ = "login_sessions"

    id: str = Field(sa_type=String(64), primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


#: The rows of `uq_attempts_open_exam`: exam attempts still running (not marked over the
#: limit). The same SQL on SQLite and PostgreSQL.
OPEN_EXAM_ATTEMPT = "exam_id IS NOT NULL AND ended_at IS NULL AND NOT over_limit"


class Attempt(SQLModel, table=True):
    """One conversation of one user with one scenario, in practice or in an exam."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_user_scenario", "user_id", "pack_id", "scenario_id"),
        # The limits of an exam, kept by the database so that concurrent starts cannot pass
        # them (storage/exams.py `start_exam_attempt`): each attempt of a sitting takes a
        # numbered slot, 1 to the exam's attempts_allowed, and slots are unique ...
        Index(
            "uq_attempts_exam_slot",
            "exam_id",
            "user_id",
            "pack_id",
            "scenario_id",
            "retake",
            "attempt_no",
            unique=True,
        ),
        # ... and a candidate has at most one exam conversation open per exam. Rows stored
        # beyond a limit before the database kept it (migration 0005) are marked and left out.
        Index(
            "uq_attempts_open_exam",
            "exam_id",
            "user_id",
            unique=True,
            sqlite_where=text(OPEN_EXAM_ATTEMPT),
            postgresql_where=text(OPEN_EXAM_ATTEMPT),
        ),
        # What the exam reports count by (storage/report_figures.py), in one index: they
        # never read the table's rows, whose grade JSON stands before the later columns.
        # Migration 0014.
        Index(
            "ix_attempts_exam_report",
            "exam_id",
            "user_id",
            "pack_id",
            "scenario_id",
            "retake",
            "mode",
            "score",
            "ended_at",
            "graded_at",
            "over_limit",
            "id",
        ),
        # The mentor's list, newest first, paged by keyset on (started_at, id): a page's
        # keys are found in this index, per trainee, without reading the rows. Migration 0014.
        Index("ix_attempts_user_started", "user_id", "started_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    pack_id: str = Field(sa_type=String(64))
    pack_version: int
    scenario_id: str = Field(sa_type=String(64))
    mode: Mode = Field(default=Mode.PRACTICE, sa_type=String(16))
    time_limit_s: float
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    end_reason: str | None = Field(default=None, sa_type=String(32))
    score: float | None = None
    band: str | None = Field(default=None, sa_type=String(16))
    passed: bool | None = None
    grade: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    graded_at: datetime | None = None
    # Exam attempts only: the exam (storage/exams.py), whether it is the retake, and the
    # clock. `time_limit_s` is then the exam's limit plus `grace_s`, the seconds after it
    # in which one last message is taken; `deadline_at` is when the server ends it.
    exam_id: int | None = Field(default=None, foreign_key="exams.id", index=True)
    retake: bool = False
    grace_s: float = 0.0
    deadline_at: datetime | None = Field(default=None, index=True)
    # Exam attempts only: the slot this attempt took in its sitting (1..attempts_allowed),
    # and whether it was stored beyond a limit before migration 0005 made the database keep
    # the limits (such rows are kept as they were, and marked).
    attempt_no: int | None = None
    over_limit: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Review flags (evaluator/flags.py), kept from the stored grade for the review queue:
    # how many verdicts are flagged, whether a critical one is, and when a reviewer last
    # decided every flagged verdict (None while one is undecided). Migration 0008.
    flagged: int = Field(default=0, index=True, sa_column_kwargs={"server_default": "0"})
    needs_review: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    reviewed_at: datetime | None = None
    # Practice hints taken during the conversation (evaluator/hints.py). Migration 0008.
    hints_used: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


class AttemptMessage(SQLModel, table=True):
    """One line of an attempt's transcript; `seq` is its 0-based index in the transcript."""

    __tablename__ = "attempt_messages"
    __table_args__ = (
        UniqueConstraint("attempt_id", "seq", name="uq_attempt_messages_seq"),
        UniqueConstraint("attempt_id", "client_id", name="uq_attempt_messages_client_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempts.id", index=True)
    seq: int
    role: Speaker = Field(sa_type=String(16))
    text: str = Field(sa_column=Column(Text, nullable=False))
    at: float
    # The engine's kind of line (opening, fact, reaction, fallback, nudge, farewell,
    # trainee): kept so mentor review can show why the persona said it.
    kind: str | None = Field(default=None, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow)
    client_id: str | None = Field(default=None, sa_type=String(64))


class SecondMark(SQLModel, table=True):
    """An exam conversation chosen for an independent second review (exams/second_marking.py).

    `first` is the first mark's statuses, frozen when the conversation is chosen (overrides
    and queue decisions on it are refused from then on); `second` the second reviewer's,
    who never sees the first; `settled` the statuses a proctor (or the third reviewer a
    proctor assigned, `third_id`) settled disagreements with.
    State: open (waiting for the second mark), marked (disagreements to settle), settled.
    """

    __tablename__ = "second_marks"
    __table_args__ = (UniqueConstraint("attempt_id", name="uq_second_marks_attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempts.id")
    exam_id: int = Field(foreign_key="exams.id", index=True)
    rule: str = Field(sa_type=String(16))
    state: str = Field(default="open", sa_type=String(16))
    first: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    second: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    settled: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    marker_id: int | None = Field(default=None, foreign_key="users.id")
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    marked_at: datetime | None = None
    settled_by: int | None = Field(default=None, foreign_key="users.id")
    settled_at: datetime | None = None
    third_id: int | None = Field(default=None, foreign_key="users.id")
    third_assigned_by: int | None = Field(default=None, foreign_key="users.id")
    third_assigned_at: datetime | None = None
