"""The regrade plan without a database (`evaluator.regrade`): new grades, overrides kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.evaluator.records import Headline
from sandbox.evaluator.regrade import PROBLEMS, Job, Regraded, grade_job, plan
from sandbox.evaluator.scoring import band_of


@dataclass
class Stored:
    id: int | None
    user_id: int
    score: float | None
    band: str | None
    passed: bool | None
    pack_id: str = "p"
    scenario_id: str = "s"


def regraded(attempt_id: int, *statuses: tuple[str, str, str]) -> Regraded:
    """A new automatic grade with equal weights: (id, kind, status) per criterion."""
    criteria = [
        {"id": i, "kind": k, "status": s, "weight": 1, "penalty": 20, "critical": False}
        for i, k, s in statuses
    ]
    required = [c for c in criteria if c["kind"] != "forbidden" and c["status"] != "not_applicable"]
    met = sum(c["status"] == "met" for c in required)
    score = 100.0 * met / len(required) if required else 100.0
    record = {
        "score": score,
        "band": band_of(score),
        "passed": score >= 70,
        "critical_missed": [],
        "critical_violated": [],
        "pass_mark": 70.0,
        "criteria": criteria,
    }
    return Regraded(attempt_id, record)


def test_changes_keep_the_overrides_that_still_fit_and_list_the_dropped() -> None:
    attempts = [Stored(1, 10, 100.0, "excellent", True), Stored(2, 11, 100.0, "excellent", True)]
    results = [
        regraded(2, ("ask", "inquiry", "met"), ("warn", "disclosure", "missed")),
        regraded(1, ("ask", "inquiry", "met"), ("warn", "disclosure", "missed")),
    ]
    overrides = {1: {"warn": "met", "gone": "met"}, 2: {}}
    found = plan(
        attempts=attempts, results=results, overrides=overrides, names={10: "ana", 11: "bo"}
    )
    assert found.checked == 2 and not found.problems
    [kept] = found.unchanged
    assert (kept.attempt_id, kept.user_name, kept.dropped_overrides) == (1, "ana", ["gone"])
    assert kept.new == Headline(100.0, "excellent", True)  # warn: met, by the mentor
    warn = next(c for c in kept.record["criteria"] if c["id"] == "warn")
    assert (warn["status"], warn["automatic_status"]) == ("met", "missed")
    [changed] = found.changes  # no override: the new automatic grade
    assert (changed.attempt_id, changed.user_name, changed.changed) == (2, "bo", True)
    assert changed.new == Headline(50.0, "fail", False)


def test_a_grade_that_moves_is_a_change_and_problems_are_listed_apart() -> None:
    attempts = [Stored(1, 10, 50.0, "fail", False), Stored(2, 10, 80.0, "good", True)]
    problem = Regraded(2, None, "pack-missing")
    results = [
        regraded(1, ("ask", "inquiry", "met"), ("warn", "disclosure", "met")),
        problem,
        regraded(99, ("ask", "inquiry", "met")),
    ]  # not among the attempts: ignored
    found = plan(attempts=attempts, results=results, overrides={}, names={})
    [change] = found.changes
    assert (change.old, change.new) == (
        Headline(50.0, "fail", False),
        Headline(100.0, "excellent", True),
    )
    assert change.user_name == "" and change.dropped_overrides == []
    assert found.problems == [problem] and found.checked == 2


def test_a_job_whose_pack_is_not_loaded_is_a_problem() -> None:
    job = Job(5, "gone-pack", "s", 300.0, (("trainee", "hello", 1.0),))
    assert grade_job({}, job) == Regraded(5, None, "pack-missing")
    assert set(PROBLEMS) == {"pack-missing", "scenario-missing", "error"}


def test_stored_attempts_without_an_id_are_not_planned() -> None:
    results: list[Any] = [regraded(1, ("ask", "inquiry", "met"))]
    found = plan(
        attempts=[Stored(None, 1, 0.0, "fail", False)], results=results, overrides={}, names={}
    )
    assert found.checked == 0
