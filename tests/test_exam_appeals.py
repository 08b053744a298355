"""Appeals: a trainee asks for a review of a graded exam attempt with a reason; a proctor,
an admin or the trainee's mentor keeps the grade or overrides criteria, with a note."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from exam_support import (
    FakeClock,
    attempt_row,
    audit_trail,
    chat,
    frames_until,
    make_exam,
    say,
    start,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from web_support import csrf_token

from sandbox.storage.exams import Appeal
from sandbox.storage.models import User

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


def _sat(
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
    release: bool = True,
) -> tuple[int, int]:
    """tao sat an exam: greeted and asked about medicines, then handed in."""
    exam_id = make_exam(proctor, clock, people)
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    with chat(tao, attempt_id) as ws:
        say(ws, "Hello, do you take any other medication?", "a-1")
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda f: 'id="feedback-link"' in f)
    if release:
        page = proctor.get(f"/proctor/exams/{exam_id}")
        proctor.post(
            f"/proctor/exams/{exam_id}/release",
            data={"csrf_token": csrf_token(page.text), "confirm": "1"},
        )
    return exam_id, attempt_id


def _appeal(browser: TestClient, exam_id: int, attempt_id: int, reason: str) -> Any:
    page = browser.get(f"/exams/{exam_id}/results")
    return browser.post(
        f"/exams/{exam_id}/appeals",
        data={"csrf_token": csrf_token(page.text), "attempt_id": str(attempt_id), "reason": reason},
        follow_redirects=False,
    )


def _resolve(browser: TestClient, appeal_id: int, **fields: str) -> Any:
    page = browser.get(f"/appeals/{appeal_id}")
    return browser.post(
        f"/appeals/{appeal_id}",
        data={"csrf_token": csrf_token(page.text), **fields},
        follow_redirects=False,
    )


def _only_appeal(app: FastAPI) -> Appeal:
    with Session(app.state.sandbox.engine) as session:
        found = session.get(Appeal, 1)
        assert found is not None
        return found


def test_a_trainee_appeals_and_a_proctor_changes_the_grade(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id, attempt_id = _sat(proctor, browsers, clock, people)
    tao = browsers("tao")
    before = attempt_row(app, attempt_id)
    assert before.grade is not None and before.score is not None
    statuses = {c["id"]: c["status"] for c in before.grade["criteria"]}
    assert statuses["ask-allergies"] == "missed"
    assert _appeal(tao, exam_id, attempt_id, "I asked about allergies too.").status_code == 303
    opened = audit_trail(app, "appeal.open")[-1]
    assert opened.actor_id == people["tao"].id and opened.reason == "I asked about allergies too."
    results = tao.get(f"/exams/{exam_id}/results").text
    assert "Open" in results and "Ask for a review" not in results
    # Staff see the appeal with the rubric; the trainee never does.
    page = proctor.get("/appeals/1")
    assert page.status_code == 200 and "Asks about allergies" in page.text
    assert 'id="appeal-1"' in proctor.get("/appeals").text
    # A change needs a decision, at least one criterion and a note.
    assert _resolve(proctor, 1, decision="change", note="").status_code == 400
    assert _resolve(proctor, 1, decision="change", note="Checked.").status_code == 400
    response = _resolve(
        proctor,
        1,
        decision="change",
        note="It was asked in message 3.",
        **{"status-ask-allergies": "met"},
    )
    assert response.status_code == 303
    after = attempt_row(app, attempt_id)
    assert after.score is not None and after.score > before.score
    assert after.grade is not None
    entry = next(c for c in after.grade["criteria"] if c["id"] == "ask-allergies")
    assert entry["status"] == "met" and entry["automatic_status"] == "missed"
    appeal = _only_appeal(app)
    assert appeal.status == "changed" and appeal.overrides == {"ask-allergies": "met"}
    assert (appeal.old_score, appeal.new_score) == (before.score, after.score)
    resolved = audit_trail(app, "appeal.resolve")[-1]
    assert resolved.actor_id == people["pat"].id and resolved.reason == "It was asked in message 3."
    assert resolved.old == {"status": "open", "score": before.score}
    assert resolved.new["score"] == after.score
    assert audit_trail(app, "grade.override")[-1].new["status"] == "met"
    results = tao.get(f"/exams/{exam_id}/results").text
    assert "Grade changed" in results and "It was asked in message 3." in results
    assert f"{after.score:.1f}" in results
    assert "Asks about allergies" not in results
    # Resolved is resolved.
    assert _resolve(proctor, 1, decision="keep", note="Again").status_code == 400


def test_a_mentor_keeps_the_grade_of_their_own_trainee(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id, attempt_id = _sat(proctor, browsers, clock, people)
    _appeal(browsers("tao"), exam_id, attempt_id, "Please check the tone.")
    score = attempt_row(app, attempt_id).score
    response = _resolve(browsers("mo"), 1, decision="keep", note="The grade stands.")
    assert response.status_code == 303
    assert _only_appeal(app).status == "kept" and attempt_row(app, attempt_id).score == score
    assert audit_trail(app, "appeal.resolve")[-1].actor_id == people["mo"].id


def test_who_may_appeal_and_who_may_resolve(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id, attempt_id = _sat(proctor, browsers, clock, people, release=False)
    tao = browsers("tao")
    early = _appeal(tao, exam_id, attempt_id, "Too early")
    assert early.status_code == 400 and "The results are not released yet." in early.text
    page = proctor.get(f"/proctor/exams/{exam_id}")
    proctor.post(
        f"/proctor/exams/{exam_id}/release",
        data={"csrf_token": csrf_token(page.text), "confirm": "1"},
    )
    assert _appeal(tao, exam_id, attempt_id, "   ").status_code == 400
    assert _appeal(tao, exam_id, attempt_id, "x" * 2001).status_code == 400
    # Another trainee cannot appeal tao's attempt, nor see it.
    mei = browsers("mei")
    assert _appeal(mei, exam_id, attempt_id, "Not mine").status_code == 404
    assert _appeal(tao, exam_id, attempt_id, "Mine").status_code == 303
    again = _appeal(tao, exam_id, attempt_id, "Again")
    assert again.status_code == 400 and "already asked" in again.text
    assert len(audit_trail(app, "appeal.open")) == 1
    # Trainees resolve nothing; a mentor only their own trainees' appeals.
    assert mei.get("/appeals").status_code == 403 and mei.get("/appeals/1").status_code == 403
    assert browsers("boss").get("/appeals/1").status_code == 200  # an admin may
    with Session(app.state.sandbox.engine) as session:
        tao_row = session.get(User, people["tao"].id)
        assert tao_row is not None
        tao_row.mentor_id = None
        session.add(tao_row)
        session.commit()
    assert browsers("mo").get("/appeals/1").status_code == 403
    assert 'id="appeal-1"' not in browsers("mo").get("/appeals").text
