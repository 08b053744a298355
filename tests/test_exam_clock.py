"""The exam clock is the server's: deadlines to the millisecond, the grace message, timers
that end a conversation with no browser connected, and the proctor's live monitor."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from exam_support import (
    COLD,
    FakeClock,
    attempt_row,
    chat,
    frames_until,
    make_exam,
    messages_of,
    say,
    service,
    start,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.websockets import WebSocketDisconnect
from web_support import SAME_ORIGIN, login

from sandbox.exams.policy import ExamRules
from sandbox.storage.exams import create_exam
from sandbox.storage.models import Attempt, User, utcnow
from sandbox.web.app import create_app

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


ASK = "Hello, do you take any other medication?"


def started_at(app: FastAPI, attempt_id: int) -> object:
    return attempt_row(app, attempt_id).started_at


def test_a_message_a_moment_before_the_deadline_counts_and_one_after_is_refused(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60")
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    begun = attempt_row(app, attempt_id).started_at
    assert begun == clock.now
    assert attempt_row(app, attempt_id).deadline_at == begun + timedelta(seconds=60)
    with chat(tao, attempt_id) as ws:
        clock.set(begun, 59.999)
        in_time = say(ws, ASK, "d-1")
        assert "amlodipine" in in_time and 'id="ack"' in in_time
        clock.set(begun, 60.001)
        late = say(ws, "And do you have any allergies?", "d-2")
    assert "your message arrived after the deadline and was not counted" in late
    assert 'id="feedback-link"' in late  # the page shows the end at once
    attempt = attempt_row(app, attempt_id)
    assert attempt.end_reason == "timeout" and attempt.ended_at == clock.now
    assert attempt.grade is not None and attempt.score is not None
    assert attempt.grade["ignored_messages"] == []
    trainee_lines = [(m.text, m.at) for m in messages_of(app, attempt_id) if m.role == "trainee"]
    assert trainee_lines == [(ASK, 59.999)]  # the late one was never stored


def test_a_message_at_exactly_the_limit_still_counts(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60")
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    begun = attempt_row(app, attempt_id).started_at
    with chat(tao, attempt_id) as ws:
        clock.set(begun, 60.0)
        assert 'id="ack"' in say(ws, ASK, "e-1")
    assert not attempt_row(app, attempt_id).ended


def test_the_grace_period_takes_one_last_message_then_ends(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60", on_timeout="grace", grace_s="20")
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    attempt = attempt_row(app, attempt_id)
    assert (attempt.time_limit_s, attempt.grace_s) == (80.0, 20.0)
    page = tao.get(f"/attempts/{attempt_id}").text
    assert 'data-limit="60.0"' in page  # the clock shows the exam's limit
    assert "one last message within 20 s" in page
    begun = attempt.started_at
    with chat(tao, attempt_id) as ws:
        clock.set(begun, 30)
        say(ws, ASK, "g-1")
        clock.set(begun, 75)  # after the limit, inside the grace period
        last = say(ws, "Decongestants can raise your blood pressure, so please avoid them.", "g-2")
        assert "your last message was counted and the conversation has ended" in last
        assert 'id="feedback-link"' in last
        clock.set(begun, 76)
        again = say(ws, "One more thing", "g-3")
        assert "after the deadline" in again
    attempt = attempt_row(app, attempt_id)
    assert attempt.end_reason == "timeout"
    assert attempt.grade is not None and attempt.grade["ignored_messages"] == []
    statuses = {c["id"]: c["status"] for c in attempt.grade["criteria"]}
    assert statuses["decongestant-warning"] == "met"  # the grace message was graded
    assert [m.at for m in messages_of(app, attempt_id) if m.role == "trainee"] == [30.0, 75.0]


def test_after_the_grace_period_nothing_counts(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60", on_timeout="grace", grace_s="20")
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    begun = attempt_row(app, attempt_id).started_at
    with chat(tao, attempt_id) as ws:
        clock.set(begun, 80.001)
        assert "after the deadline" in say(ws, ASK, "h-1")
    assert attempt_row(app, attempt_id).end_reason == "timeout"
    assert [m.role for m in messages_of(app, attempt_id)] == ["persona"]


def test_the_server_timer_ends_and_grades_with_no_browser_connected(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60")
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    begun = attempt_row(app, attempt_id).started_at
    with chat(tao, attempt_id) as ws:
        clock.set(begun, 10)
        say(ws, ASK, "n-1")
    # The page is closed. The deadline passes; the timer task (running in the app's
    # lifespan) is told to look, as it would be by its own sleep.
    clock.set(begun, 61)
    service(app).schedule()
    for _ in range(100):
        if attempt_row(app, attempt_id).ended:
            break
        time.sleep(0.02)
    attempt = attempt_row(app, attempt_id)
    assert attempt.end_reason == "timeout" and attempt.ended_at == clock.now
    assert attempt.score is not None and attempt.graded_at is not None
    # A page opened afterwards shows the end, and a message is refused with a reason.
    with chat(tao, attempt_id) as ws:
        ws.send_json({"type": "hello", "last_seq": 2})
        assert 'id="feedback-link"' in "".join(frames_until(ws, lambda f: "data-synced" in f))
        assert "after the deadline" in say(ws, "Hello?", "n-2")


def test_a_page_left_open_sees_the_end_when_the_deadline_passes(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    people: dict[str, User],
) -> None:
    # Real time here, on a short exam made directly in storage (the form's minimum is 10 s).
    tao = browsers("tao")
    exam_id = _short_exam(app, people, limit_s=1.0)
    attempt_id = start(tao, exam_id)
    with chat(tao, attempt_id) as ws:
        ws.send_json({"type": "hello", "last_seq": 0})
        ended = frames_until(ws, lambda f: 'id="feedback-link"' in f)
    assert "Time ran out." in "".join(ended)
    attempt = attempt_row(app, attempt_id)
    assert attempt.end_reason == "timeout" and attempt.score is not None


def test_the_real_timer_ends_an_attempt_nobody_is_looking_at(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    people: dict[str, User],
) -> None:
    tao = browsers("tao")
    exam_id = _short_exam(app, people, limit_s=0.5)
    attempt_id = start(tao, exam_id)
    for _ in range(150):
        if attempt_row(app, attempt_id).ended:
            break
        time.sleep(0.02)
    attempt = attempt_row(app, attempt_id)
    assert attempt.end_reason == "timeout" and attempt.score is not None
    assert attempt.deadline_at is not None and attempt.ended_at is not None
    assert attempt.ended_at >= attempt.deadline_at


def test_a_restarted_server_ends_what_ran_out_while_it_was_down(
    app: FastAPI, people: dict[str, User]
) -> None:
    exam_id = _short_exam(app, people, limit_s=30)
    with TestClient(app) as first:
        login(first, "tao")
        attempt_id = start(first, exam_id)
    with Session(app.state.sandbox.engine) as session:  # the server was down for a minute
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None and attempt.deadline_at is not None
        attempt.started_at -= timedelta(seconds=60)
        attempt.deadline_at -= timedelta(seconds=60)
        session.add(attempt)
        session.commit()
    restarted = create_app(app.state.sandbox.settings)
    with TestClient(restarted):
        for _ in range(100):
            if attempt_row(app, attempt_id).ended:
                break
            time.sleep(0.02)
    restarted.state.sandbox.engine.dispose()
    attempt = attempt_row(app, attempt_id)
    assert attempt.end_reason == "timeout" and attempt.score is not None


def test_ending_is_claimed_once_even_when_two_timers_race(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="60")
    attempt_id = start(browsers("tao"), exam_id)
    clock.advance(61)
    exams = service(app)
    engine = app.state.sandbox.engine
    with Session(engine, expire_on_commit=False) as one, Session(engine) as two:
        first, second = one.get(Attempt, attempt_id), two.get(Attempt, attempt_id)
        assert first is not None and second is not None
        assert exams.expire(one, first) is True
        assert exams.expire(two, second) is False  # it read the row before; the claim fails
    graded = attempt_row(app, attempt_id).graded_at
    assert graded is not None


def test_the_monitor_shows_each_candidate_live_and_resyncs_on_connect(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="120")
    tao, mei = people["tao"], people["mei"]
    page = proctor.get(f"/proctor/exams/{exam_id}/monitor")
    assert page.status_code == 200
    assert f'ws-connect="/proctor/exams/{exam_id}/monitor/ws"' in page.text
    assert f'id="candidate-{tao.id}"' in page.text and "Not started" in page.text
    row = f'id="candidate-{tao.id}"'
    with proctor.websocket_connect(
        f"/proctor/exams/{exam_id}/monitor/ws", headers=SAME_ORIGIN
    ) as monitor:
        everything = monitor.receive_text()
        assert 'id="monitor-rows" hx-swap-oob="true"' in everything
        assert row in everything and f'id="candidate-{mei.id}"' in everything
        browser = browsers("tao")
        attempt_id = start(browser, exam_id)
        started = "".join(frames_until(monitor, lambda f: row in f and "In progress" in f))
        assert 'data-left-s="120.0"' in started
        with chat(browser, attempt_id) as ws:
            clock.advance(5)
            say(ws, ASK, "m-1")
            counted = frames_until(monitor, lambda f: row in f and 'messages-count">1<' in f)
            assert 'data-left-s="115.0"' in counted[-1]
            clock.advance(5)
            ws.send_json({"type": "finish"})
            frames_until(ws, lambda f: 'id="feedback-link"' in f)
        done = frames_until(monitor, lambda f: row in f and "Finished" in f)[-1]
        assert "1/1" in done
        score = attempt_row(app, attempt_id).score
        assert score is not None and f"{score:.1f}" in done
    # A monitor that (re)connects reads everything from the database again.
    with proctor.websocket_connect(
        f"/proctor/exams/{exam_id}/monitor/ws", headers=SAME_ORIGIN
    ) as again:
        fresh = again.receive_text()
        assert "Finished" in fresh and "Not started" in fresh  # tao done, mei not yet


def test_the_monitor_is_for_proctors_only(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people)
    url = f"/proctor/exams/{exam_id}/monitor/ws"
    refused = [(browsers(name), url, SAME_ORIGIN) for name in ("tao", "mo")]
    refused += [
        (proctor, url, {"origin": "http://evil.example"}),
        (proctor, "/proctor/exams/999/monitor/ws", SAME_ORIGIN),
        (proctor, f"/proctor/exams/{2**70}/monitor/ws", SAME_ORIGIN),
    ]
    for browser, target, headers in refused:
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            browser.websocket_connect(target, headers=headers),
        ):
            pass
        assert closed.value.code == 1008
    for name in ("tao", "mo"):
        assert browsers(name).get(f"/proctor/exams/{exam_id}/monitor").status_code == 403


def _short_exam(app: FastAPI, people: dict[str, User], limit_s: float) -> int:
    """An exam open now, with a time limit below the form's minimum (for real-time tests)."""
    with Session(app.state.sandbox.engine) as session:
        now = utcnow()
        exam = create_exam(
            session=session,
            name="Quick",
            time_limit_s=limit_s,
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(hours=1),
            rules=ExamRules(),
            scenarios=[tuple(COLD.split("/"))],  # type: ignore[list-item]
            candidate_ids=[people["tao"].id or 0],
            cohort=None,
            created_by=people["pat"].id,
        )
        session.commit()
        assert exam.id is not None
        return exam.id
