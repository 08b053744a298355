"""Factories for the mentor-review tests: graded attempts stored as the chat stores them."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

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
from sandbox.storage.audit import AuditEvent
from sandbox.storage.models import Attempt, Speaker, User

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"

#: The pack's model answer: every criterion met, 100.
GOOD = [
    "Hello, thanks for contacting us, I'm sorry you're feeling unwell. Before I recommend "
    "anything, are you taking any other medication or do you have any medical conditions?",
    "Thank you, that's important. Decongestants such as pseudoephedrine can raise your blood "
    "pressure, so they are not suitable for you. Do you have any allergies?",
    "Then a saline nasal spray for the blocked nose and paracetamol for the headache are "
    "safer choices.",
    "Use the spray two or three times a day. Paracetamol is 500 mg to 1 g every 4 to 6 hours, "
    "no more than 4 g a day.",
    "If you're not better in a few days, or it gets worse, please see your doctor or ask a "
    "pharmacist.",
    "Is there anything else I can help with? Take care and get well soon!",
]
#: Asks, then says a decongestant won't matter: the critical warning is missed (fails).
REASSURANCE = [
    "Hi, are you on any medication?",
    "Pseudoephedrine won't affect your blood pressure, don't worry.",
]


def graded_attempt(
    app: FastAPI,
    user_name: str,
    lines: list[str],
    *,
    pack_id: str = PACK,
    scenario_id: str = SCENARIO,
    gap_s: float = 12.0,
    started_at: datetime | None = None,
) -> int:
    """An ended, graded practice attempt of `user_name`, stored as the web chat stores one."""
    state = app.state.sandbox
    found = state.library.find(pack_id, scenario_id)
    assert found is not None
    pack, scenario = found
    compiled = pack.compiled[scenario.id]
    timed = [(text, gap_s * (i + 1)) for i, text in enumerate(lines)]
    conversation = Conversation.replay(compiled, pack.locale, timed, scenario.time_limit_s)
    if not conversation.ended:
        conversation.finish(timed[-1][1] + 5 if timed else 5)
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
        if started_at is not None:
            attempt.started_at = started_at
        assert attempt.id is not None
        append_messages(
            session=session,
            attempt_id=attempt.id,
            first_seq=1,
            lines=[(Speaker(m.role), m.text, m.at, m.kind) for m in conversation.messages[1:]],
        )
        end_at = (started_at or attempt.started_at) + timedelta(seconds=timed[-1][1] + 5)
        end_attempt(
            session=session, attempt=attempt, reason=str(conversation.end_reason), at=end_at
        )
        messages = list_messages(session=session, attempt_id=attempt.id)
        transcript = parse_transcript_data(transcript_json(attempt, messages), "<test>")
        grade = grade_compiled(pack.id, compiled, transcript, attempt.time_limit_s).to_json()
        grade["pack_version"] = pack.version  # what the web chat stores
        store_grade(session=session, attempt=attempt, grade=grade)
        session.commit()
        return attempt.id


def attempt_of(app: FastAPI, attempt_id: int) -> Attempt:
    with Session(app.state.sandbox.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return attempt


def audit_rows(app: FastAPI, action: str | None = None) -> list[AuditEvent]:
    with Session(app.state.sandbox.engine) as session:
        statement = select(AuditEvent).order_by(AuditEvent.id)  # type: ignore[arg-type]
        if action is not None:
            statement = statement.where(AuditEvent.action == action)
        return list(session.exec(statement).all())


def changed_pack_folder(source: Path, target: Path, *, old: str, new: str) -> Path:
    """A copy of the pack file at `source` in a new folder, with `old` replaced by `new`
    and the version raised: the pack 'after it changed'."""
    target.mkdir(parents=True, exist_ok=True)
    text = source.read_text("utf-8")
    assert old in text, old
    text = text.replace(old, new, 1).replace("version: 1\n", "version: 2\n", 1)
    (target / source.name).write_text(text, "utf-8")
    return target


def copy_pack(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target / source.name)
    return target
