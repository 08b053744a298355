"""Second marking of exam conversations: choosing them, the blind second mark, settling.

The choice is `exams.second_marking.choose`; each chosen conversation's first mark (its
grade's statuses now) is frozen on its row, and `reviews.override_criterion` refuses every
change to it except the settlement. The second reviewer sees the transcript and the rubric,
never the first mark; a second mark that agrees settles at once, one that disagrees waits
for a proctor, who settles it or assigns a third reviewer to (`assign_third`): a mentor
who is neither a first reviewer, nor the second, nor the candidate's mentor, and who then
sees both marks, unnamed, and settles as a proctor would. Every step is audited.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, select

from sandbox.evaluator.overrides import ReviewError
from sandbox.evaluator.records import allowed_statuses
from sandbox.exams.second_marking import Candidate, choose, disagreements
from sandbox.scenarios.models import Scenario
from sandbox.storage import audit
from sandbox.storage.models import Attempt, Role, SecondMark, User, utcnow
from sandbox.storage.queue import VerdictReview
from sandbox.storage.reviews import GradeOverride, override_criterion

OPEN, MARKED, SETTLED = "open", "marked", "settled"


def statuses(record: Mapping[str, object] | None) -> dict[str, str]:
    """A grade record's effective status per criterion."""
    criteria = (record or {}).get("criteria", [])
    assert isinstance(criteria, list)
    return {str(c["id"]): str(c["status"]) for c in criteria}


def select_for_second(
    *,
    session: Session,
    exam_id: int,
    rule: str,
    pass_line: float,
    actor: User,
    points: float = 5,
    share: float = 20,
) -> list[SecondMark]:
    """Choose the exam's graded conversations by `rule` and open a second mark for each
    one not chosen before (`SelectionError` for a bad rule); audited, not committed."""
    assert actor.id is not None
    attempts = session.exec(
        select(Attempt).where(
            Attempt.exam_id == exam_id,
            col(Attempt.ended_at).is_not(None),
            col(Attempt.grade).is_not(None),
        )
    ).all()
    by_id = {a.id: a for a in attempts if a.id is not None}
    picked = choose(
        [Candidate(i, float(a.score or 0), bool(a.passed)) for i, a in by_id.items()],
        rule,
        pass_line=pass_line,
        points=points,
        share=share,
        seed=exam_id,
    )
    chosen = set(
        session.exec(
            select(SecondMark.attempt_id).where(col(SecondMark.attempt_id).in_(picked))
        ).all()
    )
    made = []
    for attempt_id in picked:
        if attempt_id in chosen:
            continue
        row = SecondMark(
            attempt_id=attempt_id,
            exam_id=exam_id,
            rule=rule,
            first=statuses(by_id[attempt_id].grade),
            created_by=actor.id,
        )
        session.add(row)
        made.append(row)
    audit.record(
        session,
        actor_id=actor.id,
        action="second.select",
        subject_type="exam",
        subject_id=exam_id,
        new={"rule": rule, "points": points, "share": share, "attempts": picked},
    )
    session.flush()
    return made


def first_reviewers(*, session: Session, attempt_id: int) -> set[int]:
    """Who already reviewed the conversation (overrides, queue decisions)."""
    overrides = session.exec(
        select(GradeOverride.author_id).where(GradeOverride.attempt_id == attempt_id)
    ).all()
    decisions = session.exec(
        select(VerdictReview.author_id).where(VerdictReview.attempt_id == attempt_id)
    ).all()
    return set(overrides) | set(decisions)


def may_mark(*, session: Session, row: SecondMark, marker: User) -> bool:
    """An independent second reviewer: not the candidate's mentor, not a first reviewer."""
    attempt = session.get(Attempt, row.attempt_id)
    owner = session.get(User, attempt.user_id) if attempt is not None else None
    if owner is None or marker.id is None or owner.id == marker.id:
        return False
    if owner.mentor_id == marker.id:
        return False
    return marker.id not in first_reviewers(session=session, attempt_id=row.attempt_id)


def waiting_for(*, session: Session, marker: User) -> list[SecondMark]:
    """The open second marks this reviewer may take, oldest first."""
    rows = session.exec(
        select(SecondMark).where(SecondMark.state == OPEN).order_by(col(SecondMark.id))
    ).all()
    return [row for row in rows if may_mark(session=session, row=row, marker=marker)]


def mark(*, session: Session, row: SecondMark, marker: User, given: Mapping[str, str]) -> list[str]:
    """Store the second mark (a status for every criterion of the first) and return the
    disagreements; settled at once when there are none. Audited, not committed."""
    assert marker.id is not None and row.id is not None
    if row.state != OPEN:
        raise ReviewError("state", "second.error.not_open")
    if not may_mark(session=session, row=row, marker=marker):
        raise ReviewError("state", "second.error.not_yours")
    attempt = session.get(Attempt, row.attempt_id)
    assert attempt is not None
    kinds = {str(c["id"]): str(c["kind"]) for c in (attempt.grade or {}).get("criteria", [])}
    second: dict[str, str] = {}
    for criterion_id in row.first:
        status = given.get(criterion_id, "")
        if status not in allowed_statuses(kinds.get(criterion_id, "")):
            raise ReviewError(f"status-{criterion_id}", "second.error.status")
        second[criterion_id] = status
    differ = disagreements(row.first, second)
    row.second, row.marker_id, row.marked_at = second, marker.id, utcnow()
    row.state = MARKED if differ else SETTLED
    if not differ:
        row.settled, row.settled_at = dict(row.first), row.marked_at
        _reviewed(session, attempt)
    session.add(row)
    audit.record(
        session,
        actor_id=marker.id,
        action="second.mark",
        subject_type="attempt",
        subject_id=row.attempt_id,
        new={"second": second, "disagreements": differ, "state": row.state},
    )
    session.flush()
    return differ


def third_candidates(*, session: Session, row: SecondMark) -> list[User]:
    """The mentors who may settle the conversation as its third reviewer: active, not the
    candidate nor their mentor, not a first reviewer, not the second; by name."""
    attempt = session.get(Attempt, row.attempt_id)
    owner = session.get(User, attempt.user_id) if attempt is not None else None
    if owner is None:
        return []
    excluded = first_reviewers(session=session, attempt_id=row.attempt_id) | {
        owner.id,
        owner.mentor_id,
        row.marker_id,
    }
    mentors = session.exec(
        select(User).where(User.role == Role.MENTOR, col(User.active)).order_by(col(User.name))
    ).all()
    return [m for m in mentors if m.id not in excluded]


def assign_third(*, session: Session, row: SecondMark, proctor: User, third_id: int) -> User:
    """Give the disagreements of a marked conversation to a third reviewer (`ReviewError`
    when it is not waiting to be settled, or for someone who may not settle it); assigning
    again hands it to another. Audited, not committed."""
    assert proctor.id is not None
    if row.state != MARKED or row.second is None:
        raise ReviewError("state", "second.error.not_marked")
    third = next((m for m in third_candidates(session=session, row=row) if m.id == third_id), None)
    if third is None:
        raise ReviewError("third", "second.error.third")
    before = row.third_id
    row.third_id, row.third_assigned_by, row.third_assigned_at = third.id, proctor.id, utcnow()
    session.add(row)
    audit.record(
        session,
        actor_id=proctor.id,
        action="second.assign_third",
        subject_type="attempt",
        subject_id=row.attempt_id,
        old={"third": before},
        new={"third": third.id, "name": third.name},
    )
    session.flush()
    return third


def may_settle_as_third(*, row: SecondMark, user: User) -> bool:
    """The conversation waits for this user's settlement as its third reviewer."""
    return row.state == MARKED and row.third_id is not None and row.third_id == user.id


def third_waiting(*, session: Session, user: User) -> list[SecondMark]:
    """The marked conversations this user was assigned to settle, oldest first."""
    return list(
        session.exec(
            select(SecondMark)
            .where(SecondMark.state == MARKED, SecondMark.third_id == user.id)
            .order_by(col(SecondMark.id))
        ).all()
    )


def settle(
    *,
    session: Session,
    row: SecondMark,
    proctor: User,
    chosen: Mapping[str, str],
    reason: str,
    scenario: Scenario | None = None,
    as_third: bool = False,
) -> None:
    """Settle every disagreement with a status the proctor (or, `as_third`, the assigned
    third reviewer) chose; the conversation's grade takes them (overrides, recomputed).
    Audited, not committed."""
    assert proctor.id is not None
    if row.state != MARKED or row.second is None:
        raise ReviewError("state", "second.error.not_marked")
    if as_third and not may_settle_as_third(row=row, user=proctor):
        raise ReviewError("state", "second.error.not_yours")
    reason = reason.strip()
    if not reason:
        raise ReviewError("reason", "review.error.reason_required")
    attempt = session.get(Attempt, row.attempt_id)
    assert attempt is not None
    differ = disagreements(row.first, row.second)
    settled = dict(row.first)
    for criterion_id in differ:
        status = chosen.get(criterion_id, "")
        if status not in (row.first[criterion_id], row.second[criterion_id]):
            raise ReviewError(f"settle-{criterion_id}", "second.error.choose")
        settled[criterion_id] = status
    current = statuses(attempt.grade)
    for criterion_id, status in settled.items():
        if current.get(criterion_id) != status:
            override_criterion(
                session=session,
                attempt=attempt,
                author=proctor,
                criterion_id=criterion_id,
                status=status,
                reason=(
                    f"Second marking settled by a third reviewer: {reason}"
                    if as_third
                    else f"Second marking settled: {reason}"
                ),
                scenario=scenario,
                settling=True,
            )
    row.settled, row.settled_by, row.settled_at, row.state = settled, proctor.id, utcnow(), SETTLED
    session.add(row)
    _reviewed(session, attempt)
    audit.record(
        session,
        actor_id=proctor.id,
        action="second.settle",
        subject_type="attempt",
        subject_id=row.attempt_id,
        old={"first": row.first, "second": row.second},
        new={"settled": settled, "by": "third" if as_third else "proctor"},
        reason=reason,
    )
    session.flush()


def _reviewed(session: Session, attempt: Attempt) -> None:
    """Two people have now judged the whole conversation: its flags count as reviewed, so a
    provisional result is no longer held (ExamRules.provisional)."""
    if attempt.flagged and attempt.reviewed_at is None:
        attempt.reviewed_at = utcnow()
        session.add(attempt)


def marks_of_exam(*, session: Session, exam_id: int) -> list[tuple[SecondMark, str]]:
    """The exam's second marks with their candidates' names, by id."""
    statement = (
        select(SecondMark, User.name)
        .join(Attempt, col(Attempt.id) == col(SecondMark.attempt_id))
        .join(User, col(User.id) == col(Attempt.user_id))
        .where(SecondMark.exam_id == exam_id)
        .order_by(col(SecondMark.id))
    )
    return [(row, name) for row, name in session.exec(statement).all()]
