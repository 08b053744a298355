"""Each stored grade's verdicts, one row per criterion (`criterion_verdicts`, migration 0014).

The grade JSON on `attempts.grade` stays the record every page shows; this table repeats
what lists and reports filter and count by, so the database answers them: the mentor's
"criterion missed" filter (an indexed lookup instead of parsing every grade) and the
reports' facility (a GROUP BY). It is written wherever a stored grade is written or
replaced: `attempts.store_grade` (the chat's grading) and `reviews.store_record`
(overrides, queue decisions, second-marking settlement and a regrade's apply all go
through it), always in the same transaction as the grade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Index, String, delete, false, insert
from sqlmodel import Field, Session, SQLModel, col, select

from sandbox.storage.models import Attempt

#: Statuses that count as "missed" for the mentor's filter (a forbidden one broken too).
BAD_STATUSES = ("missed", "violated")
#: Statuses that count as met for facility (a forbidden criterion kept clear of).
GOOD_STATUSES = ("met", "clear")
NOT_APPLICABLE = "not_applicable"


class CriterionVerdict(SQLModel, table=True):
    """One criterion's effective status in an attempt's stored grade (overrides included)."""

    __tablename__ = "criterion_verdicts"
    __table_args__ = (
        # The filter and facility: every attempt with this criterion in this status.
        Index("ix_criterion_verdicts_criterion", "criterion_id", "status", "attempt_id"),
    )

    # The primary key's first column serves the lookups by attempt.
    attempt_id: int = Field(foreign_key="attempts.id", primary_key=True)
    criterion_id: str = Field(sa_type=String(64), primary_key=True)
    # met, missed, not_applicable (required and etiquette); clear, violated, not_applicable
    # (forbidden): the record's words (evaluator/scoring.py).
    status: str = Field(sa_type=String(16))
    kind: str = Field(sa_type=String(16))
    # The criterion's weight (a penalty for a forbidden one), as the record gives it.
    points: float | None = None
    critical: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    flagged: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


def verdict_rows(attempt_id: int, record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The table's rows for one grade record: one per criterion id (the first wins if a
    record ever named one twice); none for a record without criteria."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in (record or {}).get("criteria", []) or []:
        if not isinstance(entry, Mapping) or "id" not in entry or "status" not in entry:
            continue
        criterion_id = str(entry["id"])[:64]
        if criterion_id in rows:
            continue
        points = entry.get("penalty") if entry.get("kind") == "forbidden" else entry.get("weight")
        rows[criterion_id] = {
            "attempt_id": attempt_id,
            "criterion_id": criterion_id,
            "status": str(entry["status"])[:16],
            "kind": str(entry.get("kind") or "")[:16],
            "points": None if points is None else float(points),
            "critical": bool(entry.get("critical", False)),
            "flagged": isinstance(entry.get("review"), Mapping),
        }
    return list(rows.values())


def write_verdicts(session: Session, attempt_id: int, record: Mapping[str, Any] | None) -> None:
    """Replace the attempt's rows with those of `record` (not committed)."""
    write_many(session, [(attempt_id, record)])


def write_many(session: Session, graded: Iterable[tuple[int, Mapping[str, Any] | None]]) -> None:
    """Replace the rows of many attempts at once: one DELETE and one multi-row INSERT (the
    bulk path a large import or a benchmark's seeding takes; not committed)."""
    pairs = list(graded)
    if not pairs:
        return
    table = CriterionVerdict.__table__  # type: ignore[attr-defined]
    ids = [attempt_id for attempt_id, _ in pairs]
    session.exec(delete(CriterionVerdict).where(col(CriterionVerdict.attempt_id).in_(ids)))
    rows = [row for attempt_id, record in pairs for row in verdict_rows(attempt_id, record)]
    if rows:
        session.execute(insert(table), rows)


def verdicts_of(session: Session, attempt_id: int) -> dict[str, str]:
    """Criterion id -> status, as stored for the attempt (what tests compare with the JSON)."""
    found = session.exec(
        select(CriterionVerdict).where(col(CriterionVerdict.attempt_id) == attempt_id)
    ).all()
    return {row.criterion_id: row.status for row in found}


def missed(criterion_id: str) -> Any:
    """A condition on `attempts`: the attempt's grade has `criterion_id` missed or broken
    (an indexed EXISTS on this table, for any list of attempts)."""
    return (
        select(CriterionVerdict.attempt_id)
        .where(
            col(CriterionVerdict.attempt_id) == col(Attempt.id),
            col(CriterionVerdict.criterion_id) == criterion_id,
            col(CriterionVerdict.status).in_(BAD_STATUSES),
        )
        .exists()
    )
