"""Retraining after a failed retake: the proctor turns the candidate's failed scenarios
into a retraining plan, the trainee sees it on the catalogue, and once it is done the exam
page offers a new exam."""

from __future__ import annotations

from collections.abc import Callable

from exam_support import COLD, INSULIN, FakeClock, audit_trail, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import GOOD, graded_attempt
from sqlmodel import Session, select
from test_web_exams import _graded, _row, _written
from web_support import csrf_token

from sandbox.storage.assignments import Assignment, Purpose
from sandbox.storage.models import User

Browsers = Callable[[str], TestClient]


def plan(proctor: TestClient, exam_id: int, user: User) -> int:
    page = proctor.get(f"/proctor/exams/{exam_id}")
    response = proctor.post(
        f"/proctor/exams/{exam_id}/retraining",
        data={"csrf_token": csrf_token(page.text), "user_id": str(user.id)},
        follow_redirects=False,
    )
    return response.status_code


def test_a_failed_retake_leads_to_a_plan_and_then_a_new_exam(
    app: FastAPI,
    proctor: TestClient,
    browsers: Browsers,
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, scenario=[COLD, INSULIN], retake_days="7")
    tao = people["tao"]
    _graded(app, exam_id, tao, COLD, 90, clock)
    _graded(app, exam_id, tao, INSULIN, 40, clock)
    _written(proctor, exam_id, "tao,80\nmei,80\n")
    assert plan(proctor, exam_id, tao) == 400  # not failed a retake yet
    page = proctor.get(f"/proctor/exams/{exam_id}")
    proctor.post(
        f"/proctor/exams/{exam_id}/retakes",
        data={"csrf_token": csrf_token(page.text), "user_id": str(tao.id)},
    )
    clock.advance(9 * 86400)  # the retake expired untried: retraining
    row = _row(proctor, exam_id, tao)
    assert "Retraining" in row and f'id="plan-retraining-{tao.id}"' in row

    assert plan(proctor, exam_id, tao) == 303
    with Session(app.state.sandbox.engine) as session:
        made = session.exec(select(Assignment).where(Assignment.user_id == tao.id)).all()
    assert [(a.activity_ref, a.purpose, a.exam_id) for a in made] == [
        (INSULIN, Purpose.RETRAINING, exam_id)
    ]
    assert audit_trail(app, "retraining.plan")[-1].new["scenarios"] == [INSULIN]
    row = _row(proctor, exam_id, tao)
    assert "Retraining plan: 0 of 1 done" in row and "schedule a new exam" not in row
    assert plan(proctor, exam_id, tao) == 303  # again: nothing new
    with Session(app.state.sandbox.engine) as session:
        assert len(session.exec(select(Assignment)).all()) == 1

    catalogue = browsers("tao").get("/").text
    assert 'id="assigned-list"' in catalogue and "Retraining" in catalogue
    assert "Retraining" in browsers("mo").get("/mentor/assignments").text

    pack_id, scenario_id = INSULIN.split("/")
    graded_attempt(app, "tao", GOOD, pack_id=pack_id, scenario_id=scenario_id)
    row = _row(proctor, exam_id, tao)
    assert "Retraining plan: 1 of 1 done" in row
    assert f'id="new-exam-{tao.id}"' in row and "schedule a new exam" in row
