"""The review queue: attempts whose grade has flagged verdicts, and the reviewers' decisions.

A reviewer decides each flagged verdict in one step: confirms the grader's status or
overrides it (the override itself goes through `reviews.override_criterion`, as on the
review page). Each decision is a row that is only ever added, and an audit event. An attempt
is reviewed once every criterion flagged in its current grade has a decision; a regrade
that flags another criterion makes it unreviewed again (`refresh`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, case, func
from sqlmodel import Field, Session, SQLModel, String, col, select

from sandbox.evaluator.calibration import Decision
from sandbox.evaluator.flags import flagged_criteria, record_needs_review
from sandbox.evaluator.overrides import ReviewError
from sandbox.scenarios.models import Scenario
from sandbox.storage import audit
from sandbox.storage.models import Attempt, User, utcnow
from sandbox.storage.reviews import GradeOverride, frozen, override_criterion

CONFIRM = "confirm"
OVERRIDE = "override"
DECISIONS = (CONFIRM, OVERRIDE)
STATES = ("unreviewed", "reviewed", "all")
MODES = ("all", "exam", "practice")


class VerdictReview(SQLModel, table=True):
    """A reviewer's decision on one flagged verdict: confirmed, or overridden to `status`."""

    __tablename__ = "verdict_reviews"
    __table_args__ = (Index("ix_verdict_reviews_attempt", "attempt_id", "criterion_id"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempts.id")
    author_id: int = Field(foreign_key="users.id", index=True)
    criterion_id: str = Field(sa_type=String(64))
    flag: str = Field(sa_type=String(32))  # the flag's reason code at the time
    automatic_status: str = Field(sa_type=String(16))  # the grader's verdict
    decision: str = Field(sa_type=String(16))  # confirm | override
    status: str = Field(sa_type=String(16))  # the status decided
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


def mark_flags(attempt: Attempt, record: Mapping[str, Any] | None) -> None:
    """Keep the record's flag count and `needs_review` on the attempt (not flushed)."""
    attempt.flagged = len(flagged_criteria(record))
    attempt.needs_review = record_needs_review(record)


def decided(*, session: Session, attempt_id: int) -> dict[str, VerdictReview]:
    """The latest decision on each criterion of the attempt."""
    rows = session.exec(
        select(VerdictReview)
        .where(VerdictReview.attempt_id == attempt_id)
        .order_by(col(VerdictReview.id))
    ).all()
    return {row.criterion_id: row for row in rows}


def refresh(*, session: Session, attempt: Attempt) -> None:
    """Set `reviewed_at` when every flagged verdict of the current grade has a decision,
    clear it when one has none (after a regrade)."""
    assert attempt.id is not None
    mark_flags(attempt, attempt.grade)
    flagged = set(flagged_criteria(attempt.grade))
    done = set(decided(session=session, attempt_id=attempt.id))
    if flagged and flagged <= done:
        if attempt.reviewed_at is None:
            attempt.reviewed_at = utcnow()
    else:
        attempt.reviewed_at = None
    session.add(attempt)


def decide(
    *,
    session: Session,
    attempt: Attempt,
    author: User,
    criterion_id: str,
    decision: str,
    status: str = "",
    note: str = "",
    scenario: Scenario | None = None,
) -> VerdictReview:
    """Confirm or override one flagged verdict (audited, not committed); `ReviewError`
    when the criterion is not flagged, the decision unknown or the override refused."""
    assert attempt.id is not None and author.id is not None
    record = attempt.grade or {}
    entry = next((c for c in record.get("criteria", []) if c.get("id") == criterion_id), None)
    if entry is None or not isinstance(entry.get("review"), Mapping):
        raise ReviewError("criterion", "queue.error.not_flagged")
    if decision not in DECISIONS:
        raise ReviewError("decision", "queue.error.decision")
    if frozen(session=session, attempt_id=attempt.id):
        raise ReviewError("criterion", "review.error.frozen")
    automatic_status = str(entry.get("automatic_status", entry["status"]))
    note = note.strip()
    if decision == CONFIRM:
        decided_status = str(entry["status"])
        if len(note) > 4000:
            raise ReviewError("note", "review.error.too_long", limit=4000)
    else:
        if not status or status == entry["status"]:
            raise ReviewError("status", "queue.error.same_status")
        override_criterion(
            session=session,
            attempt=attempt,
            author=author,
            criterion_id=criterion_id,
            status=status,
            reason=note,
            scenario=scenario,
        )
        decided_status = status
    row = VerdictReview(
        attempt_id=attempt.id,
        author_id=author.id,
        criterion_id=criterion_id,
        flag=str(entry["review"].get("reason", ""))[:32],
        automatic_status=automatic_status,
        decision=decision,
        status=decided_status,
        note=note,
    )
    session.add(row)
    if decision == CONFIRM:
        audit.record(
            session,
            actor_id=author.id,
            action="grade.confirm",
            subject_type="attempt",
            subject_id=attempt.id,
            new={"criterion": criterion_id, "status": decided_status, "flag": row.flag},
            reason=note or None,
        )
    session.flush()
    refresh(session=session, attempt=attempt)
    session.flush()
    return row


def held_for_review(attempt: Attempt, provisional: bool) -> bool:
    """Whether an exam attempt's result is held as "under review": the exam holds results
    (`ExamRules.provisional`), a critical verdict is flagged and not every flag is decided."""
    return (
        provisional
        and attempt.exam_id is not None
        and attempt.needs_review
        and attempt.reviewed_at is None
    )


def held_names(*, session: Session, exam_id: int) -> list[str]:
    """The candidates of an exam with a result held for review, by name."""
    statement = (
        select(User.name)
        .join(Attempt, col(Attempt.user_id) == col(User.id))
        .where(
            Attempt.exam_id == exam_id,
            col(Attempt.needs_review).is_(True),
            col(Attempt.reviewed_at).is_(None),
            col(Attempt.ended_at).is_not(None),
        )
        .distinct()
        .order_by(col(User.name))
    )
    return list(session.exec(statement).all())


@dataclass(frozen=True)
class QueueFilters:
    state: str = "unreviewed"  # unreviewed | reviewed | all
    mode: str = "all"  # all | exam | practice
    critical: bool = False  # only attempts with a flagged critical verdict
    pack_id: str | None = None
    scenario_id: str | None = None


def queue_query(reviewer_scope: list[int] | None, filters: QueueFilters) -> Any:
    """Flagged, ended attempts with their owners' names: unreviewed first, then those with
    a critical flag, exam before practice, newest first. `reviewer_scope`: the owners the
    reviewer may see (None: everyone)."""
    statement = (
        select(Attempt, User.name)
        .join(User, col(User.id) == col(Attempt.user_id))
        .where(col(Attempt.flagged) > 0, col(Attempt.ended_at).is_not(None))
    )
    if reviewer_scope is not None:
        statement = statement.where(col(Attempt.user_id).in_(reviewer_scope))
    if filters.state == "unreviewed":
        statement = statement.where(col(Attempt.reviewed_at).is_(None))
    elif filters.state == "reviewed":
        statement = statement.where(col(Attempt.reviewed_at).is_not(None))
    if filters.mode == "exam":
        statement = statement.where(col(Attempt.exam_id).is_not(None))
    elif filters.mode == "practice":
        statement = statement.where(col(Attempt.exam_id).is_(None))
    if filters.critical:
        statement = statement.where(col(Attempt.needs_review).is_(True))
    if filters.pack_id is not None:
        statement = statement.where(
            Attempt.pack_id == filters.pack_id, Attempt.scenario_id == filters.scenario_id
        )
    return statement.order_by(
        case((col(Attempt.reviewed_at).is_(None), 0), else_=1),
        case((col(Attempt.needs_review).is_(True), 0), else_=1),
        case((col(Attempt.exam_id).is_not(None), 0), else_=1),
        col(Attempt.started_at).desc(),
        col(Attempt.id).desc(),
    )


def waiting(*, session: Session, reviewer_scope: list[int] | None) -> int:
    """How many flagged attempts the reviewer may see are not reviewed yet (the nav count)."""
    statement = (
        select(func.count())
        .select_from(Attempt)
        .where(
            col(Attempt.flagged) > 0,
            col(Attempt.ended_at).is_not(None),
            col(Attempt.reviewed_at).is_(None),
        )
    )
    if reviewer_scope is not None:
        statement = statement.where(col(Attempt.user_id).in_(reviewer_scope))
    return int(session.exec(statement).one())


def next_in_queue(*, session: Session, reviewer_scope: list[int] | None, after: int) -> int | None:
    """The first unreviewed attempt of the queue other than `after`, or None."""
    statement = queue_query(reviewer_scope, QueueFilters()).where(col(Attempt.id) != after)
    row = session.exec(statement.limit(1)).first()
    return row[0].id if row is not None else None


def calibration_decisions(*, session: Session, reviewer_scope: list[int] | None) -> list[Decision]:
    """Every reviewed verdict as the calibration report reads it (`evaluator.calibration`).

    An attempt counts as reviewed once a reviewer decided a flagged verdict of it or
    overrode one of its criteria. Its flagged verdicts are read from the queue's decisions
    (one per reviewer); every other verdict once, as it stands now, by whoever last touched
    the attempt (the override's author for an overridden criterion).
    """
    decided = select(VerdictReview, User.name).join(
        User, col(User.id) == col(VerdictReview.author_id)
    )
    overrides = select(GradeOverride, User.name).join(
        User, col(User.id) == col(GradeOverride.author_id)
    )
    reviews = list(session.exec(decided.order_by(col(VerdictReview.id))).all())
    changes = list(session.exec(overrides.order_by(col(GradeOverride.id))).all())
    ids = {row.attempt_id for row, _ in reviews} | {row.attempt_id for row, _ in changes}
    if not ids:
        return []
    statement = select(Attempt).where(col(Attempt.id).in_(sorted(ids)))
    if reviewer_scope is not None:
        statement = statement.where(col(Attempt.user_id).in_(reviewer_scope))
    attempts = {a.id: a for a in session.exec(statement).all() if a.id is not None}
    decisions: list[Decision] = []
    last_touch: dict[int, tuple[datetime, str]] = {}
    touches = [(r.attempt_id, r.created_at, n) for r, n in reviews] + [
        (c.attempt_id, c.created_at, n) for c, n in changes
    ]
    for attempt_id, at, name in touches:
        seen = last_touch.get(attempt_id)
        if seen is None or at >= seen[0]:
            last_touch[attempt_id] = (at, name)
    overridden_by = {(row.attempt_id, row.criterion_id): name for row, name in changes}
    for row, name in reviews:
        attempt = attempts.get(row.attempt_id)
        if attempt is None:
            continue
        decisions.append(
            Decision(
                row.attempt_id,
                f"{attempt.pack_id}/{attempt.scenario_id}",
                row.criterion_id,
                name,
                row.automatic_status,
                row.status,
                True,
                row.id or 0,
            )
        )
    in_queue = {(row.attempt_id, row.criterion_id) for row, _ in reviews}
    for attempt_id, attempt in attempts.items():
        for entry in (attempt.grade or {}).get("criteria", []):
            key = (attempt_id, str(entry["id"]))
            if key in in_queue:
                continue
            decisions.append(
                Decision(
                    attempt_id,
                    f"{attempt.pack_id}/{attempt.scenario_id}",
                    key[1],
                    overridden_by.get(key, last_touch[attempt_id][1]),
                    str(entry.get("automatic_status", entry["status"])),
                    str(entry["status"]),
                    isinstance(entry.get("review"), Mapping),
                    0,
                )
            )
    return decisions
