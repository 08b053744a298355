"""Where each candidate of an exam stands: attempts, scores, result, retake.

Pure: given a candidate's rows (read by `sandbox.storage.standings`), judged by the rules
of `sandbox.exams.policy`:

- A scenario's score in a sitting is the best graded attempt at it in that sitting (an
  appeal that changed a grade changed the attempt's score).
- Once the window has closed (or the retake has expired), a scenario never attempted
  counts 0: an absent candidate fails rather than staying pending for ever.
- The retake covers the scenarios below the practical line (and the written part if that
  was below its line); the others keep their first scores.
- The first result is decided when its last part arrived: that starts the retake window.

The rows are described by what is read of them (protocols), so this module names no table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar

from sandbox.exams.policy import ExamResult, ExamRules, RetakeState, exam_result, retake_state


class AttemptRow(Protocol):
    """What standings read of a conversation."""

    @property
    def id(self) -> int | None: ...
    @property
    def pack_id(self) -> str: ...
    @property
    def scenario_id(self) -> str: ...
    @property
    def retake(self) -> bool: ...
    @property
    def score(self) -> float | None: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def ended(self) -> bool: ...


class CandidateRow(Protocol):
    @property
    def id(self) -> int | None: ...


class ScenarioRow(Protocol):
    """One scenario of the exam."""

    @property
    def pack_id(self) -> str: ...
    @property
    def scenario_id(self) -> str: ...
    @property
    def key(self) -> str: ...


class WrittenRow(Protocol):
    """A written score as entered."""

    @property
    def score(self) -> float: ...
    @property
    def entered_at(self) -> datetime: ...


class RetakeRow(Protocol):
    """A granted retake: which scenarios, whether the written part too, until when."""

    @property
    def scenarios(self) -> list[str]: ...
    @property
    def written(self) -> bool: ...
    @property
    def expires_at(self) -> datetime: ...


A = TypeVar("A", bound=AttemptRow)
U = TypeVar("U", bound=CandidateRow)
S = TypeVar("S", bound=ScenarioRow)

Progress = Literal["not_started", "in_progress", "partial", "finished"]


@dataclass
class ScenarioProgress(Generic[A, S]):
    """One scenario of the exam for one candidate, in one sitting."""

    scenario: S
    attempts: list[A] = field(default_factory=list)
    allowed: int = 1

    @property
    def open_attempt(self) -> A | None:
        return next((a for a in self.attempts if not a.ended), None)

    @property
    def best(self) -> A | None:
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
class Standing(Generic[A, U, S]):
    """A candidate's whole exam: both sittings, the results and the retake state."""

    user: U
    first: list[ScenarioProgress[A, S]]
    written: WrittenRow | None
    result: ExamResult
    finished_at: datetime | None
    retake: RetakeRow | None = None
    retake_progress: list[ScenarioProgress[A, S]] = field(default_factory=list)
    retake_written: WrittenRow | None = None
    retake_result: ExamResult | None = None
    state: RetakeState = "pending"

    @property
    def sitting(self) -> list[ScenarioProgress[A, S]]:
        """The scenarios the candidate is working on now: the retake's once granted."""
        return self.retake_progress if self.retake is not None else self.first

    @property
    def attempts(self) -> list[A]:
        every = [a for p in self.first for a in p.attempts]
        every += [a for p in self.retake_progress for a in p.attempts]
        return sorted(every, key=lambda a: (a.started_at, a.id or 0))

    @property
    def open_attempt(self) -> A | None:
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
    scenarios: Sequence[S], attempts: Sequence[A], retake: bool, allowed: int
) -> list[ScenarioProgress[A, S]]:
    rows: dict[str, ScenarioProgress[A, S]] = {
        s.key: ScenarioProgress(s, allowed=allowed) for s in scenarios
    }
    for attempt in attempts:
        row = rows.get(f"{attempt.pack_id}/{attempt.scenario_id}")
        if row is not None and attempt.retake == retake:
            row.attempts.append(attempt)
    return list(rows.values())


def _practical(progress: Sequence[ScenarioProgress[A, S]], closed: bool) -> list[float]:
    scores = [p.score for p in progress]
    if closed and not any(p.open_attempt for p in progress):
        return [0.0 if s is None else s for s in scores]
    return [s for s in scores if s is not None]


def _decided_at(
    progress: Sequence[ScenarioProgress[A, S]], written: WrittenRow | None, closed_at: datetime
) -> datetime:
    moments = [a.ended_at for p in progress for a in p.attempts if a.ended_at is not None]
    if written is not None:
        moments.append(written.entered_at)
    if any(p.score is None for p in progress):
        moments.append(closed_at)  # an absent scenario counted 0 from the close
    return max(moments)


def standing(
    *,
    user: U,
    closes_at: datetime,
    rules: ExamRules,
    scenarios: Sequence[S],
    attempts: Sequence[A],
    written: Mapping[tuple[int, bool], WrittenRow],
    retake: RetakeRow | None,
    now: datetime,
) -> Standing[A, U, S]:
    """One candidate's standing from their rows; `closes_at` is the exam window's close."""
    assert user.id is not None
    allowed = rules.attempts_allowed
    first = _progress(scenarios, attempts, False, allowed)
    first_written = written.get((user.id, False))
    closed = now >= closes_at
    result = exam_result(
        _practical(first, closed),
        None if first_written is None else first_written.score,
        rules,
        scenarios=len(scenarios),
    )
    finished_at = (
        None if result.status == "pending" else _decided_at(first, first_written, closes_at)
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
