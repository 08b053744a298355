"""Storage on SQLite and, when SANDBOX_TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel
from web_support import needs_postgres, postgres_database

from sandbox.storage import knowledge
from sandbox.storage.attempts import (
    append_messages,
    end_attempt,
    find_client_message,
    list_messages,
    open_attempt,
    scenario_records,
    start_attempt,
    store_grade,
)
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Attempt, Role, Speaker, utcnow
from sandbox.storage.users import authenticate, create_user

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def upgraded_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database brought to head by the real Alembic upgrade (the other
    tests use conftest's copy of the session's migrated template)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'storage.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


def test_migrations_match_the_models(upgraded_engine: Engine) -> None:
    upgrade(upgraded_engine)  # a second run at start is a no-op
    with upgraded_engine.connect() as connection:
        # The full-text index of the knowledge base is the database's own (no model has it).
        context = MigrationContext.configure(
            connection, opts={"include_object": knowledge.outside_models}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_users_authenticate_by_password(engine: Engine) -> None:
    with Session(engine) as session:
        mentor = create_user(session=session, name="mei", role=Role.MENTOR, password="mentor-pass")
        user = create_user(
            session=session, name="tao", role=Role.TRAINEE, password="secret-pass", mentor=mentor
        )
        session.commit()
        assert user.password_hash.startswith("$argon2id$")
        assert user.mentor_id == mentor.id
        assert authenticate(session=session, name="tao", password="secret-pass") == user
        assert authenticate(session=session, name="tao", password="wrong-pass") is None
        assert authenticate(session=session, name="nobody", password="secret-pass") is None
        user.active = False
        session.commit()
        assert authenticate(session=session, name="tao", password="secret-pass") is None


def test_attempt_messages_are_ordered_and_deduplicated(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        user = create_user(session=session, name="tao", role=Role.TRAINEE, password="secret-pass")
        attempt = start_attempt(
            session=session,
            user=user,
            pack_id="pharmacy-basics",
            pack_version=1,
            scenario_id="cold-remedy-hypertension",
            time_limit_s=600,
            opening="Hi.",
        )
        assert attempt.id is not None
        append_messages(
            session=session,
            attempt_id=attempt.id,
            first_seq=1,
            lines=[
                (Speaker.TRAINEE, "Hello", 5.0, "trainee"),
                (Speaker.PERSONA, "What?", 5.0, "fallback"),
            ],
            client_id="c-1",
        )
        session.commit()
        messages = list_messages(session=session, attempt_id=attempt.id)
        assert [(m.seq, m.role, m.text) for m in messages] == [
            (0, "persona", "Hi."),
            (1, "trainee", "Hello"),
            (2, "persona", "What?"),
        ]
        assert [m.client_id for m in messages] == [None, "c-1", None]
        assert [
            m.seq for m in list_messages(session=session, attempt_id=attempt.id, after_seq=1)
        ] == [2]
        found = find_client_message(session=session, attempt_id=attempt.id, client_id="c-1")
        assert found is not None and found.seq == 1

        for seq, client_id in ((2, None), (3, "c-1")):
            with pytest.raises(IntegrityError):
                append_messages(
                    session=session,
                    attempt_id=attempt.id,
                    first_seq=seq,
                    lines=[(Speaker.TRAINEE, "again", 6.0, "trainee")],
                    client_id=client_id,
                )
            session.rollback()


def test_grades_are_stored_and_summarised(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        user = create_user(session=session, name="tao", role=Role.TRAINEE, password="secret-pass")
        scores = [40.0, 85.5, 70.0]
        for index, score in enumerate(scores):
            attempt = start_attempt(
                session=session,
                user=user,
                pack_id="pharmacy-basics",
                pack_version=1,
                scenario_id="cold-remedy-hypertension",
                time_limit_s=600,
                opening="Hi.",
            )
            attempt.started_at = utcnow() + timedelta(seconds=index)
            end_attempt(session=session, attempt=attempt, reason="finished")
            grade = {"score": score, "band": "good", "passed": score >= 70, "criteria": []}
            store_grade(session=session, attempt=attempt, grade=grade)
        still_open = start_attempt(
            session=session,
            user=user,
            pack_id="pharmacy-basics",
            pack_version=1,
            scenario_id="cold-remedy-hypertension",
            time_limit_s=600,
            opening="Hi.",
        )
        session.commit()
        assert user.id is not None
        records = scenario_records(session=session, user_id=user.id)
        record = records[("pharmacy-basics", "cold-remedy-hypertension")]
        assert (record.best.score, record.latest.score, record.count) == (85.5, 70.0, 3)
        reloaded = session.get(Attempt, record.best.id)
        assert reloaded is not None and reloaded.grade == {
            "score": 85.5,
            "band": "good",
            "passed": True,
            "criteria": [],
        }
        assert reloaded.ended_at is not None and reloaded.ended_at.tzinfo is not None
        resumable = open_attempt(
            session=session,
            user_id=user.id,
            pack_id="pharmacy-basics",
            scenario_id="cold-remedy-hypertension",
        )
        assert resumable is not None and resumable.id == still_open.id
