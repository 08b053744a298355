"""The audit log: who did what, when, to what, from which value to which, and why.

Append-only: this module only ever inserts, and the database refuses UPDATE and DELETE on
the table (triggers created by migration 0002), so a grade override or an appeal decision
cannot be quietly rewritten afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, Session, SQLModel, String, col, select

from sandbox.storage.models import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    # A dotted verb: login, login.failed, logout, user.role, grade.override, grade.regrade,
    # exam.create, exam.update, written.import, appeal.open, appeal.resolve, ...
    action: str = Field(sa_type=String(48), index=True)
    subject_type: str = Field(sa_type=String(32))  # attempt, exam, user, appeal, ...
    subject_id: str | None = Field(default=None, sa_type=String(64))
    old: Any = Field(default=None, sa_column=Column(JSON))
    new: Any = Field(default=None, sa_column=Column(JSON))
    reason: str | None = Field(default=None, sa_column=Column(Text))


def record(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str | int | None = None,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
) -> AuditEvent:
    """Add one event to the log (the caller commits with the change it describes)."""
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        old=old,
        new=new,
        reason=reason,
    )
    session.add(event)
    return event


def events_for(session: Session, subject_type: str, subject_id: str | int) -> list[AuditEvent]:
    """The log of one subject, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == str(subject_id))
        .order_by(col(AuditEvent.id))
    )
    return list(session.exec(query))
