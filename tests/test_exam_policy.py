"""The exam rules of the training policies: pass lines, weights, bands, clock, retakes, CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from sandbox.exams.policy import (
    Deadline,
    ExamRules,
    ScoreError,
    deadline_for,
    exam_result,
    parse_written_scores,
    read_written_score,
    retake_scenarios,
    retake_state,
)
from sandbox.exams.reports import facility, grades_csv, histogram, histogram_layout, pass_rate

RULES = ExamRules()


def test_defaults_are_the_policies() -> None:
    assert (RULES.written_pass, RULES.practical_pass) == (60, 70)
    assert (RULES.written_weight, RULES.practical_weight) == (0.4, 0.6)
    assert RULES.band_table == ((90, "excellent"), (70, "good"), (60, "pass"))
    assert (RULES.retake_days, RULES.on_timeout, RULES.pass_rate_target) == (7, "end", 90)


@pytest.mark.parametrize(
    ("practical", "written", "final", "band", "passed"),
    [
        ([80, 90], 70, 79.0, "good", True),  # 0.4*70 + 0.6*85
        ([70], 60, 66.0, "pass", True),  # both lines met exactly
        ([69.9], 100, 81.9, "good", False),  # practical line missed, total high
        ([100], 59.9, 84.0, "good", False),  # written line missed
        ([95, 95], 95, 95.0, "excellent", True),
        ([40], 50, 44.0, "fail", False),
        ([70.25], 60, 66.2, "pass", True),  # 24 + 42.15 = 66.15 -> 66.2 half up
    ],
)
def test_final_grade_weights_lines_and_bands(
    practical: list[float], written: float, final: float, band: str, passed: bool
) -> None:
    result = exam_result(practical, written, RULES)
    assert (result.final, result.band, result.passed) == (final, band, passed)


def test_practical_is_the_mean_of_scenarios_rounded_half_up() -> None:
    assert exam_result([70, 70.25], None, RULES).practical == 70.1  # 70.125 -> 70.1
    assert exam_result([33.3, 33.4], None, RULES).practical == 33.4  # 33.35 -> 33.4


def test_pending_until_every_part_is_there() -> None:
    assert exam_result([80], None, RULES).status == "pending"
    assert exam_result([], 80, RULES).status == "pending"
    assert exam_result([80], 80, RULES, scenarios=2).practical is None
    assert exam_result([80, 75], 80, RULES, scenarios=2).status == "passed"


def test_rules_are_configurable_and_checked() -> None:
    strict = ExamRules(
        written_pass=80,
        practical_pass=80,
        written_weight=0.5,
        practical_weight=0.5,
        bands=[(95, "distinction"), (80, "merit")],
    )
    result = exam_result([85], 80, strict)
    assert (result.final, result.band, result.passed) == (82.5, "merit", True)
    with pytest.raises(ValidationError, match="add up to 1"):
        ExamRules(written_weight=0.5, practical_weight=0.6)
    with pytest.raises(ValidationError, match="highest floor down"):
        ExamRules(bands=[(60, "pass"), (90, "excellent")])


def test_deadline_a_moment_before_and_after() -> None:
    clock = deadline_for(300, RULES)
    assert clock.accepts(299.999) and clock.accepts(300.0)
    assert not clock.accepts(300.001)


def test_grace_period_takes_one_last_message() -> None:
    clock = deadline_for(300, ExamRules(on_timeout="grace", grace_s=20))
    assert clock == Deadline(300, 20)
    assert clock.accepts(310) and clock.ends_after(310)
    assert not clock.accepts(315, grace_used=True)
    assert not clock.accepts(320.5)
    assert clock.accepts(320.0)
    assert not deadline_for(300, ExamRules(grace_s=20)).accepts(310)  # grace only when chosen


def test_retake_window_and_retraining() -> None:
    failed = exam_result([60], 80, RULES)
    done = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert retake_state(failed, done, done + timedelta(days=7), RULES) == "eligible"
    assert retake_state(failed, done, done + timedelta(days=7, seconds=1), RULES) == "expired"
    assert retake_state(failed, done, done, RULES, exam_result([75], 80, RULES)) == "passed"
    assert retake_state(failed, done, done, RULES, exam_result([65], 80, RULES)) == "retraining"
    assert retake_state(exam_result([90], 90, RULES), done, done, RULES) == "not_needed"
    assert retake_scenarios({"a/x": 82, "a/y": 64.9, "b/z": 70}, RULES) == ["a/y"]


def test_written_scores_csv_reports_every_bad_row_and_imports_none() -> None:
    text = "trainee,score\nana,75\nbo,101\nzed,50\nana,80\ncy,abc\n,\n"
    result = parse_written_scores(text, ["ana", "bo", "cy"])
    assert not result.ok and result.scores == {}
    assert result.errors == [
        "line 3: score 101 is out of range (0 to 100)",
        "line 4: unknown trainee 'zed'",
        "line 5: duplicate: 'ana' is already on line 2",
        "line 6: score 'abc' is not a number",
    ]


@pytest.mark.parametrize(
    "raw",
    [
        "1_0",
        "1_000",
        "7_5.5",
        "1e1",
        "1E1",
        "inf",
        "nan",
        "\u0661\u0660",
        "\uff11\uff10",
        "1 0",
        "1.2.3",
    ],
)
def test_a_written_score_is_a_plain_decimal(raw: str) -> None:
    with pytest.raises(ScoreError) as refused:
        read_written_score(raw)
    assert refused.value.problem == ("not_a_number" if raw in ("1 0", "1.2.3") else "not_plain")
    result = parse_written_scores(f"trainee,score\nana,{raw}\n", ["ana"])
    assert not result.ok and result.scores == {}
    assert result.errors[0].startswith(f"line 2: score {raw!r} is not a")


def test_plain_decimals_are_read_and_ranged() -> None:
    assert [read_written_score(raw) for raw in ("0", "75", "82.5", " 100 ", "99.", ".5")] == [
        0.0,
        75.0,
        82.5,
        100.0,
        99.0,
        0.5,
    ]
    for raw in ("-1", "100.01", "101"):
        with pytest.raises(ScoreError) as refused:
            read_written_score(raw)
        assert refused.value.problem == "out_of_range"


def test_written_scores_csv_good_file_and_bad_header() -> None:
    good = parse_written_scores("\ufeffScore,Trainee\n88.5,ana\n60,bo\n", ["ana", "bo"])
    assert good.ok and good.scores == {"ana": 88.5, "bo": 60.0}
    assert parse_written_scores("name,points\n", ["ana"]).errors[0].startswith("line 1:")
    assert parse_written_scores("", ["ana"]).errors == [
        "line 1: the file is empty; expected a header: trainee,score"
    ]


def test_pass_rate_histogram_and_facility() -> None:
    rate = pass_rate([True] * 9 + [False] + [None])
    assert (rate.percent, rate.total, rate.meets_target) == (90.0, 10, True)
    assert pass_rate([True, False]).meets_target is False
    bins = dict(histogram([0, 9.9, 10, 59.9, 90, 100]))
    assert (bins["0–9"], bins["10–19"], bins["50–59"], bins["90–100"]) == (2, 1, 1, 2)
    chart = histogram_layout(histogram([55, 75]), pass_line=70)  # drawn: test_web_charts.py
    assert [bar.count for bar in chart.bars if bar.count] == [1, 1]
    assert chart.pass_x == chart.left + (chart.right - chart.left) * 0.7
    records = [
        {
            "scenario": "p/s",
            "criteria": [
                {"id": "a", "status": "met"},
                {"id": "f", "kind": "forbidden", "status": "violated"},
            ],
        },
        {
            "scenario": "p/s",
            "criteria": [
                {"id": "a", "status": "missed"},
                {"id": "f", "kind": "forbidden", "status": "clear"},
            ],
        },
        {
            "scenario": "p/s",
            "criteria": [
                {"id": "a", "status": "not_applicable"},
                {"id": "f", "kind": "forbidden", "status": "clear"},
            ],
        },
    ]
    by_id = {f.criterion: f for f in facility(records)}
    assert (by_id["p/s#a"].met, by_id["p/s#a"].applicable, by_id["p/s#a"].percent) == (1, 2, 50.0)
    assert by_id["p/s#f"].percent == 66.7


def test_csv_export_defuses_formulas() -> None:
    text = grades_csv(
        [{"name": "=HYPERLINK(1)", "score": -5.0}, {"name": "ana", "score": 88}], ["name", "score"]
    )
    assert text == "name,score\n'=HYPERLINK(1),-5.0\nana,88\n"
