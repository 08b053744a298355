"""Proctoring: a new exam's window opens now; a proctor reorders an exam's scenarios, the
candidates see the new order, and editing the exam keeps it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from exam_support import (
    COLD,
    INSULIN,
    FakeClock,
    attempt_row,
    audit_trail,
    exam_fields,
    make_exam,
    post_exam,
    start,
    utc_field,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from web_support import csrf_token

from sandbox.storage.exams import exam_scenarios
from sandbox.storage.models import User


def order(app: FastAPI, exam_id: int) -> list[str]:
    with Session(app.state.sandbox.engine) as session:
        return [row.key for row in exam_scenarios(session=session, exam_id=exam_id)]


def move(proctor: TestClient, exam_id: int, scenario: str, direction: str) -> int:
    page = proctor.get(f"/proctor/exams/{exam_id}")
    response = proctor.post(
        f"/proctor/exams/{exam_id}/order",
        data={"csrf_token": csrf_token(page.text), "scenario": scenario, "direction": direction},
        follow_redirects=False,
    )
    return response.status_code


def test_a_new_exam_window_opens_now(proctor: TestClient, clock: FakeClock) -> None:
    page = proctor.get("/proctor/exams/new").text
    opens = re.search(r'id="field-opens_at"[^>]*value="([^"]+)"', page)
    closes = re.search(r'id="field-closes_at"[^>]*value="([^"]+)"', page)
    assert opens and closes
    assert opens.group(1) == utc_field(clock.now)
    assert closes.group(1) == utc_field(clock.now + timedelta(days=1))


def test_a_proctor_reorders_the_scenarios(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, scenario=[COLD, INSULIN])
    assert order(app, exam_id) == [COLD, INSULIN]
    assert move(proctor, exam_id, INSULIN, "up") == 303
    assert order(app, exam_id) == [INSULIN, COLD]
    event = audit_trail(app, "exam.reorder")[-1]
    assert event.old == {"scenarios": [COLD, INSULIN]} and event.new == {
        "scenarios": [INSULIN, COLD]
    }
    # Moving the first one up changes nothing; a bad direction or scenario is refused.
    assert (
        move(proctor, exam_id, INSULIN, "up") == 303 and len(audit_trail(app, "exam.reorder")) == 1
    )
    assert move(proctor, exam_id, INSULIN, "sideways") == 400
    assert move(proctor, exam_id, "nope/none", "down") == 400
    # The candidate's page lists them in the new order.
    page = browsers("tao").get(f"/exams/{exam_id}").text
    first, second = (f'id="scenario-{key.replace("/", "--")}"' for key in (INSULIN, COLD))
    assert page.index(first) < page.index(second)
    # Editing the exam keeps the order.
    fields = exam_fields(clock, people, scenario=[COLD, INSULIN])
    assert post_exam(proctor, fields, exam_id).status_code == 303
    assert order(app, exam_id) == [INSULIN, COLD]
    assert browsers("tao").post(f"/proctor/exams/{exam_id}/order").status_code in (403, 400)


def give(proctor: TestClient, exam_id: int, user: User, minutes: str) -> Any:
    page = proctor.get(f"/proctor/exams/{exam_id}")
    return proctor.post(
        f"/proctor/exams/{exam_id}/extra-time",
        data={"csrf_token": csrf_token(page.text), "user_id": str(user.id), "minutes": minutes},
        follow_redirects=False,
    )


def test_extra_time_lengthens_the_candidates_conversations(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, scenario=[COLD, INSULIN], time_limit_s="120")
    tao = people["tao"]
    response = give(proctor, exam_id, tao, "5")
    assert response.status_code == 303
    event = audit_trail(app, "exam.extra_time")[-1]
    assert event.new == {"user": tao.id, "extra_s": 300.0} and event.old["extra_s"] == 0.0
    assert "tao: 5 more minutes per conversation" in proctor.get(f"/proctor/exams/{exam_id}").text
    for bad in ("-1", "61", "soon", "nan"):
        refused = give(proctor, exam_id, tao, bad)
        assert refused.status_code == 400 and "from 0 to 60" in refused.text
    assert give(proctor, exam_id, people["kim"], "5").status_code == 400
    taos = start(browsers("tao"), exam_id, COLD)
    meis = start(browsers("mei"), exam_id, COLD)
    assert attempt_row(app, taos).time_limit_s == attempt_row(app, meis).time_limit_s + 300
    deadline, other = attempt_row(app, taos).deadline_at, attempt_row(app, meis).deadline_at
    assert deadline is not None and other is not None
    assert (deadline - other).total_seconds() == 300
    # Taking it away again: 0 minutes.
    assert give(proctor, exam_id, tao, "0").status_code == 303
    assert 'id="extra-list"' not in proctor.get(f"/proctor/exams/{exam_id}").text
