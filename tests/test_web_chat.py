"""The chat socket end to end: real app, real engine and grader, temporary SQLite."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from web_support import (
    SAME_ORIGIN,
    SHARED_PACKS,
    add_user,
    login,
    make_settings,
    needs_postgres,
    postgres_database,
    start_attempt,
)

from sandbox.storage.models import Attempt, AttemptMessage, Role
from sandbox.web.app import create_app

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"
SEQ = re.compile(r'data-seq="(\d+)"')


NOTICE = re.compile(r'id="notice"[^>]*>[^<]+<')


def say(ws: WebSocketTestSession, text: str, client_id: str) -> list[str]:
    """Send a message; return every frame up to the end of the turn or a notice."""
    ws.send_json({"type": "say", "text": text, "client_id": client_id})
    return frames_until(ws, lambda frame: 'data-turn="done"' in frame or NOTICE.search(frame))


def frames_until(ws: WebSocketTestSession, done: object) -> list[str]:
    frames: list[str] = []
    while True:
        frame = ws.receive_text()
        frames.append(frame)
        if callable(done) and done(frame):
            return frames


def hello(ws: WebSocketTestSession, last_seq: int) -> list[str]:
    ws.send_json({"type": "hello", "last_seq": last_seq})
    return frames_until(ws, lambda frame: 'data-synced="true"' in frame)


def seqs(frames: list[str]) -> list[int]:
    return [int(seq) for frame in frames for seq in SEQ.findall(frame)]


def stored(app: FastAPI, attempt_id: int) -> list[AttemptMessage]:
    with Session(app.state.sandbox.engine) as session:
        statement = (
            select(AttemptMessage)
            .where(AttemptMessage.attempt_id == attempt_id)
            .order_by(AttemptMessage.seq)  # type: ignore[arg-type]
        )
        return list(session.exec(statement).all())


def attempt_row(app: FastAPI, attempt_id: int) -> Attempt:
    with Session(app.state.sandbox.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return attempt


def move_start_back(app: FastAPI, attempt_id: int, seconds: float) -> None:
    """Pretend the attempt started `seconds` earlier (the server clock is not mocked)."""
    with Session(app.state.sandbox.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        attempt.started_at -= timedelta(seconds=seconds)
        session.add(attempt)
        session.commit()


@pytest.fixture
def trainee(app: FastAPI, client: TestClient) -> int:
    """A logged-in trainee with a fresh attempt at the hypertension scenario."""
    add_user(app, "tao")
    login(client, "tao")
    return start_attempt(client, PACK, SCENARIO)


MODEL_ANSWER = [
    "Hello, thanks for contacting us, I'm sorry you're feeling unwell. Before I recommend "
    "anything, are you taking any other medication or do you have any medical conditions?",
    "Thank you, that's important. Decongestants such as pseudoephedrine can raise your blood "
    "pressure, so they are not suitable for you. Do you have any allergies?",
    "Then a saline nasal spray for the blocked nose and paracetamol for the headache are "
    "safer choices.",
    "Use the spray two or three times a day. Paracetamol is 500 mg to 1 g every 4 to 6 hours, "
    "no more than 4 g a day.",
    "If you're not better in a few days, or it gets worse, please see your doctor or ask a "
    "pharmacist.",
    "Is there anything else I can help with? Take care and get well soon!",
]


def test_a_whole_conversation_is_stored_graded_once_and_shown(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    page = client.get(f"/attempts/{trainee}")
    assert page.status_code == 200
    assert "What&#39;s the strongest cold medicine you sell?" in page.text
    assert f'ws-connect="/attempts/{trainee}/ws"' in page.text
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        assert hello(ws, 0)  # nothing missed, just the sync marker
        first = say(ws, MODEL_ANSWER[0], "m-0")
        assert "amlodipine" in "".join(first)
        assert seqs(first) == [1, 2]
        for index, line in enumerate(MODEL_ANSWER[1:-1], start=1):
            frames = say(ws, line, f"m-{index}")
            # With no typing delay a turn is one frame, in the order the page shows it:
            # the sender's line, the ack (its input clears), the reply, the done marker.
            assert len(frames) == 1
            marks = ["msg-trainee", f'data-client-id="m-{index}"', "msg-persona", "data-turn"]
            positions = [frames[0].index(mark) for mark in marks]
            assert positions == sorted(positions)
        last = say(ws, MODEL_ANSWER[-1], "m-last")
        text = "".join(last)
        assert "Okay, thanks. Bye." in text
        assert 'id="feedback-link"' in text
        assert "The customer ended the conversation." in text

    attempt = attempt_row(app, trainee)
    assert attempt.end_reason == "completed"
    assert attempt.score == 100.0 and attempt.band == "excellent" and attempt.passed
    assert attempt.grade is not None
    assert attempt.grade["scenario"] == f"{PACK}/{SCENARIO}"
    assert attempt.grade["pack_version"] == 1
    messages = stored(app, trainee)
    assert [m.seq for m in messages] == list(range(len(messages)))
    assert messages[-1].kind == "farewell"
    assert all(m.created_at is not None for m in messages)

    feedback = client.get(f"/attempts/{trainee}/feedback")
    assert feedback.status_code == 200
    assert 'id="score" class="score">100.0' in feedback.text
    assert 'id="criterion-ask-medication"' in feedback.text
    assert 'href="#msg-1"' in feedback.text  # evidence links into the transcript
    assert 'href="#criterion-ask-medication"' in feedback.text  # and back
    assert "You uncovered every fact." in feedback.text
    assert client.get(f"/attempts/{trainee}", follow_redirects=False).status_code == 303


def test_a_message_after_the_end_gets_a_notice_and_changes_nothing(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        say(ws, "Hello, do you take any other medication?", "a-1")
        ws.send_json({"type": "finish"})
        ended = frames_until(ws, lambda frame: 'id="feedback-link"' in frame)
        assert "You finished the conversation." in "".join(ended)
        count = len(stored(app, trainee))
        graded_at = attempt_row(app, trainee).graded_at
        late = say(ws, "Sorry, one more thing", "a-2")
        assert "This conversation has ended; your message was not sent." in late[-1]
        ws.send_json({"type": "finish"})
        again = frames_until(ws, lambda frame: 'id="notice"' in frame)
        assert "has ended" in again[-1]
    assert len(stored(app, trainee)) == count
    attempt = attempt_row(app, trainee)
    assert attempt.end_reason == "finished"
    assert attempt.graded_at == graded_at  # graded once


def test_reconnect_replays_only_what_the_page_has_not_shown(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        say(ws, "Hello, do you take any other medication?", "r-1")
        say(ws, "Do you have any allergies?", "r-2")
    # The page had seen up to seq 2 when the socket dropped.
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        missed = hello(ws, 2)
        assert seqs(missed) == [3, 4]
        assert "No allergies" in "".join(missed)
        # The browser resends a message the server already stored: no duplicate.
        resent = say(ws, "Do you have any allergies?", "r-2")
        assert seqs(resent) == []
        assert 'data-client-id="r-2"' in resent[0]
        # A fresh page (nothing seen) gets everything, once.
        everything = hello(ws, -1)
        assert seqs(everything) == [0, 1, 2, 3, 4]
    assert len(stored(app, trainee)) == 5


def test_a_server_restart_resumes_the_same_conversation(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        say(ws, "Hello, do you take any other medication?", "s-1")
    restarted = create_app(app.state.sandbox.settings)
    with TestClient(restarted, headers=SAME_ORIGIN) as again:
        login(again, "tao")
        page = again.get(f"/attempts/{trainee}")
        assert "amlodipine" in page.text  # the page shows the stored conversation
        with again.websocket_connect(f"/attempts/{trainee}/ws") as ws:
            # The fact is already revealed: asking again gets the fallback, not the fact.
            frames = say(ws, "Are you taking any other medication?", "s-2")
            assert "amlodipine" not in "".join(frames)
            assert seqs(frames) == [3, 4]
            assert "msg-persona" in frames[-1]


@pytest.mark.parametrize(
    ("frame", "notice"),
    [
        ("not json at all", "did not understand"),
        ('{"type": "dance"}', "did not understand"),
        ('["say", "hello"]', "did not understand"),
        ('{"type": "say", "text": 42}', "did not understand"),
        ('{"type": "say", "text": "hi", "client_id": ""}', "did not understand"),
        ('{"type": "say", "text": "   "}', "Your message is empty"),
        ('{"type": "say", "text": "' + "x" * 2001 + '"}', "2001 characters; the limit is 2000"),
    ],
)
def test_bad_input_gets_a_notice_and_loses_nothing(
    app: FastAPI, client: TestClient, trainee: int, frame: str, notice: str
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        ws.send_text(frame)
        reply = ws.receive_text()
        assert 'id="notice"' in reply and notice in reply
        # The socket still works afterwards.
        frames = say(ws, "Hello, do you take any other medication?", "ok-1")
        assert seqs(frames) == [1, 2]
    assert len(stored(app, trainee)) == 3


def test_sockets_of_other_users_are_refused(app: FastAPI, client: TestClient, trainee: int) -> None:
    # Refused at the handshake, before accept: no frame is ever sent (tests/test_security_socket.py).
    add_user(app, "mei")
    url = f"/attempts/{trainee}/ws"
    with TestClient(app, headers=SAME_ORIGIN) as other:
        login(other, "mei")
        with pytest.raises(WebSocketDisconnect) as closed, other.websocket_connect(url):
            pass
        assert closed.value.code == 1008
        assert other.get(f"/attempts/{trainee}").status_code == 403
    with (
        TestClient(app, headers=SAME_ORIGIN) as anonymous,
        pytest.raises(WebSocketDisconnect),
        anonymous.websocket_connect(url),
    ):
        pass
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(url, headers={"origin": "http://evil.example"}),
    ):
        pass
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/attempts/999/ws"):
        pass
    assert len(stored(app, trainee)) == 1


def test_practice_hints_coach_without_the_answer_key(client: TestClient, trainee: int) -> None:
    # The shared pack writes no coaching lines of its own: each open criterion's kind has
    # one (evaluator/hints.py); its description, the answer key, is never a hint.
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        ws.send_json({"type": "hint"})
        hints = ws.receive_text()
        assert 'id="hints"' in hints
        assert "still need to ask the customer" in hints
        assert "Asks about allergies" not in hints


def test_the_persona_nudges_after_silence(app: FastAPI, client: TestClient, trainee: int) -> None:
    move_start_back(app, trainee, 61)
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        nudge = frames_until(ws, lambda frame: "data-seq" in frame)
        assert "Hello? Are you still there?" in nudge[-1]
        frames = say(ws, "Sorry for the wait. Do you take any other medication?", "n-1")
        assert seqs(frames) == [2, 3]
    messages = stored(app, trainee)
    assert [(m.kind, m.at) for m in messages[:2]] == [("opening", 0.0), ("nudge", 60.0)]


def test_the_time_limit_ends_and_grades_the_conversation(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        say(ws, "Hello, do you take any other medication?", "t-1")
    move_start_back(app, trainee, 601)
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        ended = frames_until(ws, lambda frame: 'id="feedback-link"' in frame)
        assert "Time ran out." in "".join(ended)
        late = say(ws, "Are you still there?", "t-2")
        assert "has ended" in late[-1]
    attempt = attempt_row(app, trainee)
    assert attempt.end_reason == "timeout"
    assert attempt.score is not None
    assert len(stored(app, trainee)) == 3


def test_two_tabs_see_the_same_conversation(app: FastAPI, client: TestClient, trainee: int) -> None:
    with (
        client.websocket_connect(f"/attempts/{trainee}/ws") as first,
        client.websocket_connect(f"/attempts/{trainee}/ws") as second,
    ):
        hello(first, 0)
        hello(second, 0)
        say(first, "Hello, do you take any other medication?", "tab-1")
        seen = frames_until(second, lambda frame: "amlodipine" in frame)
        assert seqs(seen) == [1, 2]


def test_typing_delay_shows_an_indicator(tmp_path: Path) -> None:
    slow = create_app(make_settings(tmp_path, reply_delay_s=0.05))
    add_user(slow, "tao", Role.TRAINEE)
    with TestClient(slow, headers=SAME_ORIGIN) as browser:
        login(browser, "tao")
        attempt_id = start_attempt(browser, PACK, SCENARIO)
        with browser.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
            frames = say(ws, "Hello, do you take any other medication?", "d-1")
    joined = "".join(frames)
    assert "Mr. Li is typing…" in joined
    # The input clears (ack) before the persona starts typing, and the reply comes last.
    assert joined.index('data-client-id="d-1"') < joined.index("is typing")
    assert joined.index("is typing") < joined.index("amlodipine")
    # Two frames: what is shown at once (line, ack, typing), then after the delay the reply
    # with the end-of-turn marker.
    assert len(frames) == 2
    assert "is typing" in frames[0] and "amlodipine" not in frames[0]
    assert "amlodipine" in frames[1] and 'data-turn="done"' in frames[1]


def test_a_chinese_conversation_runs_and_is_graded(app: FastAPI, client: TestClient) -> None:
    add_user(app, "mei")
    login(client, "mei")
    attempt_id = start_attempt(client, "aesthetics-consult-zh", "botox-breastfeeding")
    with client.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        frames = say(ws, "您好，欢迎咨询！请问您目前是否怀孕、备孕或在哺乳期？", "zh-1")
        assert seqs(frames)[:2] == [1, 2]
        assert 'lang="zh-CN"' in frames[0]
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda frame: 'id="feedback-link"' in frame)
    attempt = attempt_row(app, attempt_id)
    assert attempt.grade is not None and attempt.score is not None
    page = client.get(f"/attempts/{attempt_id}/feedback", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "反馈" in page.text


@pytest.mark.parametrize("database", [pytest.param("postgres", marks=needs_postgres)])
def test_a_conversation_on_postgresql(database: str, tmp_path: Path) -> None:
    with postgres_database(migrated=True) as url:
        app = create_app(make_settings(tmp_path, database_url=url))
        add_user(app, "tao")
        with TestClient(app, headers=SAME_ORIGIN) as browser:
            login(browser, "tao")
            attempt_id = start_attempt(browser, PACK, SCENARIO)
            with browser.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
                for index, line in enumerate(MODEL_ANSWER):
                    say(ws, line, f"pg-{index}")
            with browser.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
                assert seqs(hello(ws, 2))[:2] == [3, 4]
            feedback = browser.get(f"/attempts/{attempt_id}/feedback")
            assert 'id="score" class="score">100.0' in feedback.text
            assert "<svg" in browser.get("/history").text
        attempt = attempt_row(app, attempt_id)
        assert attempt.grade is not None and attempt.grade["passed"] is True
        app.state.sandbox.engine.dispose()


def test_finishing_at_once_grades_an_empty_conversation(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda frame: 'id="feedback-link"' in frame)
        ws.send_json({"type": "hint"})
        assert "has ended" in ws.receive_text()
    attempt = attempt_row(app, trainee)
    assert attempt.end_reason == "finished" and attempt.passed is False
    assert client.get(f"/attempts/{trainee}/feedback").status_code == 200


def test_an_open_practice_on_an_updated_pack_is_closed_ungraded(
    app: FastAPI, client: TestClient, trainee: int, tmp_path: Path
) -> None:
    updated = tmp_path / "updated"
    updated.mkdir()
    for source in SHARED_PACKS.glob("*.yaml"):
        text = source.read_text(encoding="utf-8").replace("version: 1", "version: 2", 1)
        (updated / source.name).write_text(text, encoding="utf-8")
    settings = app.state.sandbox.settings.model_copy(update={"packs": str(updated)})
    restarted = create_app(settings)
    with TestClient(restarted) as again:
        login(again, "tao")
        fresh = start_attempt(again, PACK, SCENARIO)
        assert fresh != trainee
        old = again.get(f"/attempts/{trainee}/feedback")
        assert "closed without a grade" in old.text
    assert attempt_row(app, trainee).end_reason == "superseded"
    assert attempt_row(app, fresh).pack_version == 2
