"""Assignments: work a mentor or admin gives a trainee, with an optional due date.

An assignment names a generic *activity*: a kind ("scenario" or "quiz") and a reference
within that kind ("PACK/SCENARIO" for a scenario; "trade:TRADE" or "tag:TAG" for a quiz,
what the quiz page's choice would draw from). Completion is read from the trainee's own
work, never stored: a scenario assignment is done once the trainee has a graded practice
attempt at it started after it was assigned (passed when one of them passed); a quiz
assignment once they have handed in a quiz of that trade or tag started after it was
assigned (passed when one scored at least `QUIZ_PASS_PERCENT`).

`purpose` tells ordinary work from a retraining plan (a failed retake), so the plan can be
listed, and known to be done, on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, delete
from sqlmodel import Field, Session, SQLModel, col, select

from sandbox.questions.scoring import QUIZ_PASS_PERCENT
from sandbox.storage.audit import record
from sandbox.storage.models import Attempt, Mode, User, utcnow
from sandbox.storage.questions import QUIZ, QuestionSitting


class ActivityKind(StrEnum):
    SCENARIO = "scenario"
    QUIZ = "quiz"


class Purpose(StrEnum):
    ASSIGNMENT = "assignment"
    RETRAINING = "retraining"


class Assignment(SQLModel, table=True):
    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_activity", "activity_kind", "activity_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    activity_kind: ActivityKind = Field(sa_type=String(16))
    activity_ref: str = Field(sa_type=String(160))
    due_on: date | None = None
    assigned_by: int | None = Field(default=None, foreign_key="users.id")
    cohort: str | None = Field(default=None, sa_type=String(64))  # assigned through it
    purpose: Purpose = Field(default=Purpose.ASSIGNMENT, sa_type=String(16))
    # A retraining plan: the exam whose failed retake it follows.
    exam_id: int | None = Field(default=None, foreign_key="exams.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


def scenario_ref(pack_id: str, scenario_id: str) -> str:
    return f"{pack_id}/{scenario_id}"


#: What a quiz assignment may ask for: a quiz of a trade, or of a tag.
QUIZ_CHOICES = ("trade", "tag")


def quiz_ref(choice: str, value: str) -> str:
    """The reference of a quiz assignment: "trade:pharmacy", "tag:dosage"."""
    return f"{choice}:{value}"


def read_quiz_ref(ref: str) -> tuple[str, str] | None:
    """(choice, value) of a quiz reference, or None when it is not one."""
    choice, _, value = ref.partition(":")
    return (choice, value) if choice in QUIZ_CHOICES and value else None


def _quiz_matches(sitting: QuestionSitting, choice: str, value: str) -> bool:
    selection = sitting.selection or {}
    return not selection.get("weak") and selection.get(choice) == value


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Progress:
    """An assignment and where the trainee stands with it on `today`."""

    assignment: Assignment
    trainee: str
    done: bool
    passed: bool
    best: float | None
    overdue: bool

    @property
    def state(self) -> str:
        """done, overdue or open."""
        return "done" if self.done else ("overdue" if self.overdue else "open")


def assign(
    session: Session,
    *,
    trainees: Iterable[User],
    kind: ActivityKind,
    ref: str,
    due_on: date | None,
    actor: User,
    cohort: str | None = None,
    purpose: Purpose = Purpose.ASSIGNMENT,
    exam_id: int | None = None,
) -> list[Assignment]:
    """Assign the activity to each trainee who does not have it open already (not committed)."""
    made: list[Assignment] = []
    for trainee in trainees:
        assert trainee.id is not None
        existing = session.exec(
            select(Assignment).where(
                Assignment.user_id == trainee.id,
                Assignment.activity_kind == kind,
                Assignment.activity_ref == ref,
                Assignment.purpose == purpose,
                Assignment.exam_id == exam_id,
            )
        ).all()
        if any(not progress_of(session, each, trainee.name, None).done for each in existing):
            continue
        assignment = Assignment(
            user_id=trainee.id,
            activity_kind=kind,
            activity_ref=ref,
            due_on=due_on,
            assigned_by=actor.id,
            cohort=cohort,
            purpose=purpose,
            exam_id=exam_id,
        )
        session.add(assignment)
        session.flush()
        record(
            session,
            actor_id=actor.id,
            action="assignment.create",
            subject_type="user",
            subject_id=trainee.id,
            new={
                "assignment": assignment.id,
                "activity": f"{kind.value}:{ref}",
                "due_on": due_on.isoformat() if due_on else None,
                "purpose": purpose.value,
            }
            | ({"exam": exam_id} if exam_id else {})
            | ({"cohort": cohort} if cohort else {}),
        )
        made.append(assignment)
    return made


def withdraw(session: Session, *, assignment: Assignment, actor: User) -> None:
    """Take an assignment back (not committed); audited."""
    record(
        session,
        actor_id=actor.id,
        action="assignment.withdraw",
        subject_type="user",
        subject_id=assignment.user_id,
        old={"assignment": assignment.id, "activity": assignment.activity_ref},
    )
    session.exec(delete(Assignment).where(col(Assignment.id) == assignment.id))
    session.flush()


def progress_of(
    session: Session, assignment: Assignment, trainee: str, today: date | None
) -> Progress:
    """Where the trainee stands with one assignment (see the module's description)."""
    done = passed = False
    best: float | None = None
    if assignment.activity_kind == ActivityKind.SCENARIO:
        pack_id, _, scenario_id = assignment.activity_ref.partition("/")
        attempts = session.exec(
            select(Attempt).where(
                Attempt.user_id == assignment.user_id,
                Attempt.pack_id == pack_id,
                Attempt.scenario_id == scenario_id,
                Attempt.mode == Mode.PRACTICE,
                col(Attempt.score).is_not(None),
            )
        ).all()
        since = _aware(assignment.created_at)
        after = [a for a in attempts if _aware(a.started_at) >= since]
        done = bool(after)
        passed = any(bool(a.passed) for a in after)
        best = max((a.score for a in after if a.score is not None), default=None)
    elif assignment.activity_kind == ActivityKind.QUIZ:
        wanted = read_quiz_ref(assignment.activity_ref)
        sittings = session.exec(
            select(QuestionSitting).where(
                QuestionSitting.user_id == assignment.user_id,
                QuestionSitting.kind == QUIZ,
                col(QuestionSitting.submitted_at).is_not(None),
            )
        ).all()
        since = _aware(assignment.created_at)
        taken = [
            s
            for s in sittings
            if wanted is not None and _quiz_matches(s, *wanted) and _aware(s.started_at) >= since
        ]
        done = bool(taken)
        scores = [s.percent for s in taken if s.percent is not None]
        best = max(scores, default=None)
        passed = best is not None and best >= QUIZ_PASS_PERCENT
    overdue = (
        not done
        and today is not None
        and assignment.due_on is not None
        and assignment.due_on < today
    )
    return Progress(assignment, trainee, done, passed, best, overdue)


def progress_for(
    session: Session,
    *,
    user_ids: Iterable[int] | None,
    today: date,
    purpose: Purpose | None = None,
) -> list[Progress]:
    """The assignments of `user_ids` (None: everyone's), due first, with their progress."""
    statement = select(Assignment, User.name).join(User, col(User.id) == col(Assignment.user_id))
    if user_ids is not None:
        statement = statement.where(col(Assignment.user_id).in_(list(user_ids)))
    if purpose is not None:
        statement = statement.where(Assignment.purpose == purpose)
    rows = session.exec(statement).all()
    found = [progress_of(session, assignment, name, today) for assignment, name in rows]
    found.sort(
        key=lambda p: (
            p.done,
            p.assignment.due_on or date.max,
            p.trainee,
            p.assignment.activity_ref,
        )
    )
    return found


def retraining_plans(session: Session, *, exam_id: int, today: date) -> dict[int, list[Progress]]:
    """User id -> the progress of their retraining plan after this exam (none: no plan)."""
    statement = (
        select(Assignment, User.name)
        .join(User, col(User.id) == col(Assignment.user_id))
        .where(Assignment.exam_id == exam_id, Assignment.purpose == Purpose.RETRAINING)
        .order_by(col(Assignment.id))
    )
    plans: dict[int, list[Progress]] = {}
    for assignment, name in session.exec(statement).all():
        plans.setdefault(assignment.user_id, []).append(
            progress_of(session, assignment, name, today)
        )
    return plans
