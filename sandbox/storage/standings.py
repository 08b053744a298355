"""Each candidate's standing in an exam: their rows read here, judged by the pure
`sandbox.exams.standings`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from sandbox.exams import standings as judged
from sandbox.storage.exams import (
    Exam,
    ExamScenario,
    candidates,
    exam_attempts,
    exam_scenarios,
    retakes,
    written_scores,
)
from sandbox.storage.models import Attempt, User

#: A stored candidate's standing, and one scenario of it.
Standing = judged.Standing[Attempt, User, ExamScenario]
ScenarioProgress = judged.ScenarioProgress[Attempt, ExamScenario]


def standings(
    *,
    session: Session,
    exam: Exam,
    now: datetime,
    users: Sequence[User] | None = None,
) -> list[Standing]:
    """Every candidate's standing, by name; or only those of `users` (candidates of the exam,
    in their order): then only their rows are read, whatever the size of the exam."""
    assert exam.id is not None
    rules = exam.exam_rules
    ids = None if users is None else [u.id for u in users if u.id is not None]
    scenarios = exam_scenarios(session=session, exam_id=exam.id)
    written = written_scores(session=session, exam_id=exam.id, user_ids=ids)
    granted = retakes(session=session, exam_id=exam.id, user_ids=ids)
    by_user: dict[int, list[Attempt]] = {}
    for attempt in exam_attempts(session=session, exam_id=exam.id, user_ids=ids):
        by_user.setdefault(attempt.user_id, []).append(attempt)
    found = []
    for user in candidates(session=session, exam_id=exam.id) if users is None else users:
        assert user.id is not None
        found.append(
            judged.standing(
                user=user,
                closes_at=exam.closes_at,
                rules=rules,
                scenarios=scenarios,
                attempts=by_user.get(user.id, []),
                written=written,
                retake=granted.get(user.id),
                now=now,
            )
        )
    return found


def standing_of(*, session: Session, exam: Exam, user: User, now: datetime) -> Standing:
    """One candidate's standing."""
    assert exam.id is not None and user.id is not None
    return judged.standing(
        user=user,
        closes_at=exam.closes_at,
        rules=exam.exam_rules,
        scenarios=exam_scenarios(session=session, exam_id=exam.id),
        attempts=exam_attempts(session=session, exam_id=exam.id, user_id=user.id),
        written=written_scores(session=session, exam_id=exam.id),
        retake=retakes(session=session, exam_id=exam.id).get(user.id),
        now=now,
    )
