"""Item statistics against a hand computation (docs/questions-format.md, "Item statistics").

Five candidates, three one-point items (1 right, 0 wrong):

    A 1 1 1 (3)   B 1 1 0 (2)   C 1 0 0 (1)   D 0 0 1 (1)   E 0 0 0 (0)

facility: 3/5, 2/5, 2/5.
discrimination (item against the share of the other two items):
  item 1: x = 1 1 1 0 0, rest = 1 .5 0 .5 0; Sxy = .30, Sxx = 1.2, Syy = .70
          r = .30 / sqrt(1.2 × .70) = 0.327327
  item 2: x = 1 1 0 0 0, rest = 1 .5 .5 .5 0; Sxy = .50, Sxx = 1.2, Syy = .50
          r = .50 / sqrt(.60) = 0.645497
  item 3: x = 1 0 0 1 0, rest = 1 1 .5 0 0;   Sxy = 0 → r = 0 (flagged weak)
KR-20: Σpq = 3 × .24 = .72; totals 3 2 1 1 0 have variance 1.04;
       3/2 × (1 − .72/1.04) = 0.461538.
"""

from __future__ import annotations

import pytest

from sandbox.questions.stats import Response, item_statistics, report_csv_rows

ROWS = {"A": (1, 1, 1), "B": (1, 1, 0), "C": (1, 0, 0), "D": (0, 0, 1), "E": (0, 0, 0)}
CHOICES = {"A": "0", "B": "0", "C": "0", "D": "2", "E": "none"}


def papers() -> list[dict[str, Response]]:
    out = []
    for name, scores in ROWS.items():
        paper = {
            f"i{k + 1}": Response(float(s), 1.0, "true" if s else "false")
            for k, s in enumerate(scores)
        }
        paper["i1"] = Response(float(scores[0]), 1.0, CHOICES[name])
        out.append(paper)
    return out


def test_statistics_match_the_hand_computation() -> None:
    report = item_statistics(papers())
    by = {s.item: s for s in report.items}
    assert [by[i].facility for i in ("i1", "i2", "i3")] == pytest.approx([0.6, 0.4, 0.4])
    assert by["i1"].discrimination == pytest.approx(0.327327, abs=1e-6)
    assert by["i2"].discrimination == pytest.approx(0.645497, abs=1e-6)
    assert by["i3"].discrimination == pytest.approx(0.0, abs=1e-12)
    assert by["i1"].choices == pytest.approx({"0": 0.6, "2": 0.2, "none": 0.2})
    assert by["i3"].flags == ("weak",) and by["i3"].poor
    assert not by["i1"].poor and not by["i2"].poor
    assert report.reliability == pytest.approx(0.461538, abs=1e-6)
    assert report.reliability_kind == "KR-20"
    assert report.candidates == 5


def test_partial_credit_is_cronbach_alpha_and_flags_extremes() -> None:
    rows = [(2.0, 1.0), (1.0, 1.0), (0.0, 1.0), (2.0, 1.0)]
    report = item_statistics([{"a": Response(x, 2.0), "b": Response(y, 1.0)} for x, y in rows])
    assert report.reliability_kind == "alpha"
    by = {s.item: s for s in report.items}
    assert by["b"].facility == 1.0 and "easy" in by["b"].flags
    assert by["b"].discrimination is None  # everyone scored the same
    hard = item_statistics([{"a": Response(0.0, 1.0)}, {"a": Response(0.0, 1.0)}])
    assert hard.items[0].flags == ("hard",) and hard.reliability is None


def test_negative_discrimination_is_flagged_and_csv_has_every_item() -> None:
    rows = [(0, 1, 1), (0, 1, 1), (1, 0, 0), (1, 0, 0), (1, 1, 0)]
    report = item_statistics(
        [{f"q{k}": Response(float(s), 1.0) for k, s in enumerate(r)} for r in rows]
    )
    assert "negative" in report.items[0].flags
    rows_out = report_csv_rows(report)
    assert rows_out[0][:4] == ["item", "n", "facility", "discrimination"]
    assert [r[0] for r in rows_out[1:4]] == ["q0", "q1", "q2"]
