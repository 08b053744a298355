"""A mentor's review of attempts: comments, grade overrides and teaching cases.

Overrides are rows that are only ever added; which are in force, whether a change is
allowed and the grade it gives are the evaluator's (`evaluator.overrides`). The attempt's
stored grade holds the effective result with the automatic one beside it; every change is
also written to the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, String, col, delete, select

from sandbox.evaluator.flags import flagged_criteria, record_needs_review
from sandbox.evaluator.overrides import ReviewError, override, overrides_in_force
from sandbox.scenarios.models import Scenario
from sandbox.storage import audit
from sandbox.storage.models import Attempt, SecondMark, User, utcnow
from sandbox.storage.verdicts import write_verdicts

COMMENT_MAX_CHARS = 4000
NOTE_MAX_CHARS = 4000
TAG_MAX_CHARS = 32
TAGS_MAX = 12
TAG_PATTERN = re.compile(r"^[\w][\w.+-]*$")
EXAMPLES = ("good", "bad")


class ReviewComment(SQLModel, table=True):
    """A mentor's note on one message (`message_seq`) or on the whole attempt (None)."""

    __tablename__ = "review_comments"

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempts.id", index=True)
    author_id: int = Field(foreign_key="users.id")
    message_seq: int | None = None
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class GradeOverride(SQLModel, table=True):
    """One change of a criterion's status by a reviewer, with the reason it needs."""

    __tablename__ = "grade_overrides"
    __table_args__ = (Index("ix_grade_overrides_attempt", "attempt_id", "criterion_id"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempts.id")
    author_id: int = Field(foreign_key="users.id")
    criterion_id: str = Field(sa_type=String(64))
    automatic_status: str = Field(sa_type=String(16))  # the evaluator's, at the time
    old_status: str = Field(sa_type=String(16))  # in force before this change
    status: str | None = Field(default=None, sa_type=String(16))  # None: back to automatic
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class TeachingCase(SQLModel, table=True):
    """An attempt a mentor picked as a good or bad example for the case library."""

    __tablename__ = "teaching_cases"
    __table_args__ = (UniqueConstraint("attempt_id", name="uq_teaching_cases_attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempts.id")
    example: str = Field(sa_type=String(8))  # good | bad
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TeachingCaseTag(SQLModel, table=True):
    __tablename__ = "teaching_case_tags"

    case_id: int = Field(foreign_key="teaching_cases.id", primary_key=True)
    tag: str = Field(sa_type=String(TAG_MAX_CHARS), primary_key=True, index=True)


# --- comments ---------------------------------------------------------------------------


def add_comment(
    *,
    session: Session,
    attempt: Attempt,
    author: User,
    text: str,
    message_seq: int | None = None,
    message_count: int | None = None,
) -> ReviewComment:
    """A comment on the attempt or one of its messages (not committed)."""
    assert attempt.id is not None and author.id is not None
    text = text.strip()
    if not text:
        raise ReviewError("text", "review.error.comment_empty")
    if len(text) > COMMENT_MAX_CHARS:
        raise ReviewError("text", "review.error.too_long", limit=COMMENT_MAX_CHARS)
    if message_seq is not None and (
        message_seq < 0 or (message_count is not None and message_seq >= message_count)
    ):
        raise ReviewError("message_seq", "review.error.no_message")
    comment = ReviewComment(
        attempt_id=attempt.id, author_id=author.id, message_seq=message_seq, text=text
    )
    session.add(comment)
    audit.record(
        session,
        actor_id=author.id,
        action="review.comment",
        subject_type="attempt",
        subject_id=attempt.id,
        new={"message": message_seq, "text": text},
    )
    session.flush()
    return comment


def comments_for(*, session: Session, attempt_id: int) -> list[tuple[ReviewComment, str]]:
    """The attempt's comments, oldest first, each with its author's name."""
    statement = (
        select(ReviewComment, User.name)
        .join(User, col(User.id) == col(ReviewComment.author_id))
        .where(ReviewComment.attempt_id == attempt_id)
        .order_by(col(ReviewComment.id))
    )
    return [(comment, name) for comment, name in session.exec(statement).all()]


# --- overrides --------------------------------------------------------------------------


def override_history(*, session: Session, attempt_id: int) -> list[tuple[GradeOverride, str]]:
    """Every override of the attempt, oldest first, each with its author's name."""
    statement = (
        select(GradeOverride, User.name)
        .join(User, col(User.id) == col(GradeOverride.author_id))
        .where(GradeOverride.attempt_id == attempt_id)
        .order_by(col(GradeOverride.id))
    )
    return [(row, name) for row, name in session.exec(statement).all()]


def current_overrides(*, session: Session, attempt_id: int) -> dict[str, str]:
    """The overrides in force on an attempt."""
    statement = (
        select(GradeOverride)
        .where(GradeOverride.attempt_id == attempt_id)
        .order_by(col(GradeOverride.id))
    )
    return overrides_in_force(session.exec(statement).all())


def frozen(*, session: Session, attempt_id: int) -> bool:
    """Whether the attempt's first mark is frozen (it was chosen for second marking)."""
    found = session.exec(select(SecondMark.id).where(SecondMark.attempt_id == attempt_id))
    return found.first() is not None


def store_record(*, session: Session, attempt: Attempt, record: dict[str, Any]) -> None:
    """Keep a (re)computed grade record, its headline and its verdicts (storage/verdicts.py)
    on the attempt: overrides, queue decisions, second-marking settlements and a regrade's
    apply all store their grades here."""
    assert attempt.id is not None
    attempt.grade = record  # a new object, so the JSON column is written
    attempt.score = float(record["score"])
    attempt.band = str(record["band"])
    attempt.passed = bool(record["passed"])
    attempt.flagged = len(flagged_criteria(record))  # the review queue's columns
    attempt.needs_review = record_needs_review(record)
    session.add(attempt)
    write_verdicts(session, attempt.id, record)


def override_criterion(
    *,
    session: Session,
    attempt: Attempt,
    author: User,
    criterion_id: str,
    status: str | None,
    reason: str,
    scenario: Scenario | None = None,
    settling: bool = False,
) -> GradeOverride:
    """Store a criterion's new status (None: back to the evaluator's), the grade it gives
    (`evaluator.overrides.override`) and an audit event; `ReviewError` when refused. A
    conversation chosen for second marking is frozen: only its settlement (`settling`)
    changes it."""
    assert attempt.id is not None and author.id is not None
    if not settling and frozen(session=session, attempt_id=attempt.id):
        raise ReviewError("criterion", "review.error.frozen")
    change = override(
        attempt.grade,
        criterion_id=criterion_id,
        status=status,
        reason=reason,
        in_force=current_overrides(session=session, attempt_id=attempt.id),
        scenario=scenario,
    )
    row = GradeOverride(
        attempt_id=attempt.id,
        author_id=author.id,
        criterion_id=criterion_id,
        automatic_status=change.automatic_status,
        old_status=change.old_status,
        status=status,
        reason=change.reason,
    )
    session.add(row)
    store_record(session=session, attempt=attempt, record=change.record)
    audit.record(
        session,
        actor_id=author.id,
        action="grade.override",
        subject_type="attempt",
        subject_id=attempt.id,
        old={"criterion": criterion_id, "status": change.old_status, **change.before.as_dict()},
        new={
            "criterion": criterion_id,
            "status": change.new_status,
            "automatic_status": change.automatic_status,
            **change.after.as_dict(),
        },
        reason=change.reason,
    )
    session.flush()
    return row


# --- teaching cases ---------------------------------------------------------------------


def parse_tags(text: str) -> list[str]:
    """Tags from a comma- or space-separated list: lower case, unique, in order."""
    tags: list[str] = []
    for part in re.split(r"[,，\s]+", text):
        tag = part.strip().lower().lstrip("#")
        if not tag:
            continue
        if len(tag) > TAG_MAX_CHARS or not TAG_PATTERN.match(tag):
            raise ReviewError("tags", "review.error.bad_tag", tag=tag[:40], limit=TAG_MAX_CHARS)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise ReviewError("tags", "review.error.too_many_tags", limit=TAGS_MAX)
    return tags


def case_for(*, session: Session, attempt_id: int) -> TeachingCase | None:
    return session.exec(select(TeachingCase).where(TeachingCase.attempt_id == attempt_id)).first()


def tags_of(*, session: Session, case_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each case's tags, sorted."""
    found: dict[int, list[str]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return found
    statement = (
        select(TeachingCaseTag)
        .where(col(TeachingCaseTag.case_id).in_(list(case_ids)))
        .order_by(col(TeachingCaseTag.tag))
    )
    for row in session.exec(statement).all():
        found[row.case_id].append(row.tag)
    return found


def mark_case(
    *, session: Session, attempt: Attempt, author: User, example: str, tags: str, note: str
) -> TeachingCase:
    """Make the attempt a teaching case, or change the one it is (audited, not committed)."""
    assert attempt.id is not None and author.id is not None
    if example not in EXAMPLES:
        raise ReviewError("example", "review.error.example_required")
    if not attempt.ended:
        raise ReviewError("example", "review.error.not_ended")
    parsed = parse_tags(tags)
    note = note.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ReviewError("note", "review.error.too_long", limit=NOTE_MAX_CHARS)
    case = case_for(session=session, attempt_id=attempt.id)
    old: dict[str, Any] | None = None
    if case is None:
        case = TeachingCase(attempt_id=attempt.id, example=example, note=note, created_by=author.id)
        session.add(case)
        session.flush()
    else:
        assert case.id is not None
        old = {
            "example": case.example,
            "tags": tags_of(session=session, case_ids=[case.id])[case.id],
            "note": case.note,
        }
        case.example, case.note, case.updated_at = example, note, utcnow()
        session.add(case)
        session.exec(delete(TeachingCaseTag).where(col(TeachingCaseTag.case_id) == case.id))
    assert case.id is not None
    for tag in parsed:
        session.add(TeachingCaseTag(case_id=case.id, tag=tag))
    audit.record(
        session,
        actor_id=author.id,
        action="case.update" if old else "case.mark",
        subject_type="attempt",
        subject_id=attempt.id,
        old=old,
        new={"example": example, "tags": parsed, "note": note},
    )
    session.flush()
    return case


def unmark_case(*, session: Session, attempt: Attempt, author: User) -> bool:
    """Take the attempt out of the case library; False when it was not a case."""
    assert attempt.id is not None
    case = case_for(session=session, attempt_id=attempt.id)
    if case is None:
        return False
    assert case.id is not None
    tags = tags_of(session=session, case_ids=[case.id])[case.id]
    session.exec(delete(TeachingCaseTag).where(col(TeachingCaseTag.case_id) == case.id))
    session.delete(case)
    audit.record(
        session,
        actor_id=author.id,
        action="case.unmark",
        subject_type="attempt",
        subject_id=attempt.id,
        old={"example": case.example, "tags": tags, "note": case.note},
    )
    session.flush()
    return True


@dataclass(frozen=True)
class CaseRow:
    case: TeachingCase
    attempt: Attempt
    tags: list[str]


def list_cases(*, session: Session) -> list[CaseRow]:
    """Every teaching case with its attempt and tags, newest first."""
    statement = (
        select(TeachingCase, Attempt)
        .join(Attempt, col(Attempt.id) == col(TeachingCase.attempt_id))
        .order_by(col(TeachingCase.id).desc())
    )
    rows = list(session.exec(statement).all())
    tags = tags_of(session=session, case_ids=[case.id for case, _ in rows if case.id is not None])
    return [CaseRow(case, attempt, tags.get(case.id or 0, [])) for case, attempt in rows]


def all_tags(*, session: Session) -> list[tuple[str, int]]:
    """Every tag in use with how many cases carry it, by name."""
    statement = (
        select(TeachingCaseTag.tag, func.count())
        .group_by(col(TeachingCaseTag.tag))
        .order_by(col(TeachingCaseTag.tag))
    )
    return [(tag, int(count)) for tag, count in session.exec(statement).all()]
