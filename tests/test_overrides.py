"""A reviewer's override checked and recomputed without a database (`evaluator.overrides`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.evaluator.overrides import REASON_MAX_CHARS, ReviewError, override, overrides_in_force
from sandbox.evaluator.records import Headline


def stored_grade() -> dict[str, Any]:
    """Asked (met), warned (missed, critical), kept clear of a forbidden promise: 50, fail."""
    return {
        "scenario": "p/s",
        "score": 50.0,
        "band": "fail",
        "passed": False,
        "critical_missed": ["warn"],
        "critical_violated": [],
        "pass_mark": 70.0,
        "criteria": [
            {"id": "ask", "kind": "inquiry", "status": "met", "weight": 1, "critical": False},
            {"id": "warn", "kind": "disclosure", "status": "missed", "weight": 1, "critical": True},
            {
                "id": "promise",
                "kind": "forbidden",
                "status": "clear",
                "penalty": 20,
                "critical": False,
            },
        ],
    }


def refusal(**given: Any) -> ReviewError:
    change: dict[str, Any] = {
        "criterion_id": "warn",
        "status": "met",
        "reason": "said it",
        "in_force": {},
    }
    change.update(given)
    grade = change.pop("grade", stored_grade())
    with pytest.raises(ReviewError) as refused:
        override(grade, **change)
    return refused.value


def test_a_refused_change_names_its_field_and_message_key() -> None:
    assert (refusal(grade=None).field, refusal(grade=None).key) == (
        "criterion",
        "review.error.not_graded",
    )
    assert refusal(reason="  ").key == "review.error.reason_required"
    long = refusal(reason="x" * (REASON_MAX_CHARS + 1))
    assert (long.field, long.key, long.fields) == (
        "reason",
        "review.error.too_long",
        {"limit": REASON_MAX_CHARS},
    )
    assert refusal(criterion_id="nope").key == "review.error.no_criterion"
    bad = refusal(criterion_id="promise", status="met")  # forbidden: clear or violated
    assert (bad.field, bad.key) == ("status", "review.error.bad_status")


def test_an_override_recomputes_and_says_what_changed() -> None:
    change = override(
        stored_grade(), criterion_id="warn", status="met", reason=" said it ", in_force={}
    )
    assert (change.automatic_status, change.old_status, change.new_status) == (
        "missed",
        "missed",
        "met",
    )
    assert change.reason == "said it"
    assert change.before == Headline(50.0, "fail", False)
    assert change.after == Headline(100.0, "excellent", True)
    assert change.record["automatic"]["score"] == 50.0
    assert change.record["critical_missed"] == []


def test_the_overrides_in_force_stay_and_none_hands_a_criterion_back() -> None:
    both = override(
        stored_grade(),
        criterion_id="promise",
        status="violated",
        reason="r",
        in_force={"warn": "met"},
    )
    assert both.after == Headline(80.0, "good", True)  # 100 less the promise's 20
    back = override(
        both.record,
        criterion_id="warn",
        status=None,
        reason="r",
        in_force={"warn": "met", "promise": "violated"},
    )
    assert back.old_status == "met" and back.new_status == "missed"
    assert back.after == Headline(30.0, "fail", False)  # 50 less 20, the warning missed again
    statuses = {c["id"]: c["status"] for c in back.record["criteria"]}
    assert statuses == {"ask": "met", "warn": "missed", "promise": "violated"}


@dataclass
class Row:
    criterion_id: str
    status: str | None


def test_the_latest_row_per_criterion_is_in_force() -> None:
    rows = [Row("a", "met"), Row("b", "missed"), Row("a", None), Row("b", "met"), Row("c", None)]
    assert overrides_in_force(rows) == {"b": "met"}
