"""The stored attempts of exams as `sandbox.exams.xapi.ActivityRecord`s, ready for statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import Session, col, select

from sandbox.exams.xapi import (
    COHORT_ACTIVITY_TYPE,
    EXAM_ACTIVITY_TYPE,
    ActivityRecord,
    criteria_from_grade,
)
from sandbox.storage.exams import Exam, exam_attempts, trainee_message_counts
from sandbox.storage.models import User


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
