"""The stored attempts of exams, and quiz and written-part sittings, as
`sandbox.exams.xapi.ActivityRecord`s, ready for statements.

A sitting becomes a record of `kind="quiz"`: its questions are the criteria (status "met"
for a right answer, "missed" for a wrong or unanswered one, "unmarked" while a short answer
waits for a marker), its score the percentage of points, passed at `QUIZ_PASS_PERCENT` for
a quiz and at the exam's written pass line for a written part."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import Session, col, select

from sandbox.exams.xapi import (
    COHORT_ACTIVITY_TYPE,
    EXAM_ACTIVITY_TYPE,
    QUIZ_ACTIVITY_TYPE,
    ActivityRecord,
    CriterionResult,
    criteria_from_grade,
)
from sandbox.questions.models import Question
from sandbox.questions.scoring import QUIZ_PASS_PERCENT
from sandbox.storage.cohorts import members_of
from sandbox.storage.exams import Exam, exam_attempts, trainee_message_counts
from sandbox.storage.models import User
from sandbox.storage.questions import (
    QUIZ,
    WRITTEN,
    QuestionResponse,
    QuestionSitting,
    responses,
)

#: The longest question text a statement carries as a criterion's description.
PROMPT_MAX = 300


def exam_records(
    *, session: Session, exams: Sequence[Exam], titles: Mapping[str, str]
) -> list[ActivityRecord]:
    """Every attempt of the exams (oldest first per exam), with its exam (and cohort) as
    parents. `titles` maps "pack/scenario" to the scenario's title."""
    found: list[ActivityRecord] = []
    names: dict[int, str] = {}
    for exam in exams:
        assert exam.id is not None
        attempts = exam_attempts(session=session, exam_id=exam.id)
        counts = trainee_message_counts(
            session=session, attempt_ids=[a.id for a in attempts if a.id is not None]
        )
        missing = {a.user_id for a in attempts} - names.keys()
        if missing:
            for user in session.exec(select(User).where(col(User.id).in_(missing))):
                assert user.id is not None
                names[user.id] = user.name
        parents = [(f"exams/{exam.id}", exam.name, EXAM_ACTIVITY_TYPE)]
        if exam.cohort:
            parents.append((f"cohorts/{exam.cohort}", exam.cohort, COHORT_ACTIVITY_TYPE))
        for attempt in attempts:
            assert attempt.id is not None
            key = f"{attempt.pack_id}/{attempt.scenario_id}"
            graded = attempt.grade is not None and attempt.score is not None
            found.append(
                ActivityRecord(
                    key=f"attempt:{attempt.id}",
                    kind="conversation",
                    learner=names.get(attempt.user_id, str(attempt.user_id)),
                    activity=f"scenarios/{key}",
                    title=titles.get(key, key),
                    started_at=attempt.started_at,
                    ended_at=attempt.ended_at,
                    graded_at=attempt.graded_at,
                    score=attempt.score if graded else None,
                    passed=attempt.passed if graded else None,
                    responses=counts.get(attempt.id, 0),
                    criteria=criteria_from_grade(attempt.grade),
                    parents=tuple(parents),
                )
            )
    return found


def _status(response: QuestionResponse) -> str:
    """A question's result: right (met), wrong or not answered (missed), or a short answer
    waiting for its marker (unmarked)."""
    if response.correct is True:
        return "met"
    if response.correct is False or response.answered_at is None:
        return "missed"
    return "unmarked"


def _quiz_activity(sitting: QuestionSitting) -> tuple[str, str]:
    """The activity path and title of a sitting: what was asked for, not the paper drawn."""
    if sitting.kind == WRITTEN:
        return f"exams/{sitting.exam_id}/written", "Written part"
    chosen = sitting.selection or {}
    if chosen.get("weak"):
        return "quizzes/weak-spots", "Quiz: weak spots"
    if chosen.get("tag"):
        return f"quizzes/tag/{chosen['tag']}", f"Quiz: {chosen['tag']}"
    if chosen.get("trade"):
        return f"quizzes/trade/{chosen['trade']}", f"Quiz: {chosen['trade']}"
    return "quizzes/any", "Quiz"


def sitting_record(
    sitting: QuestionSitting,
    answers: Sequence[QuestionResponse],
    *,
    learner: str,
    bank: Mapping[str, Question],
    pass_percent: float,
    parents: Sequence[tuple[str, str, str]] = (),
    title: str | None = None,
) -> ActivityRecord:
    """One quiz or written-part sitting as a record (see the module's description)."""
    path, default_title = _quiz_activity(sitting)
    percent = sitting.percent if sitting.submitted else None
    criteria = []
    for response in answers:
        question = bank.get(response.question_id)
        prompt = question.prompt if question is not None else None
        criteria.append(
            CriterionResult(
                id=response.question_id,
                status=_status(response),
                description=prompt[:PROMPT_MAX] if prompt else None,
            )
        )
    return ActivityRecord(
        key=f"{sitting.kind}-sitting:{sitting.id}",
        kind="quiz",
        learner=learner,
        activity=path,
        title=title or default_title,
        started_at=sitting.started_at,
        ended_at=sitting.submitted_at,
        graded_at=sitting.submitted_at if percent is not None else None,
        score=percent,
        passed=None if percent is None else percent >= pass_percent,
        responses=sum(1 for r in answers if r.answered_at is not None),
        criteria=tuple(criteria),
        activity_type=QUIZ_ACTIVITY_TYPE,
        parents=tuple(parents),
    )


def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    found = session.exec(select(User.id, User.name).where(col(User.id).in_(user_ids))).all()
    return {user_id: name for user_id, name in found if user_id is not None}


def sitting_records(
    *,
    session: Session,
    exams: Sequence[Exam],
    cohort: str | None,
    bank: Mapping[str, Question],
) -> list[ActivityRecord]:
    """The written-part sittings of the exams (their exam as parent), then, for a cohort,
    every quiz its members took (the cohort as parent), oldest first."""
    found: list[ActivityRecord] = []
    for exam in exams:
        sittings = list(
            session.exec(
                select(QuestionSitting)
                .where(QuestionSitting.exam_id == exam.id, QuestionSitting.kind == WRITTEN)
                .order_by(col(QuestionSitting.started_at), col(QuestionSitting.id))
            ).all()
        )
        names = _names(session, {s.user_id for s in sittings})
        parents = [(f"exams/{exam.id}", exam.name, EXAM_ACTIVITY_TYPE)]
        if exam.cohort:
            parents.append((f"cohorts/{exam.cohort}", exam.cohort, COHORT_ACTIVITY_TYPE))
        for sitting in sittings:
            found.append(
                sitting_record(
                    sitting,
                    responses(session, sitting.id or 0),
                    learner=names.get(sitting.user_id, str(sitting.user_id)),
                    bank=bank,
                    pass_percent=exam.exam_rules.written_pass,
                    parents=parents,
                    title=f"{exam.name}: written part",
                )
            )
    if cohort is None:
        return found
    members = {m.id: m.name for m in members_of(session, cohort) if m.id is not None}
    if not members:
        return found
    quizzes = session.exec(
        select(QuestionSitting)
        .where(QuestionSitting.kind == QUIZ, col(QuestionSitting.user_id).in_(list(members)))
        .order_by(col(QuestionSitting.started_at), col(QuestionSitting.id))
    ).all()
    parent = [(f"cohorts/{cohort}", cohort, COHORT_ACTIVITY_TYPE)]
    for sitting in quizzes:
        found.append(
            sitting_record(
                sitting,
                responses(session, sitting.id or 0),
                learner=members[sitting.user_id],
                bank=bank,
                pass_percent=QUIZ_PASS_PERCENT,
                parents=parent,
            )
        )
    return found
