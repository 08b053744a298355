"""Regrading stored attempts: what the pure steps (`sandbox.evaluator.regrade`) read and write.

`select_attempts` and `jobs_for` read what grading needs, `evaluator.regrade.grade_job`
grades each job anywhere (a process pool in the CLI), `plan` reads the attempts' overrides
and owners for the evaluator's plan, and `apply_plan` writes its changes with an audit
event each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from sandbox.evaluator.overrides import overrides_in_force
from sandbox.evaluator.regrade import Change, Job, Plan, Regraded, StoredAttempt
from sandbox.evaluator.regrade import plan as planned
from sandbox.storage import audit
from sandbox.storage.models import Attempt, AttemptMessage, User, utcnow
from sandbox.storage.queue import refresh
from sandbox.storage.reviews import GradeOverride, store_record

CHUNK = 500


def select_attempts(
    *,
    session: Session,
    pack_id: str | None = None,
    scenario_id: str | None = None,
    user_ids: Sequence[int] | None = None,
    attempt_ids: Sequence[int] | None = None,
) -> list[Attempt]:
    """Graded attempts, oldest first, narrowed by pack, scenario, owners or ids."""
    statement = select(Attempt).where(
        col(Attempt.grade).is_not(None), col(Attempt.ended_at).is_not(None)
    )
    if pack_id is not None:
        statement = statement.where(Attempt.pack_id == pack_id)
    if scenario_id is not None:
        statement = statement.where(Attempt.scenario_id == scenario_id)
    if user_ids is not None:
        statement = statement.where(col(Attempt.user_id).in_(list(user_ids)))
    if attempt_ids is not None:
        statement = statement.where(col(Attempt.id).in_(list(attempt_ids)))
    return list(session.exec(statement.order_by(col(Attempt.id))).all())


#: Attempts read, graded, compared (and written) at a time by `attempt_batches`' callers.
BATCH = 500


class JobSource(Protocol):
    """What a grading job is made from: an attempt, or its `AttemptRow`."""

    @property
    def id(self) -> int | None: ...
    @property
    def pack_id(self) -> str: ...
    @property
    def scenario_id(self) -> str: ...
    @property
    def time_limit_s(self) -> float: ...


@dataclass(frozen=True)
class AttemptRow:
    """The columns of a graded attempt a regrade reads: not its grade record, which is most
    of an attempt's size."""

    id: int | None
    user_id: int
    pack_id: str
    scenario_id: str
    time_limit_s: float
    score: float | None
    band: str | None
    passed: bool | None


def _graded(
    statement: Any,
    pack_id: str | None,
    scenario_id: str | None,
    user_ids: Sequence[int] | None = None,
) -> Any:
    statement = statement.where(col(Attempt.grade).is_not(None), col(Attempt.ended_at).is_not(None))
    if pack_id is not None:
        statement = statement.where(Attempt.pack_id == pack_id)
    if scenario_id is not None:
        statement = statement.where(Attempt.scenario_id == scenario_id)
    if user_ids is not None:
        statement = statement.where(col(Attempt.user_id).in_(list(user_ids)))
    return statement


def count_attempts(
    *,
    session: Session,
    pack_id: str | None = None,
    scenario_id: str | None = None,
    user_ids: Sequence[int] | None = None,
) -> int:
    """How many graded attempts `attempt_batches` will yield."""
    statement = _graded(select(func.count()).select_from(Attempt), pack_id, scenario_id, user_ids)
    return int(session.exec(statement).one())


def attempt_batches(
    *,
    session: Session,
    pack_id: str | None = None,
    scenario_id: str | None = None,
    user_ids: Sequence[int] | None = None,
    size: int | None = None,
) -> Iterator[list[AttemptRow]]:
    """Graded attempts, oldest first, `size` at a time, read by keyset (id > the last one
    read): memory holds one batch, however many attempts there are. `size`: `BATCH`;
    `user_ids`: only these owners' attempts (a mentor's trainees)."""
    size = size or BATCH
    after = 0
    columns = [
        col(Attempt.id),
        col(Attempt.user_id),
        col(Attempt.pack_id),
        col(Attempt.scenario_id),
        col(Attempt.time_limit_s),
        col(Attempt.score),
        col(Attempt.band),
        col(Attempt.passed),
    ]
    while True:
        statement = _graded(select_columns(*columns), pack_id, scenario_id, user_ids)
        statement = statement.where(col(Attempt.id) > after).order_by(col(Attempt.id)).limit(size)
        rows = [AttemptRow(*row) for row in session.execute(statement)]
        if not rows:
            return
        yield rows
        after = rows[-1].id or after


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def jobs_for(*, session: Session, attempts: Sequence[JobSource]) -> list[Job]:
    """A grading job per attempt, with its messages read in a few queries."""
    ids = [a.id for a in attempts if a.id is not None]
    lines: dict[int, list[tuple[str, str, float]]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        # Columns, not ORM objects: building 200,000 objects was half of a large regrade.
        statement = (
            select(
                AttemptMessage.attempt_id,
                AttemptMessage.role,
                AttemptMessage.text,
                AttemptMessage.at,
            )
            .where(col(AttemptMessage.attempt_id).in_(chunk))
            .order_by(col(AttemptMessage.attempt_id), col(AttemptMessage.seq))
        )
        for attempt_id, role, text, at in session.exec(statement):
            lines[attempt_id].append((str(role), text, at))
    return [
        Job(a.id, a.pack_id, a.scenario_id, a.time_limit_s, tuple(lines[a.id]))
        for a in attempts
        if a.id is not None
    ]


def _overrides(session: Session, ids: list[int]) -> dict[int, dict[str, str]]:
    rows: dict[int, list[GradeOverride]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        statement = (
            select(GradeOverride)
            .where(col(GradeOverride.attempt_id).in_(chunk))
            .order_by(col(GradeOverride.id))
        )
        for row in session.exec(statement).all():
            rows[row.attempt_id].append(row)
    return {i: overrides_in_force(found) for i, found in rows.items()}


def plan(
    *, session: Session, attempts: Sequence[StoredAttempt], results: Iterable[Regraded]
) -> Plan:
    """The regrade plan (`evaluator.regrade.plan`) with the attempts' overrides and owners
    read from the database."""
    ids = [a.id for a in attempts if a.id is not None]
    names = {
        user_id: name
        for user_id, name in session.exec(
            select(User.id, User.name).where(col(User.id).in_({a.user_id for a in attempts}))
        ).all()
        if user_id is not None
    }
    return planned(
        attempts=attempts, results=results, overrides=_overrides(session, ids), names=names
    )


def apply_plan(
    *, session: Session, changes: Iterable[Change], actor_id: int | None, reason: str | None
) -> list[int]:
    """Store the new grades of `changes` with an audit event each (not committed)."""
    applied: list[int] = []
    for change in changes:
        attempt = session.get(Attempt, change.attempt_id)
        if attempt is None or not change.changed:
            continue
        old_version = (attempt.grade or {}).get("pack_version", attempt.pack_version)
        store_record(session=session, attempt=attempt, record=change.record)
        attempt.graded_at = utcnow()
        refresh(session=session, attempt=attempt)  # a new flag makes it unreviewed again
        audit.record(
            session,
            actor_id=actor_id,
            action="grade.regrade",
            subject_type="attempt",
            subject_id=change.attempt_id,
            old={**change.old.as_dict(), "pack_version": old_version},
            new={
                **change.new.as_dict(),
                "pack_version": change.record.get("pack_version"),
                "dropped_overrides": change.dropped_overrides,
            },
            reason=reason,
        )
        applied.append(change.attempt_id)
    session.flush()
    return applied
