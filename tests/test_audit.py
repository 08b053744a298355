"""The audit log is append-only, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from sandbox.storage.audit import events_for, record
from sandbox.storage.models import Role
from sandbox.storage.users import create_user

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


def test_events_are_recorded_and_read_back_in_order(engine: Engine) -> None:
    with Session(engine) as session:
        mentor = create_user(
            session=session, name="mentor-a", role=Role.MENTOR, password="a long password 1"
        )
        mentor_id = mentor.id
        record(
            session,
            actor_id=mentor_id,
            action="grade.override",
            subject_type="attempt",
            subject_id=7,
            old={"status": "missed"},
            new={"status": "met"},
            reason="said it",
        )
        record(
            session,
            actor_id=None,
            action="grade.regrade",
            subject_type="attempt",
            subject_id=7,
            old={"score": 60.0},
            new={"score": 80.0},
        )
        session.commit()
        events = events_for(session, "attempt", 7)
    assert [e.action for e in events] == ["grade.override", "grade.regrade"]
    assert events[0].old == {"status": "missed"} and events[0].reason == "said it"
    assert events[0].actor_id == mentor_id and events[1].actor_id is None
    assert events[0].at <= events[1].at


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET reason = 'rewritten'", "DELETE FROM audit_events"]
)
def test_the_database_refuses_to_change_an_event(engine: Engine, statement: str) -> None:
    with Session(engine) as session:
        record(session, actor_id=None, action="login", subject_type="user", subject_id=1)
        session.commit()
    with engine.connect() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(statement))
        connection.commit()
    with Session(engine) as session:
        assert [e.reason for e in events_for(session, "user", 1)] == [None]
