"""Exam storage on SQLite and, when SANDBOX_TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from sandbox.exams.policy import ExamRules
from sandbox.storage.attempts import append_messages, start_attempt
from sandbox.storage.exams import (
    Appeal,
    AppealStatus,
    ExamRetake,
    candidates,
    cohort_member_ids,
    cohort_names,
    create_cohort,
    create_exam,
    exam_attempts,
    exam_scenarios,
    exams_for,
    exams_of_cohort,
    is_candidate,
    list_appeals,
    next_exam_deadline,
    open_exam_attempts,
    retake_for,
    set_written_score,
    trainee_message_counts,
    trainees,
    written_scores,
)
from sandbox.storage.models import Mode, Role, Speaker, User, utcnow
from sandbox.storage.users import create_user

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


def _people(session: Session) -> tuple[User, User, User]:
    proctor = create_user(session=session, name="pat", role=Role.PROCTOR, password="proctor-pass")
    tao = create_user(session=session, name="tao", role=Role.TRAINEE, password="trainee-pass")
    mei = create_user(session=session, name="mei", role=Role.TRAINEE, password="trainee-pass")
    return proctor, tao, mei


def test_an_exam_keeps_its_rules_scenarios_and_candidates(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        proctor, tao, mei = _people(session)
        now = utcnow()
        rules = ExamRules(on_timeout="grace", grace_s=30, attempts_allowed=2)
        create_cohort(session=session, cohort="2026-A", user_ids=[tao.id or 0, mei.id or 0])
        exam = create_exam(
            session=session,
            name="Practical A",
            time_limit_s=300,
            opens_at=now,
            closes_at=now + timedelta(days=1),
            rules=rules,
            scenarios=[
                ("pharmacy-basics", "late-insulin-delivery"),
                ("pharmacy-basics", "cold-remedy-hypertension"),
            ],
            candidate_ids=cohort_member_ids(session=session, cohort="2026-A"),
            cohort="2026-A",
            created_by=proctor.id,
        )
        session.commit()
        assert exam.id is not None
        assert exam.exam_rules == rules
        assert exam.window(now - timedelta(seconds=1)) == "upcoming"
        assert exam.window(now) == "open"
        assert exam.window(now + timedelta(days=1)) == "closed"
        assert [s.key for s in exam_scenarios(session=session, exam_id=exam.id)] == [
            "pharmacy-basics/late-insulin-delivery",
            "pharmacy-basics/cold-remedy-hypertension",
        ]
        assert [u.name for u in candidates(session=session, exam_id=exam.id)] == ["mei", "tao"]
        assert is_candidate(session=session, exam_id=exam.id, user_id=tao.id or 0)
        assert not is_candidate(session=session, exam_id=exam.id, user_id=proctor.id or 0)
        assert [e.id for e in exams_for(session=session, user_id=tao.id or 0)] == [exam.id]
        assert [e.id for e in exams_of_cohort(session=session, cohort="2026-A")] == [exam.id]
        assert cohort_names(session=session) == ["2026-A"]
        assert [u.name for u in trainees(session=session)] == ["mei", "tao"]


def test_exam_attempts_carry_their_clock(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        proctor, tao, mei = _people(session)
        now = utcnow()
        exam = create_exam(
            session=session,
            name="Clocked",
            time_limit_s=60,
            opens_at=now,
            closes_at=now + timedelta(hours=1),
            rules=ExamRules(),
            scenarios=[("pharmacy-basics", "cold-remedy-hypertension")],
            candidate_ids=[tao.id or 0, mei.id or 0],
            cohort=None,
            created_by=proctor.id,
        )
        deadlines = []
        # Two candidates: one of them may have only one exam conversation open at a time.
        for offset, candidate in ((90, tao), (30, mei)):
            attempt = start_attempt(
                session=session,
                user=candidate,
                pack_id="pharmacy-basics",
                pack_version=1,
                scenario_id="cold-remedy-hypertension",
                time_limit_s=60,
                opening="Hi.",
                mode=Mode.EXAM,
            )
            attempt.exam_id = exam.id
            attempt.deadline_at = now + timedelta(seconds=offset)
            deadlines.append(attempt)
        practice = start_attempt(
            session=session,
            user=tao,
            pack_id="pharmacy-basics",
            pack_version=1,
            scenario_id="cold-remedy-hypertension",
            time_limit_s=600,
            opening="Hi.",
        )
        assert practice.id is not None and deadlines[0].id is not None
        append_messages(
            session=session,
            attempt_id=deadlines[0].id,
            first_seq=1,
            lines=[
                (Speaker.TRAINEE, "Hello", 1.0, "trainee"),
                (Speaker.PERSONA, "Hi", 1.0, "fallback"),
                (Speaker.TRAINEE, "Any allergies?", 2.0, "trainee"),
            ],
        )
        session.commit()
        assert exam.id is not None
        assert [a.id for a in exam_attempts(session=session, exam_id=exam.id)] == [
            a.id for a in deadlines
        ]
        assert next_exam_deadline(session=session) == now + timedelta(seconds=30)
        due = open_exam_attempts(session=session, due_before=now + timedelta(seconds=60))
        assert [a.id for a in due] == [deadlines[1].id]
        assert [a.retake for a in deadlines] == [False, False]
        assert trainee_message_counts(
            session=session, attempt_ids=[a.id or 0 for a in deadlines]
        ) == {deadlines[0].id: 2}


def test_written_scores_retakes_and_appeals(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        proctor, tao, mei = _people(session)
        now = utcnow()
        exam = create_exam(
            session=session,
            name="Written too",
            time_limit_s=60,
            opens_at=now,
            closes_at=now + timedelta(hours=1),
            rules=ExamRules(),
            scenarios=[("pharmacy-basics", "cold-remedy-hypertension")],
            candidate_ids=[tao.id or 0, mei.id or 0],
            cohort=None,
            created_by=proctor.id,
        )
        assert exam.id is not None and tao.id is not None
        assert (
            set_written_score(
                session=session, exam_id=exam.id, user_id=tao.id, score=55, entered_by=proctor.id
            )
            is None
        )
        assert (
            set_written_score(
                session=session, exam_id=exam.id, user_id=tao.id, score=58, entered_by=proctor.id
            )
            == 55
        )
        set_written_score(
            session=session,
            exam_id=exam.id,
            user_id=tao.id,
            score=75,
            entered_by=proctor.id,
            retake=True,
        )
        session.add(
            ExamRetake(
                exam_id=exam.id,
                user_id=tao.id,
                scenarios=["p/s"],
                written=True,
                granted_by=proctor.id,
                expires_at=now + timedelta(days=7),
            )
        )
        attempt = start_attempt(
            session=session,
            user=tao,
            pack_id="pharmacy-basics",
            pack_version=1,
            scenario_id="cold-remedy-hypertension",
            time_limit_s=60,
            opening="Hi.",
            mode=Mode.EXAM,
        )
        attempt.exam_id = exam.id
        session.flush()
        session.add(
            Appeal(
                exam_id=exam.id,
                attempt_id=attempt.id or 0,
                user_id=tao.id,
                reason="I did warn about the decongestant.",
            )
        )
        session.commit()
        scores = written_scores(session=session, exam_id=exam.id)
        assert {key: w.score for key, w in scores.items()} == {
            (tao.id, False): 58,
            (tao.id, True): 75,
        }
        retake = retake_for(session=session, exam_id=exam.id, user_id=tao.id)
        assert retake is not None and retake.scenarios == ["p/s"] and retake.written
        appeals = list_appeals(session=session, status=AppealStatus.OPEN)
        assert [a.reason for a in appeals] == ["I did warn about the decongestant."]
        # One retake per candidate and exam, enforced by the database.
        session.add(
            ExamRetake(
                exam_id=exam.id, user_id=tao.id, scenarios=[], granted_by=None, expires_at=now
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
