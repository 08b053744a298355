"""Grade records: overrides on top of the automatic verdict, and back again (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.evaluator import records
from sandbox.evaluator.examples import play_example
from sandbox.evaluator.scoring import OverrideError
from sandbox.scenarios.loader import load_pack

SHARED = Path(__file__).resolve().parents[2] / "shared" / "packs"


@pytest.fixture(scope="module")
def reassurance() -> tuple[dict, object]:
    """The pack's 'false reassurance' example: the critical warning missed, not passed."""
    pack = load_pack(SHARED / "pharmacy-basics.yaml")
    scenario = pack.scenario("cold-remedy-hypertension")
    example = next(e for e in scenario.examples if e.name == "false reassurance is no warning")
    _, grade = play_example(pack, scenario, example)
    return grade.to_record(), scenario


def test_an_override_recomputes_and_keeps_the_automatic_verdict(reassurance) -> None:
    record, _ = reassurance
    assert record["passed"] is False and "decongestant-warning" in record["critical_missed"]
    changed = records.overridden(record, {"decongestant-warning": "met"})
    entry = next(c for c in changed["criteria"] if c["id"] == "decongestant-warning")
    assert (entry["status"], entry["automatic_status"]) == ("met", "missed")
    assert changed["score"] > record["score"]
    assert changed["automatic"]["score"] == record["score"]
    assert changed["automatic"]["passed"] is False
    assert "decongestant-warning" not in changed["critical_missed"]
    assert changed["automatic"]["critical_missed"] == record["critical_missed"]
    # The evidence the evaluator found stays as it was.
    assert (
        entry["evidence"]
        == next(c for c in record["criteria"] if c["id"] == "decongestant-warning")["evidence"]
    )


def test_automatic_gives_the_evaluators_record_back(reassurance) -> None:
    record, _ = reassurance
    changed = records.overridden(record, {"decongestant-warning": "met", "greeting": "missed"})
    assert records.automatic(changed) == record
    # Re-applying from an already overridden record starts from the automatic verdict.
    again = records.overridden(changed, {"greeting": "missed"})
    assert (
        next(c for c in again["criteria"] if c["id"] == "decongestant-warning")["status"]
        == "missed"
    )
    assert records.overridden(changed, {}) == record


def test_overriding_to_the_same_status_is_still_recorded_as_an_override(reassurance) -> None:
    record, _ = reassurance
    confirmed = records.overridden(record, {"greeting": "met"})
    entry = next(c for c in confirmed["criteria"] if c["id"] == "greeting")
    assert entry["automatic_status"] == "met"
    assert records.Headline.of(confirmed) == records.Headline.of(record)


def test_impossible_overrides_are_refused(reassurance) -> None:
    record, _ = reassurance
    with pytest.raises(OverrideError):
        records.overridden(record, {"no-such-criterion": "met"})
    with pytest.raises(OverrideError):
        records.overridden(record, {"no-guarantee": "met"})  # forbidden: clear or violated


def test_complete_fills_what_an_older_web_grade_lacks(reassurance) -> None:
    record, scenario = reassurance
    old_style = {k: v for k, v in record.items() if k not in ("pass_mark", "revealed", "mood")}
    old_style["criteria"] = [
        {k: v for k, v in c.items() if k not in ("critical", "description")}
        for c in record["criteria"]
    ]
    filled = records.complete(old_style, scenario)
    assert filled["pass_mark"] == 70
    assert {c["id"] for c in filled["criteria"] if c["critical"]} == {
        "ask-medication",
        "decongestant-warning",
        "recommends-decongestant",
    }
    # Without the rubric, the critical misses listed in the record are still critical.
    guessed = records.complete(old_style, None)
    assert {c["id"] for c in guessed["criteria"] if c["critical"]} == {"decongestant-warning"}
    assert guessed["pass_mark"] == records.DEFAULT_PASS_MARK
    # So overriding a critical miss passes the grade only if nothing else holds it back.
    assert (
        records.overridden(filled, {"decongestant-warning": "met"})["passed"]
        == (records.overridden(record, {"decongestant-warning": "met"})["passed"])
    )


def test_applicable_drops_overrides_a_new_rubric_cannot_take(reassurance) -> None:
    record, _ = reassurance
    kept, dropped = records.applicable(
        record, {"greeting": "missed", "gone": "met", "no-guarantee": "met"}
    )
    assert kept == {"greeting": "missed"}
    assert sorted(dropped) == ["gone", "no-guarantee"]


def test_exam_bands_in_a_record_are_used() -> None:
    record = {
        "score": 50.0,
        "band": "fail",
        "passed": False,
        "pass_mark": 50,
        "bands": [[95, "distinction"], [40, "ok"]],
        "critical_missed": [],
        "critical_violated": [],
        "criteria": [
            {"id": "a", "kind": "inquiry", "status": "met", "weight": 1, "evidence": []},
            {"id": "b", "kind": "inquiry", "status": "missed", "weight": 1, "evidence": []},
        ],
    }
    assert records.overridden(record, {"b": "met"})["band"] == "distinction"
    assert records.overridden(record, {"a": "missed"})["band"] == "fail"
