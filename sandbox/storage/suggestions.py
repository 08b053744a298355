"""Learning from overrides: the suggestions the overrides in force on a pack's stored
attempts make (`evaluator.suggest`), and the stored attempts a suggestion's effect is
measured on. Shared by `sandbox suggest` and the admin's suggestions page."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from sandbox.evaluator.regrade import Job
from sandbox.evaluator.suggest import Suggestion, closest_clause, example_for, where_for
from sandbox.scenarios.models import Pack
from sandbox.storage.attempts import list_messages
from sandbox.storage.models import Attempt, Speaker, User
from sandbox.storage.regrade import jobs_for, select_attempts
from sandbox.storage.reviews import GradeOverride, current_overrides


def from_overrides(*, session: Session, pack: Pack) -> list[Suggestion]:
    """One suggestion per override in force on the pack's attempts, oldest attempt first."""
    rows = session.exec(
        select(GradeOverride, User.name, Attempt)
        .join(User, col(User.id) == col(GradeOverride.author_id))
        .join(Attempt, col(Attempt.id) == col(GradeOverride.attempt_id))
        .where(Attempt.pack_id == pack.id)
        .order_by(col(GradeOverride.id))
    ).all()
    latest: dict[tuple[int, str], tuple[GradeOverride, str, Attempt]] = {}
    for row, name, attempt in rows:
        latest[(row.attempt_id, row.criterion_id)] = (row, name, attempt)
    found: list[Suggestion] = []
    for (attempt_id, criterion_id), (row, name, attempt) in sorted(latest.items()):
        in_force = current_overrides(session=session, attempt_id=attempt_id)
        status = in_force.get(criterion_id)
        scenario = next((s for s in pack.scenarios if s.id == attempt.scenario_id), None)
        criterion = (
            next((c for c in scenario.rubric.criteria if c.id == criterion_id), None)
            if scenario
            else None
        )
        if status is None or scenario is None or criterion is None:
            continue
        lines = [
            (m.text, m.at)
            for m in list_messages(session=session, attempt_id=attempt_id)
            if m.role == Speaker.TRAINEE
        ]
        record = attempt.grade or {}
        violated = [
            str(c["id"]) for c in record.get("criteria", []) if c.get("status") == "violated"
        ]
        where = where_for(row.automatic_status, status)
        phrase = (
            closest_clause([t for t, _ in lines], criterion.description or criterion.id)
            if where
            else None
        )
        why = None
        if where and phrase is None:
            why = "no clause of the conversation shares a word with the criterion"
        elif where is None:
            why = f"a change from {row.automatic_status} to {status} suggests an example only"
        found.append(
            Suggestion(
                scenario.id,
                criterion_id,
                criterion.kind,
                row.automatic_status,
                status,
                row.reason,
                name,
                attempt_id,
                example_for(
                    f"reviewed: attempt {attempt_id}, {criterion_id} {status}",
                    lines,
                    criterion_id,
                    status,
                    violated,
                ),
                phrase,
                where if phrase else None,
                why,
            )
        )
    return found


def stored_jobs(
    *, session: Session, pack_id: str, scenarios: Iterable[str]
) -> dict[str, list[Job]]:
    """The graded attempts at each scenario, as regrade jobs (what an effect is measured on)."""
    jobs: dict[str, list[Job]] = {}
    for scenario_id in scenarios:
        if scenario_id not in jobs:
            attempts = select_attempts(session=session, pack_id=pack_id, scenario_id=scenario_id)
            jobs[scenario_id] = jobs_for(session=session, attempts=attempts)
    return jobs
