"""Quizzes and written parts in storage: migration 0009 over a database with data in it,
the deadline boundary, one hand-in of two, reproduced draws."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from question_support import TEST_BANK
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session
from web_support import needs_postgres, postgres_database

from sandbox.questions.loader import load_bank_text
from sandbox.storage import questions as store
from sandbox.storage.database import alembic_config, make_engine, upgrade
from sandbox.storage.exams import Exam, WrittenScore, set_written_score
from sandbox.storage.models import Role
from sandbox.storage.users import create_user

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
BANK = {q.id: q for q in load_bank_text(TEST_BANK, "test.yaml").questions}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield engine
        engine.dispose()
        return
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def test_migration_0009_keeps_existing_data_and_downgrades(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0006")
    with Session(empty_engine) as session:
        user = create_user(session=session, name="tao", role=Role.TRAINEE, password="pw-123456")
        # The exams table as it stood at 0006 (the model has columns added since).
        exam_id = session.execute(
            text(
                "INSERT INTO exams (name, time_limit_s, opens_at, closes_at, rules, exam_only, "
                "created_at, updated_at) VALUES ('Old exam', 300, :t, :t, '{}', false, :t, :t) "
                "RETURNING id"
            ),
            {"t": T0},
        ).scalar_one()
        set_written_score(
            session=session, exam_id=exam_id, user_id=user.id or 0, score=72.5, entered_by=None
        )
        session.commit()
        user_id = user.id
    upgrade(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert {"question_sittings", "question_responses", "exam_written_parts"} <= tables
    with Session(empty_engine) as session:
        score = session.get(WrittenScore, (exam_id, user_id, False))
        assert score is not None and score.score == 72.5
        sitting = store.start_quiz(
            session,
            user_id=user_id or 0,
            bank=BANK,
            locale="en",
            trade=None,
            tag="tw-core",
            weak=False,
            now=T0,
            seed=1,
        )
        assert sitting.id is not None
        session.commit()
    command.downgrade(alembic_config(empty_engine), "0006")
    tables = set(inspect(empty_engine).get_table_names())
    assert "question_sittings" not in tables and "exam_written_parts" not in tables
    with empty_engine.connect() as connection:
        kept = connection.execute(text("SELECT score FROM exam_written_scores")).scalar()
    assert kept == 72.5
    upgrade(empty_engine)  # and up again


@pytest.mark.backends("sqlite", "postgres")
def test_deadline_grace_and_one_hand_in(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        user = create_user(session=session, name="mei", role=Role.TRAINEE, password="pw-123456")
        exam = Exam(
            name="E",
            time_limit_s=300,
            opens_at=T0 - timedelta(hours=1),
            closes_at=T0 + timedelta(hours=1),
            rules={},
        )
        session.add(exam)
        session.flush()
        part = store.set_written_part(
            session,
            exam_id=exam.id or 0,
            questions=[],
            tags=["tw-core"],
            difficulties=[],
            count=3,
            locale="en",
            trade=None,
            time_limit_s=600,
            grace_s=20,
            seed=77,
        )
        sitting = store.start_written(
            session, exam=exam, part=part, user_id=user.id or 0, bank=BANK, now=T0
        )
        session.commit()
        # reproduced: the same seed and user give the same paper, another user another seed
        ids, seed = store.paper_for(part, user.id or 0, BANK)
        rows = store.responses(session, sitting.id or 0)
        assert [r.question_id for r in rows] == ids and sitting.seed == seed
        assert store.candidate_seed(77, (user.id or 0) + 1) != seed
        # resume: starting again gives the same sitting
        again = store.start_written(
            session,
            exam=exam,
            part=part,
            user_id=user.id or 0,
            bank=BANK,
            now=T0 + timedelta(minutes=3),
        )
        assert again.id == sitting.id
        closes = T0 + timedelta(seconds=620)
        assert sitting.closes_at() == closes
        store.save_answer(session, sitting=sitting, position=0, raw="", bank=BANK, now=closes)
        with pytest.raises(store.SittingError) as late:
            store.save_answer(
                session,
                sitting=sitting,
                position=0,
                raw="",
                bank=BANK,
                now=closes + timedelta(microseconds=1),
            )
        assert late.value.code == "time_up"
        assert store.expire_due(session, bank=BANK, now=closes) == 0
        assert store.expire_due(session, bank=BANK, now=closes + timedelta(seconds=1)) == 1
        session.commit()
        handed = session.get(store.QuestionSitting, sitting.id)
        assert handed is not None and handed.submit_reason == "deadline"
        # a second hand-in changes nothing
        store.submit(session, sitting=handed, bank=BANK, now=closes + timedelta(hours=1))
        assert handed.submitted_at == closes + timedelta(seconds=1) or handed.submitted_at.replace(
            tzinfo=UTC
        ) == closes + timedelta(seconds=1)
        assert store.expire_due(session, bank=BANK, now=closes + timedelta(hours=2)) == 0
