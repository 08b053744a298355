"""Calibration sessions: sets of settled conversations that mentors grade blind, and how
their statuses agree with the settled ones (`evaluator.calibration.session_result`).

An admin or a proctor builds a set from settled conversations: second-marked and settled
(the settled statuses), or reviewed (the effective grade's statuses). Each item keeps the
statuses as they were when the set was built, so a later change does not move the key of a
session already taken. A mentor takes a session: one answer per conversation (a status for
every criterion), never shown a verdict; the last answer finishes it. Building a set and
finishing a session are audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from sandbox.evaluator.calibration import Answer, SessionFigure, session_figure
from sandbox.evaluator.overrides import ReviewError
from sandbox.evaluator.records import allowed_statuses
from sandbox.storage import audit
from sandbox.storage.models import Attempt, SecondMark, User, utcnow

NAME_MAX = 120
#: How many settled conversations the build form offers, newest first.
CANDIDATES_SHOWN = 200


class CalibrationSet(SQLModel, table=True):
    """A named list of settled conversations for calibration sessions."""

    __tablename__ = "calibration_sets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(NAME_MAX))
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)


class CalibrationItem(SQLModel, table=True):
    """One conversation of a set, with its settled statuses frozen when the set was built."""

    __tablename__ = "calibration_items"
    __table_args__ = (
        UniqueConstraint("set_id", "attempt_id", name="uq_calibration_items_attempt"),
    )

    id: int | None = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="calibration_sets.id", index=True)
    attempt_id: int = Field(foreign_key="attempts.id")
    position: int
    source: str = Field(sa_type=String(16))  # "second" (settled second marking) | "reviewed"
    settled: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))


class CalibrationSession(SQLModel, table=True):
    """A mentor's pass through a set; finished when every conversation has an answer."""

    __tablename__ = "calibration_sessions"

    id: int | None = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="calibration_sets.id", index=True)
    mentor_id: int = Field(foreign_key="users.id", index=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class CalibrationAnswer(SQLModel, table=True):
    """The mentor's statuses for one conversation of their session, given blind."""

    __tablename__ = "calibration_answers"
    __table_args__ = (
        UniqueConstraint("session_id", "item_id", name="uq_calibration_answers_item"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="calibration_sessions.id", index=True)
    item_id: int = Field(foreign_key="calibration_items.id")
    statuses: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Candidate:
    """A settled conversation a set may take."""

    attempt_id: int
    scenario: str  # PACK/SCENARIO
    ended_at: datetime | None
    source: str
    settled: dict[str, str]


def _statuses(record: Mapping[str, object] | None) -> dict[str, str]:
    criteria = (record or {}).get("criteria", [])
    assert isinstance(criteria, list)
    return {str(c["id"]): str(c["status"]) for c in criteria}


def candidates(*, session: Session, limit: int = CANDIDATES_SHOWN) -> list[Candidate]:
    """Settled conversations, newest first: second-marked and settled (their settled
    statuses), then reviewed ones (their effective grade), each once."""
    found: dict[int, Candidate] = {}
    settled_rows = session.exec(
        select(SecondMark, Attempt)
        .join(Attempt, col(Attempt.id) == col(SecondMark.attempt_id))
        .where(SecondMark.state == "settled", col(SecondMark.settled).is_not(None))
        .order_by(col(Attempt.ended_at).desc(), col(Attempt.id).desc())
        .limit(limit)
    ).all()
    for row, attempt in settled_rows:
        assert attempt.id is not None
        found[attempt.id] = Candidate(
            attempt.id,
            f"{attempt.pack_id}/{attempt.scenario_id}",
            attempt.ended_at,
            "second",
            {str(k): str(v) for k, v in (row.settled or {}).items()},
        )
    reviewed = session.exec(
        select(Attempt)
        .where(col(Attempt.reviewed_at).is_not(None), col(Attempt.grade).is_not(None))
        .order_by(col(Attempt.ended_at).desc(), col(Attempt.id).desc())
        .limit(limit)
    ).all()
    for attempt in reviewed:
        if attempt.id is not None and attempt.id not in found:
            found[attempt.id] = Candidate(
                attempt.id,
                f"{attempt.pack_id}/{attempt.scenario_id}",
                attempt.ended_at,
                "reviewed",
                _statuses(attempt.grade),
            )
    ordered = sorted(
        found.values(),
        key=lambda c: (c.ended_at.timestamp() if c.ended_at else 0.0, c.attempt_id),
        reverse=True,
    )
    return ordered[:limit]


def build_set(
    *, session: Session, name: str, attempt_ids: list[int], actor: User
) -> CalibrationSet:
    """A set of the chosen settled conversations, in the order given (`ReviewError` for
    no name, a name too long, no conversation, or one that is not settled). Audited, not
    committed."""
    assert actor.id is not None
    name = name.strip()
    if not name:
        raise ReviewError("name", "calsession.error.name")
    if len(name) > NAME_MAX:
        raise ReviewError("name", "calsession.error.name_long", max=NAME_MAX)
    chosen = list(dict.fromkeys(attempt_ids))
    if not chosen:
        raise ReviewError("attempts", "calsession.error.none_chosen")
    settled = {c.attempt_id: c for c in candidates(session=session, limit=10_000)}
    missing = [i for i in chosen if i not in settled]
    if missing:
        raise ReviewError("attempts", "calsession.error.not_settled", id=missing[0])
    row = CalibrationSet(name=name, created_by=actor.id)
    session.add(row)
    session.flush()
    assert row.id is not None
    for position, attempt_id in enumerate(chosen, start=1):
        found = settled[attempt_id]
        session.add(
            CalibrationItem(
                set_id=row.id,
                attempt_id=attempt_id,
                position=position,
                source=found.source,
                settled=found.settled,
            )
        )
    audit.record(
        session,
        actor_id=actor.id,
        action="calibration.set",
        subject_type="calibration_set",
        subject_id=row.id,
        new={"name": name, "attempts": chosen},
    )
    session.flush()
    return row


def sets(*, session: Session) -> list[tuple[CalibrationSet, int]]:
    """Every set with its number of conversations, newest first."""
    rows = session.exec(select(CalibrationSet).order_by(col(CalibrationSet.id).desc())).all()
    counts: dict[int, int] = {}
    for item in session.exec(select(CalibrationItem.set_id)).all():
        counts[item] = counts.get(item, 0) + 1
    return [(row, counts.get(row.id or 0, 0)) for row in rows]


def items_of(*, session: Session, set_id: int) -> list[CalibrationItem]:
    return list(
        session.exec(
            select(CalibrationItem)
            .where(CalibrationItem.set_id == set_id)
            .order_by(col(CalibrationItem.position))
        ).all()
    )


def start(*, session: Session, set_id: int, mentor: User) -> CalibrationSession:
    """A new session of the set for the mentor (`ReviewError` for an unknown or empty
    set). Not committed."""
    assert mentor.id is not None
    if session.get(CalibrationSet, set_id) is None or not items_of(session=session, set_id=set_id):
        raise ReviewError("set", "calsession.error.no_set")
    row = CalibrationSession(set_id=set_id, mentor_id=mentor.id)
    session.add(row)
    session.flush()
    return row


def answers_of(*, session: Session, session_id: int) -> dict[int, CalibrationAnswer]:
    """The session's answers by item id."""
    rows = session.exec(
        select(CalibrationAnswer).where(CalibrationAnswer.session_id == session_id)
    ).all()
    return {row.item_id: row for row in rows}


def next_item(*, session: Session, row: CalibrationSession) -> CalibrationItem | None:
    """The first conversation of the set the session has not answered, or None."""
    assert row.id is not None
    done = answers_of(session=session, session_id=row.id)
    for item in items_of(session=session, set_id=row.set_id):
        if item.id not in done:
            return item
    return None


def criteria_of(attempt: Attempt) -> list[dict[str, object]]:
    """The rubric of the conversation as a blind form shows it: id, kind, description,
    critical, the statuses it may take; never a status."""
    return [
        {
            "id": str(c["id"]),
            "kind": str(c["kind"]),
            "description": str(c.get("description") or c["id"]),
            "critical": bool(c.get("critical", False)),
            "allowed": allowed_statuses(str(c["kind"])),
        }
        for c in (attempt.grade or {}).get("criteria", [])
    ]


def answer(
    *,
    session: Session,
    row: CalibrationSession,
    item: CalibrationItem,
    mentor: User,
    given: Mapping[str, str],
) -> bool:
    """Store the mentor's statuses for one conversation (one for every settled criterion,
    each one the criterion may take); True when that finished the session. `ReviewError`
    for a finished session, an answered conversation or a missing or wrong status. Not
    committed; finishing is audited."""
    assert row.id is not None and item.id is not None and mentor.id is not None
    if row.mentor_id != mentor.id or item.set_id != row.set_id:
        raise ReviewError("state", "calsession.error.not_yours")
    if row.finished_at is not None:
        raise ReviewError("state", "calsession.error.finished")
    if item.id in answers_of(session=session, session_id=row.id):
        raise ReviewError("state", "calsession.error.answered")
    attempt = session.get(Attempt, item.attempt_id)
    assert attempt is not None
    kinds = {str(c["id"]): str(c["kind"]) for c in (attempt.grade or {}).get("criteria", [])}
    statuses: dict[str, str] = {}
    for criterion_id in item.settled:
        status = given.get(criterion_id, "")
        if status not in allowed_statuses(kinds.get(criterion_id, "")):
            raise ReviewError(f"status-{criterion_id}", "second.error.status")
        statuses[criterion_id] = status
    session.add(CalibrationAnswer(session_id=row.id, item_id=item.id, statuses=statuses))
    session.flush()
    if next_item(session=session, row=row) is not None:
        return False
    row.finished_at = utcnow()
    session.add(row)
    result = answers(session=session, row=row)
    agree = sum(1 for a in result if a.given == a.settled)
    audit.record(
        session,
        actor_id=mentor.id,
        action="calibration.session",
        subject_type="calibration_set",
        subject_id=row.set_id,
        new={"session": row.id, "verdicts": len(result), "agree": agree},
    )
    session.flush()
    return True


def answers(*, session: Session, row: CalibrationSession) -> list[Answer]:
    """The session's statuses beside the settled ones, conversation by conversation."""
    assert row.id is not None
    given = answers_of(session=session, session_id=row.id)
    found: list[Answer] = []
    for item in items_of(session=session, set_id=row.set_id):
        mark = given.get(item.id or 0)
        if mark is None:
            continue
        for criterion_id, settled in item.settled.items():
            found.append(
                Answer(item.position, criterion_id, str(mark.statuses.get(criterion_id)), settled)
            )
    return found


def mentor_sessions(*, session: Session, mentor_id: int) -> list[CalibrationSession]:
    """A mentor's sessions, newest first."""
    return list(
        session.exec(
            select(CalibrationSession)
            .where(CalibrationSession.mentor_id == mentor_id)
            .order_by(col(CalibrationSession.id).desc())
        ).all()
    )


def session_figures(*, session: Session, mentor_id: int | None) -> list[SessionFigure]:
    """Every finished session (one mentor's, or everyone's for None) as the calibration
    report lists it."""
    statement = (
        select(CalibrationSession, User.name, CalibrationSet.name)
        .join(User, col(User.id) == col(CalibrationSession.mentor_id))
        .join(CalibrationSet, col(CalibrationSet.id) == col(CalibrationSession.set_id))
        .where(col(CalibrationSession.finished_at).is_not(None))
        .order_by(col(CalibrationSession.id))
    )
    if mentor_id is not None:
        statement = statement.where(CalibrationSession.mentor_id == mentor_id)
    figures = []
    for row, mentor, set_name in session.exec(statement).all():
        assert row.id is not None and row.finished_at is not None
        figures.append(
            session_figure(
                row.id,
                mentor,
                set_name,
                row.finished_at.strftime("%Y-%m-%d %H:%M"),
                answers(session=session, row=row),
            )
        )
    return figures
