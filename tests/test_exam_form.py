"""The proctor's exam form (web/exam_form.py) without a server: its rule checks are
`ExamRules`' own (exams/policy.py), each error marked on the field the proctor typed."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.exams.policy import ExamRules
from sandbox.web.exam_form import ExamForm, read_exam_form, rule_bounds


class Library:
    """Every scenario is loaded."""

    def find(self, pack_id: str, scenario_id: str) -> object:
        return object()


def t(key: str, **fields: Any) -> str:
    return key + "".join(f" {name}={value}" for name, value in sorted(fields.items()))


VALID = {
    "name": "Practical",
    "time_limit_s": "120",
    "opens_at": "2026-12-01T09:00",
    "closes_at": "2026-12-02T09:00",
    "attempts_allowed": "2",
    "on_timeout": "grace",
    "grace_s": "45",
    "written_pass": "60",
    "practical_pass": "70",
    "written_weight": "40",
    "practical_weight": "60",
    "band_excellent": "90",
    "band_good": "70",
    "band_pass": "60",
    "retake_days": "7",
    "pass_rate_target": "90",
}


def read(**changes: str) -> ExamForm:
    form = {**VALID, **changes}
    return read_exam_form(
        form,
        {"scenario": ["pack/scenario"], "candidate": ["1"]},
        t=t,
        library=Library(),  # type: ignore[arg-type]
        trainee_ids={1},
        cohorts={},
    )


def test_the_bounds_are_the_models() -> None:
    assert rule_bounds("attempts_allowed") == (1, 10)
    assert rule_bounds("retake_days") == (0, 60)
    assert rule_bounds("grace_s") == (0, 600)
    assert rule_bounds("written_weight") == (0, 100)  # percent on the form, a fraction in the model
    assert rule_bounds("band_good") == (0, 100)
    assert rule_bounds("pass_rate_target") == (0, 100)


def test_a_valid_form_gives_the_rules() -> None:
    form = read()
    assert form.errors == {}
    assert form.rules == ExamRules(
        written_pass=60,
        practical_pass=70,
        written_weight=0.4,
        practical_weight=0.6,
        bands=[(90, "excellent"), (70, "good"), (60, "pass")],
        attempts_allowed=2,
        on_timeout="grace",
        grace_s=45,
        retake_days=7,
        pass_rate_target=90,
    )


def test_without_the_grace_rule_the_grace_period_is_not_read() -> None:
    form = read(on_timeout="end", grace_s="abc")
    assert form.errors == {}
    assert form.rules is not None and form.rules.grace_s == 0


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"attempts_allowed": "1.5"}, {"attempts_allowed": "exam.error.range high=10 low=1"}),
        ({"attempts_allowed": "11"}, {"attempts_allowed": "exam.error.range high=10 low=1"}),
        ({"retake_days": "61"}, {"retake_days": "exam.error.range high=60 low=0"}),
        ({"written_pass": "101"}, {"written_pass": "exam.error.range high=100 low=0"}),
        ({"written_pass": "nan"}, {"written_pass": "exam.error.range high=100 low=0"}),
        ({"pass_rate_target": "inf"}, {"pass_rate_target": "exam.error.range high=100 low=0"}),
        ({"written_weight": "150"}, {"written_weight": "exam.error.range high=100 low=0"}),
        ({"written_weight": "50"}, {"practical_weight": "exam.error.weights"}),
        ({"band_pass": "95"}, {"band_pass": "exam.error.bands"}),
        ({"band_good": "-1"}, {"band_good": "exam.error.range high=100 low=0"}),
        ({"grace_s": "0"}, {"grace_s": "exam.error.range high=600 low=1"}),
        ({"grace_s": "601"}, {"grace_s": "exam.error.range high=600 low=0"}),
        ({"on_timeout": "later"}, {"on_timeout": "exam.error.choose"}),
        # An unreadable number is only that: no rule across fields is asked of it.
        ({"written_weight": "abc"}, {"written_weight": "exam.error.number"}),
        ({"band_excellent": ""}, {"band_excellent": "exam.error.number"}),
        # Every problem at once, rules across fields included.
        (
            {"written_pass": "101", "written_weight": "50", "band_pass": "95"},
            {
                "written_pass": "exam.error.range high=100 low=0",
                "practical_weight": "exam.error.weights",
                "band_pass": "exam.error.bands",
            },
        ),
    ],
)
def test_each_problem_is_marked_on_its_field(
    changes: dict[str, str], errors: dict[str, str]
) -> None:
    form = read(**changes)
    assert form.errors == errors
    assert form.rules is None
