"""The calibration report (evaluator/calibration.py, /mentor/calibration): Cohen's kappa
against a hand computation, every figure on a known data set, the CSV, and the page over
decisions made through the review queue."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from queue_support import NEGATED, flagged_attempt
from review_support import attempt_of
from web_support import SAME_ORIGIN, add_user, csrf_token, login

from sandbox.evaluator.calibration import Decision, agreement, cohen_kappa, report, report_csv
from sandbox.storage.models import Role

# The tests that use a database run on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")

# --- kappa, by hand --------------------------------------------------------------------------


def test_kappa_matches_a_hand_computation() -> None:
    # Two raters, 50 items: both yes 20, A yes / B no 5, A no / B yes 10, both no 15.
    # p_o = 35/50 = 0.70; A says yes 25/50, B 30/50: p_e = 0.5*0.6 + 0.5*0.4 = 0.50;
    # kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.40)
    assert agreement(pairs) == pytest.approx(70.0)
    # Three labels, 10 items, 6 agreeing: A says met 4, missed 4, na 2; B met 5, missed 4,
    # na 1. p_e = (4*5 + 4*4 + 2*1) / 100 = 0.38; kappa = (0.60 - 0.38) / 0.62 = 0.3548.
    three = [
        ("met", "met"),
        ("met", "met"),
        ("met", "met"),
        ("met", "missed"),
        ("missed", "missed"),
        ("missed", "missed"),
        ("missed", "met"),
        ("missed", "met"),
        ("na", "na"),
        ("na", "missed"),
    ]
    a, b = [x for x, _ in three], [y for _, y in three]
    assert (a.count("met"), a.count("missed"), a.count("na")) == (4, 4, 2)
    assert (b.count("met"), b.count("missed"), b.count("na")) == (5, 4, 1)
    assert cohen_kappa(three) == pytest.approx(0.3548, abs=1e-4)
    assert cohen_kappa([("met", "met")] * 4) is None  # chance agreement is certain
    assert cohen_kappa([]) is None and agreement([]) is None
    assert cohen_kappa([("met", "missed"), ("missed", "met")]) == pytest.approx(-1.0)


# --- every figure on a known data set ------------------------------------------------------


def d(
    attempt: int,
    criterion: str,
    reviewer: str,
    auto: str,
    status: str,
    flagged: bool,
    order: int,
    scenario: str = "p/s",
) -> Decision:
    return Decision(attempt, scenario, criterion, reviewer, auto, status, flagged, order)


KNOWN = [
    # Attempt 1: a flagged warning, mei confirms missed, then ann (second reviewer) says met:
    # the settled result is ann's met (the latest); mei disagreed with it.
    d(1, "warn", "mei", "missed", "missed", True, 1),
    d(1, "warn", "ann", "missed", "met", True, 2),
    d(1, "ask", "mei", "met", "met", False, 0),
    # Attempt 2: a flagged forbidden rule, both reviewers confirm clear.
    d(2, "promise", "mei", "clear", "clear", True, 3),
    d(2, "promise", "ann", "clear", "clear", True, 4),
    d(2, "ask", "mei", "missed", "met", False, 0, "p/t"),  # an override of an unflagged one
    d(2, "warn", "mei", "met", "met", False, 0, "p/t"),
]


def test_the_report_on_a_known_data_set() -> None:
    figures = report(KNOWN)
    warn, ask, promise = (figures.by_criterion[k] for k in ("warn", "ask", "promise"))
    assert (warn.decided, warn.changed, warn.up, warn.down) == (2, 1, 1, 0)
    assert (ask.decided, ask.changed, ask.up) == (2, 1, 1)
    assert (promise.decided, promise.changed) == (1, 0)
    assert figures.by_scenario["p/s"].decided == 3 and figures.by_scenario["p/t"].decided == 2
    # Flagged: warn (changed) and promise (kept): 1 of 2; unflagged: 1 of 3.
    assert (figures.flagged.decided, figures.flagged.changed) == (2, 1)
    assert (figures.unflagged.decided, figures.unflagged.changed) == (3, 1)
    assert figures.flagged.changed_pct == pytest.approx(50.0)
    # The grader against the settled result: 5 verdicts, 3 kept.
    assert figures.grader_agreement == pytest.approx(60.0)
    pairs = figures.grader_pairs
    assert sorted(pairs) == sorted(
        [("missed", "met"), ("met", "met"), ("clear", "clear"), ("missed", "met"), ("met", "met")]
    )
    assert figures.grader_kappa == pytest.approx(cohen_kappa(pairs))
    # Reviewer against reviewer: warn (ann met, mei missed) and promise (clear, clear).
    assert sorted(figures.reviewer_pairs) == [("clear", "clear"), ("met", "missed")]
    assert figures.reviewer_agreement == pytest.approx(50.0)
    # Each reviewer against the settled result: ann 2 of 2; mei 4 of 5 (the warning).
    assert figures.reviewers == {"ann": (2, 2), "mei": (4, 5)}


def test_the_csv_has_a_row_per_figure() -> None:
    rows = list(csv.reader(io.StringIO(report_csv(report(KNOWN)))))
    assert rows[0] == ["section", "key", "decided", "changed", "up", "down", "percent", "kappa"]
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key[("criterion", "warn")][2:7] == ["2", "1", "1", "0", "50.0"]
    assert by_key[("flags", "unflagged")][2:4] == ["3", "1"]
    assert by_key[("agreement", "reviewer-vs-reviewer")][6] == "50.0"
    assert by_key[("reviewer", "mei")][2:4] == ["5", "1"]
    assert by_key[("agreement", "grader-vs-settled")][7] != ""


# --- the page, over decisions made in the queue ----------------------------------------------


def test_the_page_and_the_csv_over_queue_decisions(app: FastAPI, client: TestClient) -> None:
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "root", Role.ADMIN)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    attempt_id = flagged_attempt(app, "tao", NEGATED)
    criterion = next(
        c["id"]
        for c in attempt_of(app, attempt_id).grade["criteria"]  # type: ignore[index]
        if "review" in c
    )

    def decide(who: TestClient, **data: str) -> None:
        page = who.get(f"/mentor/queue/{attempt_id}")
        who.post(
            f"/mentor/queue/{attempt_id}/decide",
            data={"csrf_token": csrf_token(page.text), "criterion": criterion, **data},
        )

    login(client, "mei")
    decide(client, decision="confirm")
    with TestClient(app, headers=SAME_ORIGIN) as root:
        login(root, "root")
        entry = next(
            c
            for c in attempt_of(app, attempt_id).grade["criteria"]  # type: ignore[index]
            if c["id"] == criterion
        )
        other = {"missed": "met", "met": "missed", "clear": "violated", "violated": "clear"}
        decide(root, decision="override", status=other[entry["status"]], note="Reads as said.")
        page = root.get("/mentor/calibration")
        assert page.status_code == 200
        assert 'id="reviewer-mei"' in page.text and 'id="reviewer-root"' in page.text
        assert 'id="reviewer-kappa"' in page.text
        flagged_row = page.text.split('id="flagged-row"')[1].split("</tr>")[0]
        assert "<td>1</td><td>1</td>" in flagged_row  # one flagged verdict, changed
        download = root.get("/mentor/calibration.csv")
        assert download.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(download.text)))
        assert ["reviewer", "mei", "1", "1", "", "", "0.0", ""] in rows
        # root touched the attempt last: its unflagged verdicts count as root's too.
        verdicts = str(len(attempt_of(app, attempt_id).grade["criteria"]))  # type: ignore[index]
        assert ["reviewer", "root", verdicts, "0", "", "", "100.0", ""] in rows
    page = client.get("/mentor/calibration")
    client.post("/language", data={"csrf_token": csrf_token(page.text), "locale": "zh-CN"})
    assert "各复核人员与最终结果" in client.get("/mentor/calibration").text
