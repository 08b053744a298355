"""Data functions for attempts and their messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from sandbox.evaluator.flags import flagged_criteria, record_needs_review
from sandbox.storage.models import Attempt, AttemptMessage, Mode, Speaker, User, utcnow
from sandbox.storage.verdicts import write_verdicts


def start_attempt(
    *,
    session: Session,
    user: User,
    pack_id: str,
    pack_version: int,
    scenario_id: str,
    time_limit_s: float,
    opening: str,
    mode: Mode = Mode.PRACTICE,
    started_at: datetime | None = None,
) -> Attempt:
    """A new attempt with the persona's opening stored as message 0."""
    assert user.id is not None
    attempt = Attempt(
        user_id=user.id,
        pack_id=pack_id,
        pack_version=pack_version,
        scenario_id=scenario_id,
        time_limit_s=time_limit_s,
        mode=mode,
        started_at=started_at or utcnow(),
    )
    session.add(attempt)
    session.flush()
    assert attempt.id is not None
    session.add(
        AttemptMessage(
            attempt_id=attempt.id, seq=0, role=Speaker.PERSONA, text=opening, at=0.0, kind="opening"
        )
    )
    session.flush()
    return attempt


def list_messages(
    *, session: Session, attempt_id: int, after_seq: int = -1
) -> list[AttemptMessage]:
    """The attempt's messages with seq greater than `after_seq`, in order."""
    statement = (
        select(AttemptMessage)
        .where(AttemptMessage.attempt_id == attempt_id, AttemptMessage.seq > after_seq)
        .order_by(col(AttemptMessage.seq))
    )
    return list(session.exec(statement).all())


def find_client_message(
    *, session: Session, attempt_id: int, client_id: str
) -> AttemptMessage | None:
    """The trainee message sent earlier with this client id (a resend after a reconnect)."""
    statement = select(AttemptMessage).where(
        AttemptMessage.attempt_id == attempt_id, AttemptMessage.client_id == client_id
    )
    return session.exec(statement).first()


def append_messages(
    *,
    session: Session,
    attempt_id: int,
    first_seq: int,
    lines: Sequence[tuple[Speaker, str, float, str | None]],
    client_id: str | None = None,
) -> list[AttemptMessage]:
    """Store (role, text, at, kind) lines from `first_seq` on; the client id goes on the
    first trainee line."""
    stored: list[AttemptMessage] = []
    for offset, (role, text, at, kind) in enumerate(lines):
        message = AttemptMessage(
            attempt_id=attempt_id,
            seq=first_seq + offset,
            role=role,
            text=text,
            at=at,
            kind=kind,
            client_id=client_id if role == Speaker.TRAINEE else None,
        )
        if role == Speaker.TRAINEE:
            client_id = None
        session.add(message)
        stored.append(message)
    session.flush()
    return stored


def end_attempt(
    *, session: Session, attempt: Attempt, reason: str, at: datetime | None = None
) -> None:
    """Mark the attempt ended (once); later calls keep the first reason."""
    if attempt.ended_at is None:
        attempt.ended_at = at or utcnow()
        attempt.end_reason = reason
        session.add(attempt)
        session.flush()


def store_grade(*, session: Session, attempt: Attempt, grade: dict[str, Any]) -> None:
    """Keep the grade JSON, its headline numbers and its verdicts (storage/verdicts.py)."""
    assert attempt.id is not None
    attempt.grade = grade
    attempt.score = float(grade["score"])
    attempt.band = str(grade["band"])
    attempt.passed = bool(grade["passed"])
    attempt.graded_at = utcnow()
    attempt.flagged = len(flagged_criteria(grade))  # the review queue's columns
    attempt.needs_review = record_needs_review(grade)
    session.add(attempt)
    write_verdicts(session, attempt.id, grade)
    session.flush()


def open_attempt(
    *, session: Session, user_id: int, pack_id: str, scenario_id: str, mode: Mode = Mode.PRACTICE
) -> Attempt | None:
    """The user's latest unfinished attempt at this scenario, to resume instead of restarting."""
    statement = (
        select(Attempt)
        .where(
            Attempt.user_id == user_id,
            Attempt.pack_id == pack_id,
            Attempt.scenario_id == scenario_id,
            Attempt.mode == mode,
            col(Attempt.ended_at).is_(None),
        )
        .order_by(col(Attempt.id).desc())
    )
    return session.exec(statement).first()


def graded_attempts(*, session: Session, user_id: int) -> list[Attempt]:
    """The user's graded practice attempts, oldest first (exam results are the exam's to
    show, once released)."""
    statement = (
        select(Attempt)
        .where(
            Attempt.user_id == user_id,
            Attempt.mode == Mode.PRACTICE,
            col(Attempt.score).is_not(None),
        )
        .order_by(col(Attempt.started_at), col(Attempt.id))
    )
    return list(session.exec(statement).all())


@dataclass(frozen=True)
class ScenarioRecord:
    """A user's results on one scenario."""

    pack_id: str
    scenario_id: str
    best: Attempt
    latest: Attempt
    count: int


def scenario_records(*, session: Session, user_id: int) -> dict[tuple[str, str], ScenarioRecord]:
    """Best and latest graded attempt per (pack, scenario) for the user."""
    records: dict[tuple[str, str], ScenarioRecord] = {}
    for attempt in graded_attempts(session=session, user_id=user_id):
        key = (attempt.pack_id, attempt.scenario_id)
        previous = records.get(key)
        if previous is None:
            records[key] = ScenarioRecord(key[0], key[1], attempt, attempt, 1)
            continue
        best = previous.best
        if (attempt.score or 0.0) > (best.score or 0.0):
            best = attempt
        records[key] = ScenarioRecord(key[0], key[1], best, attempt, previous.count + 1)
    return records


def count_attempts(*, session: Session, user_id: int) -> int:
    """How many attempts the user has started."""
    statement = select(func.count()).select_from(Attempt).where(Attempt.user_id == user_id)
    return int(session.exec(statement).one())


def message_times(
    *, session: Session, attempt_ids: list[int]
) -> dict[int, list[tuple[str, float]]]:
    """Attempt id -> (speaker, seconds since the start) of each message, in order: what the
    service metrics need, without the texts."""
    found: dict[int, list[tuple[str, float]]] = {attempt_id: [] for attempt_id in attempt_ids}
    if not attempt_ids:
        return found
    statement = (
        select(AttemptMessage.attempt_id, AttemptMessage.role, AttemptMessage.at)
        .where(col(AttemptMessage.attempt_id).in_(attempt_ids))
        .order_by(col(AttemptMessage.attempt_id), col(AttemptMessage.seq))
    )
    for attempt_id, role, at in session.exec(statement).all():
        found[attempt_id].append((str(role), float(at)))
    return found
