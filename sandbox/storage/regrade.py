"""Regrading stored attempts against the packs loaded now, keeping reviewers' overrides.

Three steps, so the grading in the middle can run anywhere (a process pool in the CLI):
`jobs_for` reads what grading needs from the database, `grade_job` grades one attempt
(pure: packs and messages in, a grade record out), `plan` compares the results with what
is stored and `apply_plan` writes the changes with an audit event each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from sandbox.evaluator import records
from sandbox.evaluator.grading import grade_compiled
from sandbox.evaluator.transcript import Transcript, TranscriptMessage
from sandbox.scenarios.models import Pack
from sandbox.storage import audit
from sandbox.storage.models import Attempt, AttemptMessage, User, utcnow
from sandbox.storage.reviews import GradeOverride, overrides_in_force, store_record

CHUNK = 500
#: Why an attempt could not be regraded.
PROBLEMS = {
    "pack-missing": "its pack is not loaded",
    "scenario-missing": "its scenario is no longer in the pack",
    "error": "grading failed",
}


@dataclass(frozen=True)
class Job:
    """What grading one attempt needs; plain data, so it can go to another process."""

    attempt_id: int
    pack_id: str
    scenario_id: str
    time_limit_s: float
    messages: tuple[tuple[str, str, float], ...]  # (role, text, at)


@dataclass(frozen=True)
class Regraded:
    """A job's result: the new automatic grade record, or why there is none."""

    attempt_id: int
    record: dict[str, Any] | None
    problem: str | None = None  # one of PROBLEMS
    detail: str = ""


@dataclass(frozen=True)
class Change:
    """One attempt's stored headline against the one a regrade gives."""

    attempt_id: int
    user_name: str
    pack_id: str
    scenario_id: str
    old: records.Headline
    new: records.Headline
    record: dict[str, Any]
    dropped_overrides: list[str]

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class Plan:
    """What a regrade would do: the attempts whose score, band or pass change, and the rest."""

    changes: list[Change] = field(default_factory=list)
    unchanged: list[Change] = field(default_factory=list)
    problems: list[Regraded] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return len(self.changes) + len(self.unchanged) + len(self.problems)


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


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def jobs_for(*, session: Session, attempts: Sequence[Attempt]) -> list[Job]:
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


def grade_job(packs: Mapping[str, Pack], job: Job) -> Regraded:
    """Grade one stored conversation against the pack loaded now."""
    pack = packs.get(job.pack_id)
    if pack is None:
        return Regraded(job.attempt_id, None, "pack-missing")
    compiled = pack.compiled.get(job.scenario_id)
    if compiled is None:
        return Regraded(job.attempt_id, None, "scenario-missing")
    transcript = Transcript(
        job.pack_id,
        job.scenario_id,
        [TranscriptMessage(role, text, at) for role, text, at in job.messages],  # type: ignore[arg-type]
    )
    graded = grade_compiled(pack.id, compiled, transcript, job.time_limit_s)
    record = graded.to_record()
    record["pack_version"] = pack.version
    return Regraded(job.attempt_id, record)


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


def plan(*, session: Session, attempts: Sequence[Attempt], results: Iterable[Regraded]) -> Plan:
    """Compare each new grade, with the attempt's overrides re-applied, with what is stored."""
    by_id = {a.id: a for a in attempts if a.id is not None}
    ids = list(by_id)
    overrides = _overrides(session, ids)
    names = {
        user_id: name
        for user_id, name in session.exec(
            select(User.id, User.name).where(
                col(User.id).in_({a.user_id for a in by_id.values()})
            )
        ).all()
    }
    result = Plan()
    for regraded in sorted(results, key=lambda r: r.attempt_id):
        attempt = by_id.get(regraded.attempt_id)
        if attempt is None:
            continue
        if regraded.record is None:
            result.problems.append(regraded)
            continue
        kept, dropped = records.applicable(regraded.record, overrides.get(regraded.attempt_id, {}))
        effective = records.overridden(regraded.record, kept)
        change = Change(
            attempt_id=regraded.attempt_id,
            user_name=names.get(attempt.user_id, ""),
            pack_id=attempt.pack_id,
            scenario_id=attempt.scenario_id,
            old=records.Headline(
                float(attempt.score or 0.0), str(attempt.band or ""), bool(attempt.passed)
            ),
            new=records.Headline.of(effective),
            record=effective,
            dropped_overrides=dropped,
        )
        (result.changes if change.changed else result.unchanged).append(change)
    return result


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
