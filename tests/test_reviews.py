"""Review storage: comments, overrides, teaching cases and regrade, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import grade_compiled
from sandbox.evaluator.overrides import ReviewError
from sandbox.evaluator.regrade import grade_job
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.loader import load_pack, load_pack_text
from sandbox.scenarios.models import Pack
from sandbox.storage import regrade
from sandbox.storage.attempts import append_messages, end_attempt, start_attempt, store_grade
from sandbox.storage.audit import AuditEvent, events_for
from sandbox.storage.models import Attempt, Role, Speaker, User
from sandbox.storage.reviews import (
    GradeOverride,
    add_comment,
    all_tags,
    case_for,
    comments_for,
    current_overrides,
    list_cases,
    mark_case,
    override_criterion,
    override_history,
    parse_tags,
    tags_of,
    unmark_case,
)
from sandbox.storage.users import create_user

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")

PACK_FILE = Path(__file__).resolve().parents[2] / "shared" / "packs" / "pharmacy-basics.yaml"
SCENARIO = "cold-remedy-hypertension"
REASSURANCE = [
    "Hi, are you on any medication?",
    "Pseudoephedrine won't affect your blood pressure, don't worry.",
]


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(PACK_FILE)


def stored_attempt(session: Session, user: User, pack: Pack, lines: list[str]) -> Attempt:
    """An ended attempt graded as the chat grades one (to_json plus pack_version)."""
    scenario = pack.scenario(SCENARIO)
    compiled = pack.compiled[SCENARIO]
    conversation = Conversation.replay(
        compiled, pack.locale, [(line, 10.0 * (i + 1)) for i, line in enumerate(lines)]
    )
    conversation.finish(10.0 * len(lines) + 5)
    attempt = start_attempt(
        session=session,
        user=user,
        pack_id=pack.id,
        pack_version=pack.version,
        scenario_id=SCENARIO,
        time_limit_s=scenario.time_limit_s,
        opening=scenario.opening,
    )
    assert attempt.id is not None
    append_messages(
        session=session,
        attempt_id=attempt.id,
        first_seq=1,
        lines=[(Speaker(m.role), m.text, m.at, m.kind) for m in conversation.messages[1:]],
    )
    end_attempt(session=session, attempt=attempt, reason="finished")
    transcript = parse_transcript_data(conversation.transcript(pack.id), "<test>")
    grade = grade_compiled(pack.id, compiled, transcript).to_json()
    grade["pack_version"] = pack.version
    store_grade(session=session, attempt=attempt, grade=grade)
    return attempt


def people(session: Session) -> tuple[User, User]:
    mentor = create_user(
        session=session, name="mentor-a", role=Role.MENTOR, password="a long password 1"
    )
    trainee = create_user(
        session=session,
        name="trainee-a",
        role=Role.TRAINEE,
        password="a long password 2",
        mentor=mentor,
    )
    return mentor, trainee


def test_an_override_needs_a_reason_recomputes_and_is_audited(engine: Engine, pack: Pack) -> None:
    with Session(engine, expire_on_commit=False) as session:
        mentor, trainee = people(session)
        attempt = stored_attempt(session, trainee, pack, REASSURANCE)
        session.commit()
        assert attempt.id is not None and attempt.passed is False
        automatic_score = attempt.score
        scenario = pack.scenario(SCENARIO)
        for reason in ("", "   "):
            with pytest.raises(ReviewError) as refused:
                override_criterion(
                    session=session,
                    attempt=attempt,
                    author=mentor,
                    criterion_id="decongestant-warning",
                    status="met",
                    reason=reason,
                    scenario=scenario,
                )
            assert refused.value.field == "reason"
        for criterion, status, field in (
            ("nope", "met", "criterion"),
            ("no-guarantee", "met", "status"),
        ):
            with pytest.raises(ReviewError) as refused:
                override_criterion(
                    session=session,
                    attempt=attempt,
                    author=mentor,
                    criterion_id=criterion,
                    status=status,
                    reason="x",
                    scenario=scenario,
                )
            assert refused.value.field == field
        session.rollback()
        assert session.exec(select(GradeOverride)).all() == []

        override_criterion(
            session=session,
            attempt=attempt,
            author=mentor,
            criterion_id="decongestant-warning",
            status="met",
            reason="Said pseudoephedrine is unsafe in the next turn",
            scenario=scenario,
        )
        session.commit()
        stored = session.get(Attempt, attempt.id)
        assert stored is not None and stored.grade is not None
        assert stored.score is not None and automatic_score is not None
        assert stored.score > automatic_score
        assert stored.grade["automatic"]["score"] == automatic_score
        entry = next(c for c in stored.grade["criteria"] if c["id"] == "decongestant-warning")
        assert (entry["status"], entry["automatic_status"]) == ("met", "missed")
        assert current_overrides(session=session, attempt_id=attempt.id) == {
            "decongestant-warning": "met"
        }

        events = [
            e for e in events_for(session, "attempt", attempt.id) if e.action == "grade.override"
        ]
        assert len(events) == 1
        event = events[0]
        assert event.actor_id == mentor.id and event.at is not None
        assert event.old == {
            "criterion": "decongestant-warning",
            "status": "missed",
            "score": automatic_score,
            "band": "fail",
            "passed": False,
        }
        assert event.new["status"] == "met" and event.new["score"] == stored.score
        assert event.reason == "Said pseudoephedrine is unsafe in the next turn"

        # Handing the criterion back to the evaluator restores the automatic grade.
        override_criterion(
            session=session,
            attempt=attempt,
            author=mentor,
            criterion_id="decongestant-warning",
            status=None,
            reason="On reflection the warning came too late",
            scenario=scenario,
        )
        session.commit()
        back = session.get(Attempt, attempt.id)
        assert (
            back is not None
            and back.score == automatic_score
            and "automatic" not in (back.grade or {})
        )
        history = override_history(session=session, attempt_id=attempt.id)
        assert [(row.old_status, row.status, name) for row, name in history] == [
            ("missed", "met", "mentor-a"),
            ("met", None, "mentor-a"),
        ]
        assert current_overrides(session=session, attempt_id=attempt.id) == {}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET reason = 'rewritten' WHERE action = 'grade.override'",
        "DELETE FROM audit_events WHERE action = 'grade.override'",
    ],
)
def test_override_events_cannot_be_rewritten(engine: Engine, pack: Pack, statement: str) -> None:
    with Session(engine, expire_on_commit=False) as session:
        mentor, trainee = people(session)
        attempt = stored_attempt(session, trainee, pack, REASSURANCE)
        override_criterion(
            session=session,
            attempt=attempt,
            author=mentor,
            criterion_id="greeting",
            status="missed",
            reason="Only a bare 'Hi'",
        )
        session.commit()
    with engine.connect() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(statement))
        connection.commit()
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "grade.override")).all()
        assert [e.reason for e in events] == ["Only a bare 'Hi'"]


def test_comments_on_messages_and_on_the_attempt(engine: Engine, pack: Pack) -> None:
    with Session(engine, expire_on_commit=False) as session:
        mentor, trainee = people(session)
        attempt = stored_attempt(session, trainee, pack, REASSURANCE)
        assert attempt.id is not None
        add_comment(
            session=session,
            attempt=attempt,
            author=mentor,
            text="  Good question.  ",
            message_seq=1,
            message_count=5,
        )
        add_comment(
            session=session, attempt=attempt, author=mentor, text="Warn before you reassure."
        )
        with pytest.raises(ReviewError, match="comment_empty"):
            add_comment(session=session, attempt=attempt, author=mentor, text=" \n ")
        with pytest.raises(ReviewError) as refused:
            add_comment(
                session=session,
                attempt=attempt,
                author=mentor,
                text="x",
                message_seq=9,
                message_count=5,
            )
        assert refused.value.field == "message_seq"
        session.commit()
        found = comments_for(session=session, attempt_id=attempt.id)
        assert [(c.message_seq, c.text, name) for c, name in found] == [
            (1, "Good question.", "mentor-a"),
            (None, "Warn before you reassure.", "mentor-a"),
        ]
        assert [e.action for e in events_for(session, "attempt", attempt.id)] == [
            "review.comment",
            "review.comment",
        ]


def test_teaching_cases_with_tags(engine: Engine, pack: Pack) -> None:
    assert parse_tags("Contraindication, complaint  #hypertension,contraindication") == [
        "contraindication",
        "complaint",
        "hypertension",
    ]
    for bad in ("<b>", "x" * 40):
        with pytest.raises(ReviewError):
            parse_tags(bad)
    with Session(engine, expire_on_commit=False) as session:
        mentor, trainee = people(session)
        attempt = stored_attempt(session, trainee, pack, REASSURANCE)
        assert attempt.id is not None
        with pytest.raises(ReviewError, match="example_required"):
            mark_case(
                session=session, attempt=attempt, author=mentor, example="great", tags="", note=""
            )
        case = mark_case(
            session=session,
            attempt=attempt,
            author=mentor,
            example="bad",
            tags="contraindication, reassurance",
            note="Reassures instead of warning.",
        )
        session.commit()
        assert case.id is not None
        assert tags_of(session=session, case_ids=[case.id]) == {
            case.id: ["contraindication", "reassurance"]
        }
        again = mark_case(
            session=session,
            attempt=attempt,
            author=mentor,
            example="bad",
            tags="contraindication",
            note="Reassures instead of warning.",
        )
        session.commit()
        assert again.id == case.id
        assert all_tags(session=session) == [("contraindication", 1)]
        assert [(r.case.example, r.tags) for r in list_cases(session=session)] == [
            ("bad", ["contraindication"])
        ]
        assert unmark_case(session=session, attempt=attempt, author=mentor) is True
        session.commit()
        assert case_for(session=session, attempt_id=attempt.id) is None
        assert unmark_case(session=session, attempt=attempt, author=mentor) is False
        assert [e.action for e in events_for(session, "attempt", attempt.id)] == [
            "case.mark",
            "case.update",
            "case.unmark",
        ]


def stricter(pack_file: Path) -> Pack:
    """The pack after a change: a greeting must now be warm, so a bare 'Hi' misses it."""
    text = (
        pack_file.read_text("utf-8")
        .replace('match: ["hello", "hi", "good morning"', 'match: ["hello", "good morning"', 1)
        .replace("version: 1\n", "version: 2\n", 1)
    )
    return load_pack_text(text, "pharmacy-basics-v2.yaml")


def test_regrade_plans_without_storing_and_keeps_overrides(engine: Engine, pack: Pack) -> None:
    changed_pack = stricter(PACK_FILE)
    with Session(engine, expire_on_commit=False) as session:
        mentor, trainee = people(session)
        hello = stored_attempt(session, trainee, pack, ["Hello, are you on any medication?"])
        hi = stored_attempt(session, trainee, pack, REASSURANCE)
        overridden = stored_attempt(session, trainee, pack, REASSURANCE)
        override_criterion(
            session=session,
            attempt=overridden,
            author=mentor,
            criterion_id="decongestant-warning",
            status="met",
            reason="Warned later",
        )
        session.commit()
        before = {a.id: (a.score, a.band, a.passed) for a in (hello, hi, overridden)}

        attempts = regrade.select_attempts(session=session, pack_id="pharmacy-basics")
        jobs = regrade.jobs_for(session=session, attempts=attempts)
        assert [len(j.messages) for j in jobs] == [3, 5, 5]
        outcome = regrade.plan(
            session=session,
            attempts=attempts,
            results=[grade_job({pack.id: changed_pack}, j) for j in jobs],
        )
        assert sorted(c.attempt_id for c in outcome.changes) == sorted([hi.id, overridden.id])
        assert [c.attempt_id for c in outcome.unchanged] == [hello.id]
        session.expire_all()
        assert {
            a.id: (a.score, a.band, a.passed) for a in regrade.select_attempts(session=session)
        } == before
        assert [
            e for e in session.exec(select(AuditEvent)).all() if e.action == "grade.regrade"
        ] == []

        kept = next(c for c in outcome.changes if c.attempt_id == overridden.id)
        entry = next(c for c in kept.record["criteria"] if c["id"] == "decongestant-warning")
        assert (entry["status"], entry["automatic_status"]) == ("met", "missed")
        assert kept.record["pack_version"] == 2

        applied = regrade.apply_plan(
            session=session,
            changes=outcome.changes,
            actor_id=mentor.id,
            reason="greeting tightened",
        )
        session.commit()
        assert sorted(applied) == sorted([hi.id, overridden.id])
        stored = session.get(Attempt, overridden.id)
        assert stored is not None and stored.score == kept.new.score
        assert current_overrides(session=session, attempt_id=overridden.id) == {
            "decongestant-warning": "met"
        }
        events = [e for e in session.exec(select(AuditEvent)).all() if e.action == "grade.regrade"]
        assert sorted(int(e.subject_id or 0) for e in events) == sorted(applied)
        assert all(e.old["pack_version"] == 1 and e.new["pack_version"] == 2 for e in events)


def test_regrade_reports_attempts_whose_pack_is_gone(engine: Engine, pack: Pack) -> None:
    with Session(engine, expire_on_commit=False) as session:
        _, trainee = people(session)
        stored_attempt(session, trainee, pack, REASSURANCE)
        session.commit()
        attempts = regrade.select_attempts(session=session)
        jobs = regrade.jobs_for(session=session, attempts=attempts)
        outcome = regrade.plan(
            session=session, attempts=attempts, results=[grade_job({}, j) for j in jobs]
        )
        assert [p.problem for p in outcome.problems] == ["pack-missing"]
        assert outcome.changes == [] and outcome.checked == 1
