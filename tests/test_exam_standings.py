"""Exam standings from plain rows, without a database (`sandbox.exams.standings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox.exams.policy import ExamRules
from sandbox.exams.standings import standing

START = datetime(2026, 3, 2, 9, 0)
CLOSES = START + timedelta(hours=4)
RULES = ExamRules()


@dataclass
class Row:
    id: int
    pack_id: str
    scenario_id: str
    score: float | None = None
    ended_at: datetime | None = None
    retake: bool = False
    started_at: datetime = START

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


@dataclass
class Candidate:
    id: int | None = 7
    name: str = "ana"


@dataclass
class ExamScenarioRow:
    pack_id: str
    scenario_id: str

    @property
    def key(self) -> str:
        return f"{self.pack_id}/{self.scenario_id}"


@dataclass
class Written:
    score: float
    entered_at: datetime = START + timedelta(hours=1)


@dataclass
class Retake:
    expires_at: datetime
    scenarios: list[str] = field(default_factory=list)
    written: bool = False


SCENARIOS = [ExamScenarioRow("p", "a"), ExamScenarioRow("p", "b")]


def attempt(
    n: int, scenario: str, score: float | None, minutes: int | None = 30, retake: bool = False
) -> Row:
    ended = None if minutes is None else START + timedelta(minutes=minutes + n)
    return Row(n, "p", scenario, score, ended, retake, START + timedelta(minutes=n))


def judge(
    attempts: list[Row],
    *,
    now: datetime,
    written: float | None = 80.0,
    retake: Retake | None = None,
    retake_written: float | None = None,
    rules: ExamRules = RULES,
):
    scores = {}
    if written is not None:
        scores[(7, False)] = Written(written)
    if retake_written is not None:
        scores[(7, True)] = Written(retake_written, START + timedelta(days=2))
    return standing(
        user=Candidate(),
        closes_at=CLOSES,
        rules=rules,
        scenarios=SCENARIOS,
        attempts=attempts,
        written=scores,
        retake=retake,
        now=now,
    )


def test_the_best_graded_attempt_of_a_scenario_counts() -> None:
    rules = ExamRules(attempts_allowed=3)
    found = judge(
        [attempt(1, "a", 60), attempt(2, "a", 90), attempt(3, "b", 80)],
        now=START + timedelta(hours=1),
        rules=rules,
    )
    by_key = {p.scenario.key: p for p in found.first}
    assert by_key["p/a"].best is not None and by_key["p/a"].best.id == 2
    assert by_key["p/a"].attempts_left == 1
    assert found.scores == {"p/a": 90.0, "p/b": 80.0}
    assert found.progress == "finished"
    assert found.result.practical == 85.0 and found.result.final == 83.0
    assert found.final.status == "passed" and found.state == "not_needed"


def test_a_scenario_never_tried_is_pending_while_open_and_zero_once_closed() -> None:
    rows = [attempt(1, "a", 90)]
    open_now = judge(rows, now=START + timedelta(hours=1))
    assert open_now.progress == "partial"
    assert open_now.result.status == "pending" and open_now.finished_at is None
    closed = judge(rows, now=CLOSES + timedelta(minutes=1))
    assert closed.result.practical == 45.0 and closed.result.status == "failed"
    assert closed.finished_at == CLOSES  # decided when the window closed
    assert closed.state == "eligible"


def test_an_open_attempt_keeps_the_standing_in_progress_even_after_the_close() -> None:
    rows = [attempt(1, "a", 90), attempt(2, "b", None, minutes=None)]
    found = judge(rows, now=CLOSES + timedelta(minutes=5))
    assert found.progress == "in_progress"
    assert found.open_attempt is rows[1]
    assert found.result.status == "pending"


def test_the_result_is_decided_when_its_last_part_arrived() -> None:
    rows = [attempt(1, "a", 90, minutes=10), attempt(2, "b", 40, minutes=100)]
    found = judge(rows, now=CLOSES + timedelta(days=1))  # the written score came at 10:00
    assert found.finished_at == START + timedelta(minutes=102)
    assert found.result.practical == 65.0 and found.result.status == "failed"
    assert found.state == "eligible"
    late = judge(rows, now=CLOSES + timedelta(days=30))
    assert late.state == "expired"


def test_a_retake_covers_its_scenarios_and_the_others_keep_their_first_scores() -> None:
    first = [attempt(1, "a", 90), attempt(2, "b", 40)]
    retake = Retake(expires_at=CLOSES + timedelta(days=7), scenarios=["p/b"])
    pending = judge(first, now=CLOSES + timedelta(days=1), retake=retake)
    assert [p.scenario.key for p in pending.sitting] == ["p/b"]
    assert pending.retake_result is not None and pending.retake_result.status == "pending"
    assert pending.state == "pending" and pending.final is pending.result
    again = [*first, attempt(3, "b", 80, retake=True)]
    found = judge(again, now=CLOSES + timedelta(days=1), retake=retake)
    assert found.scores == {"p/a": 90.0, "p/b": 80.0}
    assert found.retake_result is not None and found.retake_result.practical == 85.0
    assert found.final is found.retake_result and found.state == "passed"
    assert [a.id for a in found.attempts] == [1, 2, 3]


def test_an_expired_retake_counts_its_untried_scenarios_zero() -> None:
    first = [attempt(1, "a", 90), attempt(2, "b", 40)]
    retake = Retake(expires_at=CLOSES + timedelta(days=7), scenarios=["p/b"])
    found = judge(first, now=CLOSES + timedelta(days=8), retake=retake)
    assert found.retake_result is not None and found.retake_result.practical == 45.0
    assert found.state == "retraining"


def test_a_retaken_written_part_needs_its_new_score() -> None:
    first = [attempt(1, "a", 90), attempt(2, "b", 90)]
    retake = Retake(expires_at=CLOSES + timedelta(days=7), written=True)
    found = judge(first, now=CLOSES + timedelta(days=1), written=40.0, retake=retake)
    assert found.result.status == "failed"
    assert found.retake_result is not None and found.retake_result.status == "pending"
    passed = judge(
        first, now=CLOSES + timedelta(days=3), written=40.0, retake=retake, retake_written=75.0
    )
    assert passed.retake_result is not None and passed.retake_result.written == 75.0
    assert passed.final.status == "passed"
