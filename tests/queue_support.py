"""Factories for the review-queue tests: graded attempts stored with their review flags, as
the conversation service stores them (`Grade.to_record()`), in practice or in an exam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session, select

from sandbox.conversations.live import transcript_json
from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import grade_compiled
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.storage.attempts import (
    append_messages,
    end_attempt,
    list_messages,
    start_attempt,
    store_grade,
)
from sandbox.storage.exams import Exam, ExamCandidate, ExamScenario
from sandbox.storage.models import Mode, Speaker, User

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"

#: Asks, then says the decongestant "will not" raise the pressure: the critical warning is
#: missed, and the grader flags it (a negated mention).
NEGATED = [
    "Hi, are you on any medication?",
    "Pseudoephedrine will not raise your blood pressure, don't worry.",
]


def an_exam(
    app: FastAPI,
    name: str = "Exam",
    *,
    candidates: tuple[str, ...] = (),
    rules: dict[str, Any] | None = None,
    released: bool = False,
) -> int:
    """A closed exam over the cold-remedy scenario (its results released, if asked)."""
    with Session(app.state.sandbox.engine) as session:
        now = datetime.now(UTC)
        exam = Exam(
            name=name,
            time_limit_s=300,
            opens_at=now - timedelta(days=2),
            closes_at=now - timedelta(days=1),
            rules=rules or {},
            results_released_at=now - timedelta(hours=1) if released else None,
        )
        session.add(exam)
        session.flush()
        assert exam.id is not None
        session.add(ExamScenario(exam_id=exam.id, position=0, pack_id=PACK, scenario_id=SCENARIO))
        for user_name in candidates:
            user = session.exec(select(User).where(User.name == user_name)).one()
            assert user.id is not None
            session.add(ExamCandidate(exam_id=exam.id, user_id=user.id))
        session.commit()
        return exam.id


def flagged_attempt(
    app: FastAPI,
    user_name: str,
    lines: list[str],
    *,
    exam_id: int | None = None,
    started_at: datetime | None = None,
    pack_id: str = PACK,
    scenario_id: str = SCENARIO,
) -> int:
    """An ended attempt graded with `to_record()` (flags included), stored as the chat does."""
    state = app.state.sandbox
    found = state.library.find(pack_id, scenario_id)
    assert found is not None
    pack, scenario = found
    compiled = pack.compiled[scenario.id]
    timed = [(text, 12.0 * (i + 1)) for i, text in enumerate(lines)]
    conversation = Conversation.replay(compiled, pack.locale, timed, scenario.time_limit_s)
    if not conversation.ended:
        conversation.finish(timed[-1][1] + 5)
    with Session(state.engine, expire_on_commit=False) as session:
        user = session.exec(select(User).where(User.name == user_name)).one()
        attempt = start_attempt(
            session=session,
            user=user,
            pack_id=pack.id,
            pack_version=pack.version,
            scenario_id=scenario.id,
            time_limit_s=float(scenario.time_limit_s),
            opening=scenario.opening,
        )
        if exam_id is not None:
            attempt.exam_id, attempt.mode, attempt.attempt_no = exam_id, Mode.EXAM, 1
        if started_at is not None:
            attempt.started_at = started_at
        assert attempt.id is not None
        append_messages(
            session=session,
            attempt_id=attempt.id,
            first_seq=1,
            lines=[(Speaker(m.role), m.text, m.at, m.kind) for m in conversation.messages[1:]],
        )
        end_attempt(session=session, attempt=attempt, reason=str(conversation.end_reason))
        messages = list_messages(session=session, attempt_id=attempt.id)
        transcript = parse_transcript_data(transcript_json(attempt, messages), "<test>")
        record = grade_compiled(pack.id, compiled, transcript, attempt.time_limit_s).to_record()
        record["pack_version"] = pack.version
        store_grade(session=session, attempt=attempt, grade=record)
        session.commit()
        return attempt.id
