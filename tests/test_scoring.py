"""Scoring from verdicts, and reviewers' overrides recomputed with the same arithmetic."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from itertools import product
from pathlib import Path

import pytest

from sandbox.evaluator.examples import play_example
from sandbox.evaluator.scoring import (
    OverrideError,
    Verdict,
    apply_overrides,
    band_of,
    exact,
    round_half_up,
    score_verdicts,
    verdicts_from_record,
)
from sandbox.scenarios.loader import load_pack

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "packs"


def v(
    id: str, status: str, amount: float = 1, kind: str = "inquiry", critical: bool = False
) -> Verdict:
    return Verdict(id, kind, status, amount, critical)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdicts", "score"),
    [
        ([], 100.0),
        ([v("a", "not_applicable")], 100.0),
        ([v("a", "met", 1), v("b", "missed", 2)], 33.3),
        ([v("a", "met", 2), v("b", "missed", 1)], 66.7),
        # 5/16 = 31.25: half up
        ([v("a", "met", 5), v("b", "missed", 11)], 31.3),
        ([v("a", "met", 0.1), v("b", "missed", 0.2)], 33.3),
        ([v("a", "met"), v("f", "violated", 15, "forbidden")], 85.0),
        ([v("a", "met"), v("f", "violated", 150, "forbidden")], 0.0),
        (
            [
                v("a", "met"),
                v("f", "clear", 15, "forbidden"),
                v("g", "not_applicable", 5, "forbidden"),
            ],
            100.0,
        ),
    ],
)
def test_score_arithmetic(verdicts: list[Verdict], score: float) -> None:
    assert score_verdicts(verdicts, 70).score == score


def test_passed_needs_pass_mark_and_no_critical_failure() -> None:
    assert score_verdicts([v("a", "met"), v("b", "missed")], 50).passed
    assert not score_verdicts([v("a", "met"), v("b", "missed")], 50.1).passed
    missed = score_verdicts([v("a", "met", 9), v("b", "missed", 1, critical=True)], 70)
    assert (missed.score, missed.passed, missed.critical_missed) == (90.0, False, ["b"])
    violated = score_verdicts([v("a", "met"), v("f", "violated", 0, "forbidden", True)], 70)
    assert (violated.score, violated.passed, violated.critical_violated) == (100.0, False, ["f"])


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, "excellent"),
        (90, "excellent"),
        (89.9, "good"),
        (70, "good"),
        (69.9, "pass"),
        (60, "pass"),
        (59.9, "fail"),
    ],
)
def test_bands(score: float, band: str) -> None:
    assert band_of(score) == band


def test_exam_bands_replace_the_defaults() -> None:
    assert band_of(85, ((95, "distinction"), (80, "merit"))) == "merit"


def test_override_recomputes_a_stored_grade() -> None:
    pack = load_pack(SHARED / "pharmacy-basics.yaml")
    scenario = pack.scenario("cold-remedy-hypertension")
    example = next(e for e in scenario.examples if e.name == "false reassurance is no warning")
    _, grade = play_example(pack, scenario, example)
    record = grade.to_record()
    verdicts = verdicts_from_record(record)
    again = score_verdicts(verdicts, record["pass_mark"])
    assert (again.score, again.passed) == (grade.score, grade.passed)

    changed = apply_overrides(verdicts, {"decongestant-warning": "met"})
    after = score_verdicts(changed, record["pass_mark"])
    assert after.score > grade.score
    assert "decongestant-warning" not in after.critical_missed


def test_override_refuses_unknown_criteria_and_impossible_statuses() -> None:
    verdicts = [v("a", "met"), v("f", "clear", 10, "forbidden")]
    with pytest.raises(OverrideError, match="no criterion 'zzz'"):
        apply_overrides(verdicts, {"zzz": "met"})
    with pytest.raises(OverrideError, match="not 'met'"):
        apply_overrides(verdicts, {"f": "met"})
    with pytest.raises(OverrideError, match="not 'violated'"):
        apply_overrides(verdicts, {"a": "violated"})


def fraction_score(verdicts: list[Verdict], pass_mark: float) -> tuple[float, bool]:
    """Score and pass by the rule in exact fractions, without the whole-weight shortcut."""
    applicable = [x for x in verdicts if not x.forbidden and x.status in ("met", "missed")]
    total = sum((exact(x.amount) for x in applicable), Fraction(0))
    met = sum((exact(x.amount) for x in applicable if x.status == "met"), Fraction(0))
    value = Fraction(100) if total == 0 else 100 * met / total
    value -= sum(
        (exact(x.amount) for x in verdicts if x.forbidden and x.status == "violated"), Fraction(0)
    )
    rounded = round_half_up(max(value, Fraction(0)))
    critical = any(x.critical and x.status in ("missed", "violated") for x in verdicts)
    return float(rounded), rounded >= Decimal(repr(pass_mark)) and not critical


def test_whole_weights_score_in_integers_exactly_as_in_fractions() -> None:
    # Every split of up to 40 weight points into met and missed, with and without penalties,
    # whole weights given as int and as float: rounding halves and the floor at 0 included.
    checked = 0
    for met, missed, penalty, pass_mark in product(
        range(13), range(41), (0, 1, 7, 15, 120), (0, 33.3, 70, 70.0, 85.5)
    ):
        verdicts = [
            v("a", "met", met),
            v("b", "missed", float(missed)),
            v("f", "violated" if penalty else "clear", penalty, "forbidden"),
        ]
        if not met:
            verdicts[0] = v("a", "not_applicable", 3)
        score = score_verdicts(verdicts, pass_mark)
        assert (score.score, score.passed) == fraction_score(verdicts, pass_mark), verdicts
        checked += 1
    assert checked > 10_000
