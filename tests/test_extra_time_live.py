"""Extra time given while an exam conversation runs: the candidate's open chat page hears
the new clock through its real WebSocket, the server's deadline moves (a message after the
original deadline is taken, one after the extended deadline is refused), the change is
audited, a timer that read the old limit does not end the conversation, and the form
chooses among every candidate of the exam, not only those on the table's current page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from exam_support import (
    FakeClock,
    attempt_row,
    audit_trail,
    chat,
    frames_until,
    make_exam,
    messages_of,
    password_hash,
    say,
    service,
    start,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from web_support import csrf_token

from sandbox.storage.exams import ExamCandidate
from sandbox.storage.models import Attempt, Role, User

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")
ASK = "Hello, do you take any other medication?"


def give(proctor: TestClient, exam_id: int, user_id: int, minutes: str) -> Any:
    page = proctor.get(f"/proctor/exams/{exam_id}")
    return proctor.post(
        f"/proctor/exams/{exam_id}/extra-time",
        data={"csrf_token": csrf_token(page.text), "user_id": str(user_id), "minutes": minutes},
        follow_redirects=False,
    )


def trainee_texts(app: FastAPI, attempt_id: int) -> list[str]:
    return [m.text for m in messages_of(app, attempt_id) if m.role == "trainee"]


def test_extra_time_reaches_the_open_page_and_moves_the_deadline(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60")
    taos, meis = start(browsers("tao"), exam_id), start(browsers("mei"), exam_id)
    begun = attempt_row(app, taos).started_at
    assert attempt_row(app, meis).started_at == begun
    with chat(browsers("tao"), taos) as ws:
        clock.set(begun, 10)
        assert 'id="ack"' in say(ws, ASK, "x-1")
        assert give(proctor, exam_id, people["tao"].id or 0, "2").status_code == 303
        # The page hears it without a reload: the new limit and the server's elapsed time.
        frame = frames_until(ws, lambda f: 'id="clock-sync"' in f)[-1]
        assert 'data-limit="180.0"' in frame and 'data-elapsed="10.0"' in frame
        assert "gave you 2 more minutes" in frame
        attempt = attempt_row(app, taos)
        assert attempt.time_limit_s == 180 and attempt.deadline_at == begun + timedelta(seconds=180)
        # After the original deadline, within the new one: taken and answered.
        clock.set(begun, 90)
        late_but_in_time = say(ws, "Do you have any allergies?", "x-2")
        assert 'id="ack"' in late_but_in_time and "after the deadline" not in late_but_in_time
        # After the new deadline: refused, and the conversation ends.
        clock.set(begun, 180.001)
        refused = say(ws, "Anything else?", "x-3")
        assert "your message arrived after the deadline and was not counted" in refused
    assert trainee_texts(app, taos) == [ASK, "Do you have any allergies?"]
    assert attempt_row(app, taos).end_reason == "timeout"
    event = audit_trail(app, "exam.extra_time")[-1]
    assert event.new == {"user": people["tao"].id, "extra_s": 120.0, "lengthened": [taos]}
    # mei was given nothing: her message after the original deadline is refused.
    with chat(browsers("mei"), meis) as ws:
        clock.set(begun, 90)
        assert "after the deadline" in say(ws, ASK, "y-1")
    assert trainee_texts(app, meis) == []
    assert attempt_row(app, meis).time_limit_s == 60


def test_less_time_never_shortens_a_running_conversation(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60")
    tao = people["tao"].id or 0
    assert give(proctor, exam_id, tao, "5").status_code == 303  # before it starts
    taos = start(browsers("tao"), exam_id)
    assert attempt_row(app, taos).time_limit_s == 360
    assert give(proctor, exam_id, tao, "1").status_code == 303
    assert attempt_row(app, taos).time_limit_s == 360
    assert "lengthened" not in audit_trail(app, "exam.extra_time")[-1].new
    assert give(proctor, exam_id, tao, "3").status_code == 303  # 2 more than now
    assert attempt_row(app, taos).time_limit_s == 480


def test_a_timer_that_read_the_old_limit_does_not_end_the_conversation(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60")
    taos = start(browsers("tao"), exam_id)
    begun = attempt_row(app, taos).started_at
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        stale = session.get(Attempt, taos)
        assert stale is not None
        session.commit()  # the row as a timer read it, before the proctor's change
        assert give(proctor, exam_id, people["tao"].id or 0, "1").status_code == 303
        clock.set(begun, 61)
        assert stale.time_limit_s == 60
        assert service(app).expire(session, stale) is False
    attempt = attempt_row(app, taos)
    assert not attempt.ended and attempt.time_limit_s == 120
    assert service(app).expire(Session(app.state.sandbox.engine), attempt) is False
    clock.set(begun, 121)
    with Session(app.state.sandbox.engine) as session:
        current = session.get(Attempt, taos)
        assert current is not None and service(app).expire(session, current) is True


def test_the_form_chooses_among_every_candidate(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        extra = [
            User(name=f"zz-{n:03d}", role=Role.TRAINEE, password_hash=password_hash())
            for n in range(101)
        ]
        session.add_all(extra)
        session.flush()
        session.add_all(ExamCandidate(exam_id=exam_id, user_id=u.id or 0) for u in extra)
        session.commit()
    last = extra[-1]
    page = proctor.get(f"/proctor/exams/{exam_id}").text
    assert f'id="candidate-{last.id}"' not in page  # not on the table's first page
    options = re.findall(r'<option value="(\d+)">', page.split('id="extra-candidate"', 1)[1])
    assert str(last.id) in options and len(set(options)) == 103
    assert give(proctor, exam_id, last.id or 0, "5").status_code == 303
    assert (
        "zz-100: 5 more minutes per conversation" in proctor.get(f"/proctor/exams/{exam_id}").text
    )
    assert give(proctor, exam_id, 2**70, "5").status_code == 400
    assert give(proctor, exam_id, people["kim"].id or 0, "5").status_code == 400
