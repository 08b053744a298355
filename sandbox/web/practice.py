"""Which scenarios a trainee may not practise now, because an exam keeps them closed.

Practice shows a scenario's rubric (hints name open criteria, feedback describes every
criterion with its weight and critical flag): an exam candidate who could practise the
exam's scenario would read the answer key. `closed_for_practice` is the one answer to "is
this scenario closed to this trainee for practice"; the catalogue, the brief and its start
route, the chat socket, the practice feedback page and the case library all ask it.

A scenario is closed to a trainee when

- an exam that has it is marked *exam only* (the proctor's choice on the exam form): its
  scenarios are never practised by any trainee; or
- the trainee is a candidate of an exam that has it, and that exam still keeps it closed
  for them (`policy.keeps_practice_closed`: upcoming or open, a retake that may be
  granted or is running, a result still pending).

Staff (mentors, proctors, admins) read rubrics in their own pages and are never refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from sandbox.exams.policy import keeps_practice_closed
from sandbox.storage.exams import Exam, ExamScenario, exam_scenarios, exams_for
from sandbox.storage.models import Role, User
from sandbox.storage.standings import Standing, standing_of, standings
from sandbox.web.i18n import N_

Key = tuple[str, str]  # (pack id, scenario id)


@dataclass(frozen=True)
class Closed:
    """The scenarios closed to one user for practice, and why (a message key each)."""

    reasons: dict[Key, str]

    def __contains__(self, key: object) -> bool:
        return key in self.reasons

    def reason(self, pack_id: str, scenario_id: str) -> str | None:
        """The message key saying why this scenario is closed, or None when it is open."""
        return self.reasons.get((pack_id, scenario_id))


OPEN = Closed({})
EXAM_ONLY = N_("practice.closed.exam_only")
IN_EXAM = N_("practice.closed.exam")


def exam_keeps_closed(exam: Exam, found: Standing, now: datetime) -> bool:
    """Whether `exam` keeps its scenarios closed to the candidate `found` stands for."""
    return keeps_practice_closed(
        closes_at=exam.closes_at,
        now=now,
        state=found.state,
        retake_days=exam.exam_rules.retake_days,
        retake_expires_at=found.retake.expires_at if found.retake is not None else None,
    )


def exam_only_scenarios(session: Session) -> set[Key]:
    """Every scenario of an exam marked exam-only."""
    statement = (
        select(ExamScenario.pack_id, ExamScenario.scenario_id)
        .join(Exam, col(Exam.id) == col(ExamScenario.exam_id))
        .where(col(Exam.exam_only).is_(True))
    )
    return {(pack_id, scenario_id) for pack_id, scenario_id in session.exec(statement).all()}


def closed_for_practice(session: Session, user: User, now: datetime) -> Closed:
    """The scenarios `user` may not practise at `now` (nothing for staff)."""
    if user.role != Role.TRAINEE or user.id is None:
        return OPEN
    reasons: dict[Key, str] = {key: EXAM_ONLY for key in exam_only_scenarios(session)}
    for exam in exams_for(session=session, user_id=user.id):
        assert exam.id is not None
        if now >= exam.closes_at:
            found = standing_of(session=session, exam=exam, user=user, now=now)
            if not exam_keeps_closed(exam, found, now):
                continue
        for row in exam_scenarios(session=session, exam_id=exam.id):
            reasons.setdefault((row.pack_id, row.scenario_id), IN_EXAM)
    return Closed(reasons)


def under_exam(session: Session, pack_id: str, scenario_id: str, now: datetime) -> bool:
    """Whether an exam on this scenario still keeps it closed to any of its candidates:
    its window or a retake window has not closed for everyone yet."""
    statement = (
        select(Exam)
        .join(ExamScenario, col(ExamScenario.exam_id) == col(Exam.id))
        .where(ExamScenario.pack_id == pack_id, ExamScenario.scenario_id == scenario_id)
    )
    for exam in session.exec(statement).all():
        if now < exam.closes_at:
            return True
        if any(
            exam_keeps_closed(exam, s, now) for s in standings(session=session, exam=exam, now=now)
        ):
            return True
    return False
