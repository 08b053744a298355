"""Provisional exam results (ExamRules.provisional, default on): a conversation with an
unreviewed flagged critical verdict shows the candidate "under review" instead of a grade;
the release confirmation warns about and lists those candidates; once a reviewer decides
every flag, the result shows. Off, the grader's result shows as it is."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from queue_support import NEGATED, an_exam, flagged_attempt
from review_support import attempt_of, audit_rows
from web_support import SAME_ORIGIN, add_user, csrf_token, login

from sandbox.exams.policy import ExamRules
from sandbox.storage.models import Role
from sandbox.web.exam_form import blank_values

# The tests that use a database run on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


def setup_cast(app: FastAPI) -> None:
    add_user(app, "pat", Role.PROCTOR)
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")


def browser_of(app: FastAPI, name: str) -> TestClient:
    other = TestClient(app, headers=SAME_ORIGIN)
    login(other, name)
    return other


def test_results_are_held_by_default_and_old_rules_hold_them_too() -> None:
    assert ExamRules().provisional is True
    assert ExamRules.model_validate({}).provisional is True  # rules stored before the setting
    assert blank_values(__import__("datetime").datetime.now())["provisional"] == "on"


def test_a_flagged_exam_conversation_is_under_review_until_decided(
    app: FastAPI, client: TestClient
) -> None:
    setup_cast(app)
    exam = an_exam(app, candidates=("tao",))
    attempt_id = flagged_attempt(app, "tao", NEGATED, exam_id=exam)
    row = attempt_of(app, attempt_id)
    assert row.needs_review and row.reviewed_at is None
    score_text = f"{row.score:g}"

    # The release warns about and lists the candidates whose result is held; the proctor
    # may release all the same, and the audit event keeps the list.
    pat = browser_of(app, "pat")
    release = pat.get(f"/proctor/exams/{exam}/release").text
    listed = release.split('id="pending-under-review"')[1].split("</li>")[0]
    assert "tao" in listed and "/mentor/queue" in listed
    done = pat.post(
        f"/proctor/exams/{exam}/release",
        data={"csrf_token": csrf_token(release), "confirm": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    event = audit_rows(app, "exam.release")[-1]
    assert event.new is not None and event.new["pending"]["under_review"] == ["tao"]

    login(client, "tao")
    results = client.get(f"/exams/{exam}/results").text
    assert "Under review" in results
    assert 'class="attempt-score"' not in results and 'id="final"' not in results

    mo = browser_of(app, "mo")
    flagged = [c["id"] for c in row.grade["criteria"] if "review" in c]  # type: ignore[index]
    for criterion in flagged:
        page = mo.get(f"/mentor/queue/{attempt_id}")
        mo.post(
            f"/mentor/queue/{attempt_id}/decide",
            data={
                "csrf_token": csrf_token(page.text),
                "criterion": criterion,
                "decision": "confirm",
            },
        )
    assert attempt_of(app, attempt_id).reviewed_at is not None
    results = client.get(f"/exams/{exam}/results").text
    assert "Under review" not in results
    assert 'class="attempt-score"' in results and score_text in results
    # In Chinese the candidate reads 复核中 while held.
    held = an_exam(app, "Held", candidates=("tao",), released=True)
    flagged_attempt(app, "tao", NEGATED, exam_id=held)
    client.post("/language", data={"csrf_token": csrf_token(results), "locale": "zh-CN"})
    assert "复核中" in client.get(f"/exams/{held}/results").text
    pat.close()
    mo.close()


def test_an_exam_that_does_not_hold_results_shows_the_grade(
    app: FastAPI, client: TestClient
) -> None:
    setup_cast(app)
    exam = an_exam(app, candidates=("tao",), rules={"provisional": False})
    attempt_id = flagged_attempt(app, "tao", NEGATED, exam_id=exam)
    assert attempt_of(app, attempt_id).needs_review
    pat = browser_of(app, "pat")
    release = pat.get(f"/proctor/exams/{exam}/release").text
    assert 'id="pending-under-review"' not in release
    pat.post(
        f"/proctor/exams/{exam}/release", data={"csrf_token": csrf_token(release), "confirm": "1"}
    )
    pat.close()
    login(client, "tao")
    results = client.get(f"/exams/{exam}/results").text
    assert "Under review" not in results and 'class="attempt-score"' in results


def test_the_exam_form_offers_the_setting_and_reads_it(app: FastAPI, client: TestClient) -> None:
    setup_cast(app)
    login(client, "pat")
    form = client.get("/proctor/exams/new").text
    assert 'id="provisional-on"' in form
    assert 'value="on" checked' in form
    from test_exam_form import read

    assert read().rules is not None and read().rules.provisional is True  # type: ignore[union-attr]
    off = read(provisional="off").rules
    assert off is not None and off.provisional is False
