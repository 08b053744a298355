"""Exam rules of the two training policies, as configurable values with their defaults.

Practical exam: simulated conversations within a set time. Written exam: scores entered or
imported. Final grade = written 40% + practical 60%; passing needs written ≥ 60 AND
practical ≥ 70; bands 90/70/60; one retake within 7 days on the failed scenarios; failing
the retake means retraining. Pure: every time is an argument.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from sandbox.csvfiles import CsvRowError, read_csv_rows, sniff_delimiter
from sandbox.evaluator.scoring import Bands, band_of, exact, round_half_up

TimeoutRule = Literal["end", "grace"]
#: A band's lowest final score.
BandFloor = Annotated[float, Field(ge=0, le=100)]


class ExamRules(BaseModel):
    """How an exam is judged; every field has the policies' default.

    The proctor's exam form is checked by this model (web/exam_form.py maps its errors to
    the form's fields): each bound and rule is written here once. The rules across fields
    are field validators, so they are reported together with the other fields' problems;
    their error types (`weights`, `bands`, `grace`) name the rule.
    """

    model_config = ConfigDict(extra="forbid")

    written_pass: float = Field(60, ge=0, le=100)
    practical_pass: float = Field(70, ge=0, le=100)
    written_weight: float = Field(0.4, ge=0, le=1)
    practical_weight: float = Field(0.6, ge=0, le=1)
    bands: list[tuple[BandFloor, str]] = Field(
        default_factory=lambda: [(90.0, "excellent"), (70.0, "good"), (60.0, "pass")]
    )
    attempts_allowed: int = Field(1, ge=1, le=10)
    on_timeout: TimeoutRule = "end"
    grace_s: float = Field(0, ge=0, le=600)
    retake_days: int = Field(7, ge=0, le=60)
    pass_rate_target: float = Field(90, ge=0, le=100)
    #: Results with an unreviewed flagged critical verdict are held as "under review" (the
    #: candidate sees no grade for that conversation until a reviewer has decided it).
    provisional: bool = True
    #: Candidates may search the knowledge base during the exam (docs/knowledge.md); a
    #: closed-book exam (the default) hides the chat's search panel and refuses searches.
    open_book: bool = False

    @field_validator("practical_weight")
    @classmethod
    def _weights_make_a_whole(cls, value: float, info: ValidationInfo) -> float:
        written = info.data.get("written_weight")
        if written is not None and exact(written) + exact(value) != 1:
            raise PydanticCustomError(
                "weights", "the written and practical weights must add up to 1 (40% + 60%)"
            )
        return value

    @field_validator("bands")
    @classmethod
    def _bands_go_down(cls, value: list[tuple[float, str]]) -> list[tuple[float, str]]:
        floors = [floor for floor, _ in value]
        if floors != sorted(floors, reverse=True):
            raise PydanticCustomError("bands", "bands must be listed from the highest floor down")
        return value

    @field_validator("grace_s")
    @classmethod
    def _grace_has_time(cls, value: float, info: ValidationInfo) -> float:
        if info.data.get("on_timeout") == "grace" and value <= 0:
            raise PydanticCustomError("grace", "a grace period needs more than 0 seconds")
        return value

    @property
    def band_table(self) -> Bands:
        return tuple((float(floor), name) for floor, name in self.bands)


# --- the clock ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """When an exam conversation stops taking messages, in seconds since it started."""

    limit_s: float
    grace_s: float = 0.0

    @property
    def last_message_s(self) -> float:
        return self.limit_s + self.grace_s

    def accepts(self, at: float, grace_used: bool = False) -> bool:
        """Whether a message at `at` counts: up to the limit, then one in the grace period."""
        if at <= self.limit_s:
            return True
        return not grace_used and at <= self.last_message_s

    def ends_after(self, at: float) -> bool:
        """Whether the conversation is over once a message at `at` has been taken."""
        return at > self.limit_s


def deadline_for(time_limit_s: float, rules: ExamRules) -> Deadline:
    grace = rules.grace_s if rules.on_timeout == "grace" else 0.0
    return Deadline(time_limit_s, grace)


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExamResult:
    practical: float | None  # mean of the exam's scenario scores
    written: float | None
    final: float | None
    band: str | None
    practical_passed: bool | None
    written_passed: bool | None
    passed: bool | None  # None while a part is missing

    @property
    def status(self) -> Literal["pending", "passed", "failed"]:
        if self.passed is None:
            return "pending"
        return "passed" if self.passed else "failed"


def _mean(values: Sequence[float]) -> Fraction:
    return sum((exact(v) for v in values), Fraction(0)) / len(values)


def exam_result(
    practical_scores: Sequence[float],
    written: float | None,
    rules: ExamRules,
    scenarios: int | None = None,
) -> ExamResult:
    """Combine the practical scenario scores and the written score.

    `scenarios` is how many scenarios the exam has: until each has a score, the practical
    part is pending.
    """
    complete = bool(practical_scores) and (scenarios is None or len(practical_scores) >= scenarios)
    practical = float(round_half_up(_mean(practical_scores))) if complete else None
    practical_passed = None if practical is None else practical >= rules.practical_pass
    written_passed = None if written is None else written >= rules.written_pass
    if practical is None or written is None:
        return ExamResult(practical, written, None, None, practical_passed, written_passed, None)
    final = float(
        round_half_up(
            exact(rules.written_weight) * exact(written)
            + exact(rules.practical_weight) * exact(practical)
        )
    )
    passed = bool(practical_passed and written_passed)
    return ExamResult(
        practical,
        written,
        final,
        band_of(final, rules.band_table),
        practical_passed,
        written_passed,
        passed,
    )


RetakeState = Literal["not_needed", "eligible", "expired", "passed", "retraining", "pending"]


def retake_state(
    first: ExamResult,
    finished_at: datetime,
    now: datetime,
    rules: ExamRules,
    retake: ExamResult | None = None,
) -> RetakeState:
    """Where a trainee stands after an exam: a failed exam may be retaken once in time."""
    if first.status == "pending":
        return "pending"
    if first.status == "passed":
        return "not_needed"
    if retake is not None:
        if retake.status == "pending":
            return "pending"
        return "passed" if retake.status == "passed" else "retraining"
    if now <= finished_at + timedelta(days=rules.retake_days):
        return "eligible"
    return "expired"


def retake_scenarios(scores: Mapping[str, float], rules: ExamRules) -> list[str]:
    """The scenarios to retake: those whose score fell below the practical pass line."""
    return [scenario for scenario, score in scores.items() if score < rules.practical_pass]


def keeps_practice_closed(
    *,
    closes_at: datetime,
    now: datetime,
    state: RetakeState,
    retake_days: int,
    retake_expires_at: datetime | None,
) -> bool:
    """Whether an exam still keeps its scenarios from its candidate's practice at `now`.

    Practising an exam's scenario shows its rubric (hints, feedback): a candidate must not
    practise it from the moment they are a candidate until nothing more can be sat. That
    is: while the exam's window has not closed (upcoming or open); while a retake may still
    be granted (`eligible`); while a granted retake runs (until it expires or is decided);
    and while the result is still pending after the close, for as long as the retake
    window could last counted from the close.
    """
    if now < closes_at:
        return True
    if state == "eligible":
        return True
    if state == "pending":
        if retake_expires_at is not None:
            return now <= retake_expires_at
        return now <= closes_at + timedelta(days=retake_days)
    return False


# --- written scores from CSV -------------------------------------------------------------


#: A written score as people write it: digits with at most one decimal point (ASCII digits,
#: an optional sign). float() would also take "1_0" (as 10), "1e2", "nan", "inf", spaces
#: and digits of other scripts.
PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

ScoreProblem = Literal["not_a_number", "not_plain", "out_of_range"]


class ScoreError(ValueError):
    """A written score that cannot be taken; `problem` says why."""

    def __init__(self, problem: ScoreProblem, raw: str) -> None:
        super().__init__(f"{problem}: {raw!r}")
        self.problem: ScoreProblem = problem
        self.raw = raw


def read_written_score(raw: str) -> float:
    """A written score, typed or imported: a plain decimal from 0 to 100, or ScoreError."""
    text = raw.strip()
    if not PLAIN_DECIMAL.fullmatch(text):
        try:
            float(text)
        except ValueError:
            raise ScoreError("not_a_number", raw) from None
        raise ScoreError("not_plain", raw)
    score = float(text)
    if not 0 <= score <= 100:
        raise ScoreError("out_of_range", raw)
    return score


@dataclass
class WrittenImport:
    scores: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


_SCORE_PROBLEMS: dict[ScoreProblem, str] = {
    "not_a_number": "score {raw!r} is not a number",
    "not_plain": "score {raw!r} is not a plain decimal number: write digits with at most one "
    "decimal point, such as 75 or 82.5",
    "out_of_range": "score {raw} is out of range (0 to 100)",
}


def parse_written_scores(text: str, trainees: Sequence[str]) -> WrittenImport:
    """Read `trainee,score` rows; every bad row is reported, and none is kept if any is bad.

    The header row must name the columns `trainee` and `score` (any order, other columns
    ignored). Scores are plain decimals from 0 to 100 (`read_written_score`). Commas,
    semicolons or tabs separate the cells, whichever the header uses (`sandbox.csvfiles`).
    """
    result = WrittenImport()
    known = set(trainees)
    try:
        rows = read_csv_rows(text)
    except CsvRowError as exc:
        result.errors.append(str(exc))
        return result
    if not rows:
        result.errors.append("line 1: the file is empty; expected a header: trainee,score")
        return result
    first = rows[0].cells
    header = [h.strip().lower() for h in first]
    if "trainee" not in header or "score" not in header:
        result.errors.append(
            "line 1: the header must name the columns trainee and score, got "
            f"{sniff_delimiter(text).join(first)!r}"
        )
        return result
    name_col, score_col = header.index("trainee"), header.index("score")
    seen: dict[str, int] = {}
    for found in rows[1:]:
        line, row = found.line, found.cells
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(name_col, score_col):
            result.errors.append(f"line {line}: expected {len(header)} columns, got {len(row)}")
            continue
        name, raw = row[name_col].strip(), row[score_col].strip()
        problems = []
        if name not in known:
            problems.append(f"unknown trainee {name!r}")
        score: float | None = None
        try:
            score = read_written_score(raw)
        except ScoreError as error:
            problems.append(_SCORE_PROBLEMS[error.problem].format(raw=raw))
        if name in seen:
            problems.append(f"duplicate: {name!r} is already on line {seen[name]}")
        else:
            seen[name] = line
        if problems:
            result.errors.append(f"line {line}: " + "; ".join(problems))
        elif score is not None:
            result.scores[name] = score
    if result.errors:
        result.scores.clear()
    return result
