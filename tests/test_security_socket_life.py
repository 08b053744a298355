"""Open sockets after the handshake: the session and role checked again, bad frames, sockets
and frames per attempt, the Origin's scheme. Real sockets (Starlette's test client) on SQLite
and PostgreSQL; a real `sandbox serve` where the server's own log or proxy headers matter."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from exam_support import (
    COLD,
    PACK,
    FakeClock,
    chat,
    frames_until,
    make_exam,
    messages_of,
    say,
    start,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_support import Server, server_env
from sqlmodel import Session, col, delete
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from web_support import (
    SAME_ORIGIN,
    SHARED_PACKS,
    csrf_token,
    make_settings,
)
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sandbox.config import Settings
from sandbox.exams.policy import ExamRules
from sandbox.storage.database import make_engine
from sandbox.storage.exams import create_exam
from sandbox.storage.models import LoginSession, Role, User, utcnow
from sandbox.web.limits import SharedBuckets
from sandbox.web.security import SESSION_COOKIE, Signer, open_session

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


ASK = "Hello, do you take any other medication?"
MALFORMED = "The browser sent something the chat did not understand"
SIGNED_OUT = "You are no longer signed in"
ROLE_GONE = "Your account may no longer see this page"
NOTICE = re.compile(r'<p id="notice"[^>]*>([^<]*)</p>')
WAIT_S = 15.0  # a frame that does not come within this is not coming
RECHECK_S = 0.2


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The app's settings on each backend, re-checking open sockets every 0.2 s."""
    return make_settings(tmp_path, database_url=database_url, socket_recheck_s=RECHECK_S)


# --- reading a socket without waiting forever ---------------------------------------------------


def next_message(ws: WebSocketTestSession, wait_s: float = WAIT_S) -> dict[str, Any]:
    """The next thing the server sent (a frame or the close), or a failure after `wait_s`."""

    async def receive() -> dict[str, Any]:
        with anyio.fail_after(wait_s):
            message: dict[str, Any] = await ws._send_rx.receive()
            return message

    try:
        return ws.portal.call(receive)
    except TimeoutError:
        pytest.fail(f"the server sent nothing within {wait_s} s")


def until_closed(ws: WebSocketTestSession) -> tuple[list[str], int, str]:
    """Every frame until the server closes the socket; the frames, close code and reason."""
    frames: list[str] = []
    for _ in range(100):
        message = next_message(ws)
        if message["type"] == "websocket.close":
            return frames, message["code"], message.get("reason", "")
        frames.append(message.get("text") or "")
    pytest.fail(f"still open after 100 frames: {frames[-3:]}")


def next_notice(ws: WebSocketTestSession) -> str:
    """The next notice's text; fails on a close or when the server sends no notice."""
    for _ in range(100):
        message = next_message(ws)
        assert message["type"] == "websocket.send", f"closed instead: {message}"
        found = NOTICE.search(message.get("text") or "")
        if found and found.group(1):
            return found.group(1)
    pytest.fail("no notice in 100 frames")


def trainee_lines(app: FastAPI, attempt_id: int) -> list[str]:
    return [m.text for m in messages_of(app, attempt_id) if m.role == "trainee"]


def practice(browser: TestClient) -> int:
    """A practice attempt of the cold-remedy scenario, started through its brief page."""
    pack, scenario = COLD.split("/")
    brief = browser.get(f"/scenarios/{pack}/{scenario}")
    started = browser.post(
        f"/scenarios/{pack}/{scenario}/attempts",
        data={"csrf_token": csrf_token(brief.text)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    return int(started.headers["location"].rsplit("/", 1)[1])


def log_out(browser: TestClient) -> None:
    home = browser.get("/")
    assert browser.post("/logout", data={"csrf_token": csrf_token(home.text)}).status_code == 200


def monitor(browser: TestClient, exam_id: int) -> Any:
    return browser.websocket_connect(f"/proctor/exams/{exam_id}/monitor/ws", headers=SAME_ORIGIN)


# --- item: sockets outlive logout and role changes ------------------------------------------------


def test_a_chat_socket_stores_nothing_after_its_logout(
    app: FastAPI, browsers: Callable[[str], TestClient]
) -> None:
    tao = browsers("tao")
    attempt_id = practice(tao)
    with chat(tao, attempt_id) as ws:
        assert 'id="ack"' in say(ws, ASK, "before")
        log_out(tao)  # the same browser, another tab
        ws.send_json({"type": "say", "text": "Any allergies?", "client_id": "after"})
        frames, code, reason = until_closed(ws)
    assert (code, reason) == (1008, "signed-out")
    assert SIGNED_OUT in "".join(frames) and 'data-closed="true"' in frames[-1]
    assert trainee_lines(app, attempt_id) == [ASK]


def test_a_session_ended_on_another_worker_closes_a_silent_chat_socket(
    app: FastAPI, browsers: Callable[[str], TestClient], people: dict[str, User]
) -> None:
    tao = browsers("tao")
    attempt_id = practice(tao)
    with chat(tao, attempt_id) as ws:
        assert 'id="ack"' in say(ws, ASK, "before")
        # Another worker's logout: the row goes, this process is not told.
        with Session(app.state.sandbox.engine) as session:
            session.exec(delete(LoginSession).where(col(LoginSession.user_id) == people["tao"].id))
            session.commit()
        began = time.monotonic()
        frames, code, reason = until_closed(ws)  # the browser sends nothing meanwhile
    assert (code, reason) == (1008, "signed-out")
    assert SIGNED_OUT in "".join(frames)
    assert time.monotonic() - began < 5.0  # a few recheck intervals, not the session's age


def test_a_proctor_demoted_by_the_cli_stops_getting_monitor_frames(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
    settings: Settings,
) -> None:
    exam_id = make_exam(proctor, clock, people)
    with monitor(proctor, exam_id) as live:
        assert "monitor-rows" in next_message(live)["text"]
        # `sandbox users role` in a process of its own, as an administrator runs it.
        env = {key: value for key, value in os.environ.items() if not key.startswith("SANDBOX_")}
        env.update(
            SANDBOX_DATABASE_URL=settings.database_url, SANDBOX_VAR_DIR=str(settings.var_dir)
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sandbox",
                "users",
                "role",
                "pat",
                "trainee",
                "--reason",
                "left the exam team",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        frames, code, reason = until_closed(live)
    assert (code, reason) == (1008, "role-changed")
    assert ROLE_GONE in frames[-1] and 'id="monitor-notice"' in frames[-1]
    # A candidate's news after that reaches nobody: the socket is gone, and a new one is refused.
    start(browsers("tao"), exam_id)
    with pytest.raises(WebSocketDisconnect) as refused, monitor(proctor, exam_id):
        pass
    assert refused.value.code == 1008


def test_a_proctor_who_logs_out_stops_getting_monitor_frames(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    with monitor(proctor, exam_id) as live:
        next_message(live)
        log_out(proctor)
        frames, code, reason = until_closed(live)
    assert (code, reason) == (1008, "signed-out")
    assert SIGNED_OUT in frames[-1]


def test_a_session_still_live_keeps_its_sockets(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people)
    with monitor(proctor, exam_id) as live:
        next_message(live)
        tao = browsers("tao")
        attempt_id = start(tao, exam_id)
        time.sleep(RECHECK_S * 3)  # several checks pass
        with chat(tao, attempt_id) as ws:
            assert 'id="ack"' in say(ws, ASK, "kept-1")
            time.sleep(RECHECK_S * 3)
            assert 'id="ack"' in say(ws, "Any allergies?", "kept-2")
        frames_until(live, lambda f: 'messages-count">2<' in f)


# --- item: bad frames ------------------------------------------------------------------------------


BAD_FRAMES = [
    '{"type": "hello", "last_seq": 1e23}',
    '{"type": "hello", "last_seq": 100000000000000000000000}',
    '{"type": "hello", "last_seq": -100000000000000000000000}',
    '{"type": "hello", "last_seq": "7"}',
    '{"type": "say", "text": "\\ud800 a lone surrogate", "client_id": "s-1"}',
    '{"type": "say", "text": "a lone \\udfff at the end", "client_id": "s-2"}',
    '{"type": "say", "text": "hello", "client_id": "\\udc00"}',
    '{"type": "say", "text": "a NUL \\u0000 inside", "client_id": "s-3"}',
]


@pytest.mark.parametrize("raw", BAD_FRAMES)
def test_a_bad_frame_gets_the_malformed_notice_and_the_socket_stays(
    app: FastAPI, browsers: Callable[[str], TestClient], raw: str
) -> None:
    tao = browsers("tao")
    attempt_id = practice(tao)
    with chat(tao, attempt_id) as ws:
        ws.send_text(raw)
        assert MALFORMED in next_notice(ws)
        assert 'id="ack"' in say(ws, ASK, "after-bad")
    assert trainee_lines(app, attempt_id) == [ASK]


def test_a_binary_frame_gets_the_malformed_notice_and_the_socket_stays(
    app: FastAPI, browsers: Callable[[str], TestClient]
) -> None:
    tao = browsers("tao")
    attempt_id = practice(tao)
    with chat(tao, attempt_id) as ws:
        ws.send_bytes(b'{"type": "say", "text": "in binary", "client_id": "b-1"}')
        assert MALFORMED in next_notice(ws)
        assert 'id="ack"' in say(ws, ASK, "after-binary")
    assert trainee_lines(app, attempt_id) == [ASK]


# --- item: sockets and frames per attempt ------------------------------------------------------


def test_the_socket_over_the_cap_of_an_attempt_is_closed_with_a_notice(
    app: FastAPI, browsers: Callable[[str], TestClient]
) -> None:
    cap = 4  # SANDBOX_CHAT_SOCKETS_PER_ATTEMPT's default
    tao = browsers("tao")
    attempt_id = practice(tao)
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(chat(tao, attempt_id)) for _ in range(cap)]
        with chat(tao, attempt_id) as extra:
            frames, code, reason = until_closed(extra)
        assert (code, reason) == (1008, "too-many-sockets")
        assert "already open in 4 tabs or windows" in frames[-1]
        for index, ws in enumerate(sockets):  # the open ones are unharmed
            assert 'id="ack"' in say(ws, f"Question {index}: any other medicine?", f"cap-{index}")
        sockets[0].close()
        stack.pop_all()
        with chat(tao, attempt_id) as again:  # one closed: a new one fits
            assert 'id="ack"' in say(again, "And any allergies?", "cap-again")
        for ws in sockets[1:]:
            ws.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_is_shared_by_the_sockets_of_an_attempt(
    app: FastAPI, browsers: Callable[[str], TestClient]
) -> None:
    clock = Clock()
    app.state.sandbox.chat_limits = SharedBuckets(3, 6, clock)
    tao = browsers("tao")
    attempt_id = practice(tao)
    with chat(tao, attempt_id) as one, chat(tao, attempt_id) as two:
        assert 'id="ack"' in say(one, "First: any other medicine?", "r-1")
        assert 'id="ack"' in say(two, "Second: any allergies?", "r-2")
        assert 'id="ack"' in say(one, "Third: how old are you?", "r-3")
        two.send_json({"type": "say", "text": "Fourth, too fast", "client_id": "r-4"})
        assert "faster than anyone can type" in next_notice(two)
    # New sockets on the same attempt do not refill the bucket.
    with chat(tao, attempt_id) as three:
        three.send_json({"type": "say", "text": "Fifth, still too fast", "client_id": "r-5"})
        assert "faster than anyone can type" in next_notice(three)
        clock.now += 10  # six a minute: one more after ten seconds
        assert 'id="ack"' in say(three, "After a pause: any pain?", "r-6")
    lines = trainee_lines(app, attempt_id)
    assert "Fourth, too fast" not in lines and "Fifth, still too fast" not in lines
    assert lines[-1] == "After a pause: any pain?"


# --- item: the Origin's scheme -----------------------------------------------------------------------


def test_an_https_origin_is_refused_on_a_plain_http_app(
    app: FastAPI, browsers: Callable[[str], TestClient]
) -> None:
    tao = browsers("tao")
    attempt_id = practice(tao)
    url = f"/attempts/{attempt_id}/ws"
    for origin in ("https://testserver", "https://testserver:80"):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            tao.websocket_connect(url, headers={"origin": origin}),
        ):
            pass
        assert refused.value.code == 1008
    # Over wss (the app served over TLS) it is the other way round.
    secure_url = f"wss://testserver{url}"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        tao.websocket_connect(secure_url, headers={"origin": "http://testserver"}),
    ):
        pass
    assert refused.value.code == 1008
    with tao.websocket_connect(secure_url, headers={"origin": "https://testserver"}) as ws:
        assert 'id="ack"' in say(ws, ASK, "over-tls")


# --- through a real `sandbox serve`: its log, and a trusted proxy's scheme -------------------------


@dataclass
class Served:
    """A running `sandbox serve` with a proctor, a trainee, an exam and a practice attempt."""

    server: Server
    exam_id: int
    attempt_id: int
    cookies: dict[str, str]  # user name -> signed session cookie

    def socket(self, path: str, user: str, **headers: str) -> Any:
        headers.setdefault("Origin", self.server.url)
        return connect(
            f"ws://127.0.0.1:{self.server.port}{path}",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={self.cookies[user]}", **headers},
            origin=None,
            open_timeout=WAIT_S,
        )


@contextlib.contextmanager
def served(tmp_path: Path, **settings: str) -> Iterator[Served]:
    server = Server(tmp_path, server_env(tmp_path, packs=str(SHARED_PACKS), **settings))
    server.start()
    try:
        options = Settings(
            database_url=f"sqlite:///{tmp_path / 'sandbox.db'}", var_dir=tmp_path / "var"
        )
        signer = Signer(options.resolved_secret_key(), 3600)
        engine = make_engine(options.database_url)
        with Session(engine, expire_on_commit=False) as session:
            pat = User(name="pat", role=Role.PROCTOR, password_hash="-")
            tao = User(name="tao", role=Role.TRAINEE, password_hash="-")
            session.add_all([pat, tao])
            session.flush()
            now = utcnow()
            exam = create_exam(
                session=session,
                name="Served",
                time_limit_s=600,
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(hours=1),
                rules=ExamRules(),
                scenarios=[tuple(COLD.split("/"))],  # type: ignore[list-item]
                candidate_ids=[tao.id or 0],
                cohort=None,
                created_by=pat.id,
            )
            cookies = {
                user.name: signer.sign_session(
                    open_session(session=session, user=user, max_age_s=3600).id
                )
                for user in (pat, tao)
            }
            session.commit()
            assert exam.id is not None
            exam_id = exam.id
        engine.dispose()
        with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: cookies["tao"]}) as tao_web:
            # Practice of a scenario that is not the exam's: the exam keeps its own closed to
            # its candidate (web/practice.py).
            pack, scenario = PACK, "late-insulin-delivery"
            brief = tao_web.get(f"/scenarios/{pack}/{scenario}")
            started = tao_web.post(
                f"/scenarios/{pack}/{scenario}/attempts",
                data={"csrf_token": csrf_token(brief.text)},
            )
            assert started.status_code == 303, started.text
            attempt_id = int(started.headers["location"].rsplit("/", 1)[1])
        yield Served(server, exam_id, attempt_id, cookies)
    finally:
        server.stop()


def hang_up(ws: Any) -> None:
    """Go away without a closing handshake, as a closed laptop lid does."""
    ws.socket.shutdown(socket.SHUT_RDWR)
    ws.socket.close()


def test_sockets_that_go_away_at_any_moment_log_no_traceback(tmp_path: Path) -> None:
    with served(tmp_path) as app:
        monitor_path = f"/proctor/exams/{app.exam_id}/monitor/ws"
        chat_path = f"/attempts/{app.attempt_id}/ws"
        for _ in range(3):
            with app.socket(monitor_path, "pat"):
                pass  # closed before the table is sent
            with app.socket(monitor_path, "pat") as ws:
                hang_up(ws)
            with app.socket(monitor_path, "pat") as ws:
                ws.recv(timeout=WAIT_S)
                ws.send(b"\x00binary")  # ignored, like any frame to the monitor
                ws.send("text")
            with app.socket(chat_path, "tao"):
                pass
            with app.socket(chat_path, "tao") as ws:
                hang_up(ws)
        with app.socket(monitor_path, "pat") as ws:  # the server is still fine
            assert "monitor-rows" in str(ws.recv(timeout=WAIT_S))
        with app.socket(chat_path, "tao") as ws:
            ws.send(b"binary")
            assert MALFORMED in str(ws.recv(timeout=WAIT_S))
            ws.send(json.dumps({"type": "hello", "last_seq": -1}))
            assert 'data-seq="0"' in str(ws.recv(timeout=WAIT_S))
        time.sleep(1)  # let the server finish with the last ones
        log = app.server.log_path.read_text("utf-8", errors="replace")
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-4000:]
    assert "WebSocket /proctor/exams" in log  # the log was captured


@pytest.mark.parametrize(
    ("trusted", "forwarded", "origin_scheme", "accepted"),
    [
        ("127.0.0.1", "https", "https", True),
        ("127.0.0.1", "https", "http", False),
        ("127.0.0.1", None, "https", False),
        ("127.0.0.1", None, "http", True),
        ("10.9.8.7", "https", "https", False),  # a proxy not trusted: its header is not believed
    ],
)
def test_the_origin_scheme_follows_a_trusted_proxys_forwarded_proto(
    tmp_path: Path, trusted: str, forwarded: str | None, origin_scheme: str, accepted: bool
) -> None:
    with served(tmp_path, forwarded_allow_ips=trusted) as app:
        headers = {"Origin": f"{origin_scheme}://127.0.0.1:{app.server.port}"}
        if forwarded:
            headers["X-Forwarded-Proto"] = forwarded
        path = f"/attempts/{app.attempt_id}/ws"
        if accepted:
            with app.socket(path, "tao", **headers) as ws:
                ws.send(json.dumps({"type": "hello", "last_seq": -1}))
                assert 'data-seq="0"' in str(ws.recv(timeout=WAIT_S))
        else:
            with pytest.raises(InvalidStatus) as refused, app.socket(path, "tao", **headers):
                pass
            assert refused.value.response.status_code == 403
