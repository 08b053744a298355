"""Where each candidate of an exam stands: attempts, scores, result, retake.

Read from the database, judged by the pure rules of `sandbox.exams.policy`:

- A scenario's score in a sitting is the best graded attempt at it in that sitting (an
  appeal that changed a grade changed the attempt's score).
- Once the window has closed (or the retake has expired), a scenario never attempted
  counts 0: an absent candidate fails rather than staying pending for ever.
- The retake covers the scenarios below the practical line (and the written part if that
  was below its line); the others keep their first scores.
- The first result is decided when its last part arrived: that starts the retake window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlmodel import Session

from sandbox.exams.policy import ExamResult, ExamRules, RetakeState, exam_result, retake_state
from sandbox.storage.exams import (
    Exam,
    ExamRetake,
    ExamScenario,
    WrittenScore,
    candidates,
    exam_attempts,
    exam_scenarios,
    retakes,
    written_scores,
)
from sandbox.storage.models import Attempt, User

Progress = Literal["not_started", "in_progress", "partial", "finished"]


@dataclass
class ScenarioProgress:
    """One scenario of the exam for one candidate, in one sitting."""

    scenario: ExamScenario
    attempts: list[Attempt] = field(default_factory=list)
    allowed: int = 1

    @property
    def open_attempt(self) -> Attempt | None:
        return next((a for a in self.attempts if not a.ended), None)

    @property
    def best(self) -> Attempt | None:
        graded = [a for a in self.attempts if a.score is not None]
        return max(graded, key=lambda a: (a.score or 0.0, -(a.id or 0)), default=None)

    @property
    def score(self) -> float | None:
        best = self.best
        return None if best is None else best.score

    @property
    def attempts_left(self) -> int:
        return max(0, self.allowed - len(self.attempts))


@dataclass
class Standing:
    """A candidate's whole exam: both sittings, the results and the retake state."""

    user: User
    first: list[ScenarioProgress]
    written: WrittenScore | None
    result: ExamResult
    finished_at: datetime | None
    retake: ExamRetake | None = None
    retake_progress: list[ScenarioProgress] = field(default_factory=list)
    retake_written: WrittenScore | None = None
    retake_result: ExamResult | None = None
    state: RetakeState = "pending"

    @property
    def sitting(self) -> list[ScenarioProgress]:
        """The scenarios the candidate is working on now: the retake's once granted."""
        return self.retake_progress if self.retake is not None else self.first

    @property
    def attempts(self) -> list[Attempt]:
        every = [a for p in self.first for a in p.attempts]
        every += [a for p in self.retake_progress for a in p.attempts]
        return sorted(every, key=lambda a: (a.started_at, a.id or 0))

    @property
    def open_attempt(self) -> Attempt | None:
        return next((a for a in self.attempts if not a.ended), None)

    @property
    def progress(self) -> Progress:
        sitting = self.sitting
        if self.open_attempt is not None:
            return "in_progress"
        if all(p.score is not None for p in sitting):
            return "finished"
        if any(p.attempts for p in sitting):
            return "partial"
        return "not_started"

    @property
    def final(self) -> ExamResult:
        """The result that counts: the retake's once it has one."""
        if self.retake_result is not None and self.retake_result.status != "pending":
            return self.retake_result
        return self.result

    @property
    def scores(self) -> dict[str, float]:
        """PACK/SCENARIO -> the score that counts (the retake's for a retaken scenario)."""
        counted = {p.scenario.key: p.score for p in self.first if p.score is not None}
        for p in self.retake_progress:
            if p.score is not None:
                counted[p.scenario.key] = p.score
        return counted


def _progress(
    scenarios: list[ExamScenario], attempts: list[Attempt], retake: bool, allowed: int
) -> list[ScenarioProgress]:
    rows = {s.key: ScenarioProgress(s, allowed=allowed) for s in scenarios}
    for attempt in attempts:
        row = rows.get(f"{attempt.pack_id}/{attempt.scenario_id}")
        if row is not None and attempt.retake == retake:
            row.attempts.append(attempt)
    return list(rows.values())


def _practical(progress: list[ScenarioProgress], closed: bool) -> list[float]:
    scores = [p.score for p in progress]
    if closed and not any(p.open_attempt for p in progress):
        return [0.0 if s is None else s for s in scores]
    return [s for s in scores if s is not None]


def _decided_at(
    progress: list[ScenarioProgress], written: WrittenScore | None, closed_at: datetime
) -> datetime:
    moments = [a.ended_at for p in progress for a in p.attempts if a.ended_at is not None]
    if written is not None:
        moments.append(written.entered_at)
    if any(p.score is None for p in progress):
        moments.append(closed_at)  # an absent scenario counted 0 from the close
    return max(moments)


def standing(
    *,
    user: User,
    exam: Exam,
    rules: ExamRules,
    scenarios: list[ExamScenario],
    attempts: list[Attempt],
    written: dict[tuple[int, bool], WrittenScore],
    retake: ExamRetake | None,
    now: datetime,
) -> Standing:
    """One candidate's standing from their rows."""
    assert user.id is not None
    allowed = rules.attempts_allowed
    first = _progress(scenarios, attempts, False, allowed)
    first_written = written.get((user.id, False))
    closed = now >= exam.closes_at
    result = exam_result(
        _practical(first, closed),
        None if first_written is None else first_written.score,
        rules,
        scenarios=len(scenarios),
    )
    finished_at = (
        None
        if result.status == "pending"
        else _decided_at(first, first_written, exam.closes_at)
    )
    found = Standing(user, first, first_written, result, finished_at)
    if retake is not None:
        retaken = [s for s in scenarios if s.key in retake.scenarios]
        found.retake = retake
        found.retake_progress = _progress(retaken, attempts, True, allowed)
        found.retake_written = written.get((user.id, True))
        expired = now > retake.expires_at
        by_key = {p.scenario.key: p for p in found.retake_progress}
        practical: list[float] = []
        for progress in first:
            again = by_key.get(progress.scenario.key)
            if again is None:
                practical.append(progress.score if progress.score is not None else 0.0)
            elif again.score is not None:
                practical.append(again.score)
            elif expired and again.open_attempt is None:
                practical.append(0.0)
        if retake.written:
            retake_written = None if found.retake_written is None else found.retake_written.score
        else:
            retake_written = None if first_written is None else first_written.score
        found.retake_result = exam_result(
            practical, retake_written, rules, scenarios=len(scenarios)
        )
    if finished_at is not None:
        found.state = retake_state(result, finished_at, now, rules, found.retake_result)
    return found


def standings(*, session: Session, exam: Exam, now: datetime) -> list[Standing]:
    """Every candidate's standing, by name."""
    assert exam.id is not None
    rules = exam.exam_rules
    scenarios = exam_scenarios(session=session, exam_id=exam.id)
    written = written_scores(session=session, exam_id=exam.id)
    granted = retakes(session=session, exam_id=exam.id)
    by_user: dict[int, list[Attempt]] = {}
    for attempt in exam_attempts(session=session, exam_id=exam.id):
        by_user.setdefault(attempt.user_id, []).append(attempt)
    found = []
    for user in candidates(session=session, exam_id=exam.id):
        assert user.id is not None
        found.append(
            standing(
                user=user,
                exam=exam,
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
    return standing(
        user=user,
        exam=exam,
        rules=exam.exam_rules,
        scenarios=exam_scenarios(session=session, exam_id=exam.id),
        attempts=exam_attempts(session=session, exam_id=exam.id, user_id=user.id),
        written=written_scores(session=session, exam_id=exam.id),
        retake=retakes(session=session, exam_id=exam.id).get(user.id),
        now=now,
    )
