"""The chat socket's gate and limits: Origin allow-list and session before accept, size, rate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from starlette.websockets import WebSocketDisconnect
from web_support import (
    SAME_ORIGIN,
    add_user,
    csrf_token,
    login,
    make_settings,
    start_attempt,
)

from sandbox.storage.models import AttemptMessage
from sandbox.web.app import create_app
from sandbox.web.limits import SharedBuckets
from sandbox.web.security import SESSION_COOKIE

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"
NOTICE = re.compile(r'<p id="notice"[^>]*>([^<]*)</p>')


def stored_texts(app: FastAPI, attempt_id: int) -> list[str]:
    with Session(app.state.sandbox.engine) as session:
        rows = session.exec(
            select(AttemptMessage)
            .where(AttemptMessage.attempt_id == attempt_id)
            .order_by(col(AttemptMessage.seq))
        )
        return [row.text for row in rows]


def refused_at_handshake(client: TestClient, url: str, **kwargs: object) -> int:
    """The close code of a handshake the server refused before accepting it.

    With Starlette's test client, entering the session raises only when the server closed
    the socket *before* accept; a socket accepted and then closed would enter normally.
    """
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url, **kwargs):
        pass
    return refused.value.code


def notice_after(ws: object, frame: dict[str, object]) -> str:
    """Send a frame; return the text of the next notice the server sends."""
    ws.send_json(frame)  # type: ignore[attr-defined]
    while True:
        found = NOTICE.search(ws.receive_text())  # type: ignore[attr-defined]
        if found and found.group(1):
            return found.group(1)


def say_until_ack(ws: object, text: str, client_id: str) -> None:
    ws.send_json({"type": "say", "text": text, "client_id": client_id})  # type: ignore[attr-defined]
    while f'data-client-id="{client_id}"' not in ws.receive_text():  # type: ignore[attr-defined]
        pass


@pytest.fixture
def attempt_id(app: FastAPI, client: TestClient) -> int:
    add_user(app, "tao")
    login(client, "tao")
    return start_attempt(client, PACK, SCENARIO)


# --- Origin -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://testserver.evil.example", "https://testserver:8443", "null"],
)
def test_a_foreign_origin_is_refused_before_accept(
    app: FastAPI, client: TestClient, attempt_id: int, origin: str
) -> None:
    url = f"/attempts/{attempt_id}/ws"
    assert refused_at_handshake(client, url, headers={"origin": origin}) == 1008
    assert stored_texts(app, attempt_id)[1:] == []


def test_a_handshake_without_origin_is_refused(app: FastAPI, attempt_id: int) -> None:
    # The owner's own session, but no Origin header: not a page of ours.
    with TestClient(app) as no_origin:
        login(no_origin, "tao")
        assert refused_at_handshake(no_origin, f"/attempts/{attempt_id}/ws") == 1008


def test_the_own_host_is_allowed_by_default(client: TestClient, attempt_id: int) -> None:
    with client.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        ws.send_json({"type": "hello", "last_seq": -1})
        assert 'data-seq="0"' in ws.receive_text()


def test_the_allow_list_replaces_the_own_host(tmp_path: Path) -> None:
    listed = create_app(
        make_settings(tmp_path, allowed_origins="https://sandbox.example.com, https://b.example")
    )
    add_user(listed, "tao")
    with TestClient(listed, headers=SAME_ORIGIN) as browser:
        login(browser, "tao")
        attempt = start_attempt(browser, PACK, SCENARIO)
        url = f"/attempts/{attempt}/ws"
        # The app's own host (behind a proxy: its inner address) is no longer enough.
        assert refused_at_handshake(browser, url) == 1008
        with browser.websocket_connect(
            url, headers={"origin": "https://sandbox.example.com"}
        ) as ws:
            ws.send_json({"type": "hello", "last_seq": -1})
            assert 'data-seq="0"' in ws.receive_text()


def test_a_bad_allow_list_stops_the_start_with_the_setting_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SANDBOX_ALLOWED_ORIGINS"):
        make_settings(tmp_path, allowed_origins="sandbox.example.com")


# --- the session, before accept ------------------------------------------------------------------


def test_no_session_no_socket(app: FastAPI, attempt_id: int) -> None:
    with TestClient(app, headers=SAME_ORIGIN) as anonymous:
        assert refused_at_handshake(anonymous, f"/attempts/{attempt_id}/ws") == 1008
    with TestClient(app, headers=SAME_ORIGIN, cookies={SESSION_COOKIE: "forged"}) as forged:
        assert refused_at_handshake(forged, f"/attempts/{attempt_id}/ws") == 1008


def test_a_logged_out_cookie_opens_no_socket(
    app: FastAPI, client: TestClient, attempt_id: int
) -> None:
    old_cookie = client.cookies.get(SESSION_COOKIE)
    home = client.get("/")
    client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    with TestClient(app, headers=SAME_ORIGIN, cookies={SESSION_COOKIE: old_cookie or ""}) as thief:
        assert refused_at_handshake(thief, f"/attempts/{attempt_id}/ws") == 1008


def test_another_users_session_opens_no_socket(app: FastAPI, attempt_id: int) -> None:
    add_user(app, "mei")
    with TestClient(app, headers=SAME_ORIGIN) as other:
        login(other, "mei")
        assert refused_at_handshake(other, f"/attempts/{attempt_id}/ws") == 1008
        assert refused_at_handshake(other, "/attempts/424242/ws") == 1008


# --- message size ------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [2001, 50_000, 1_000_000])
def test_an_oversized_message_gets_a_clear_notice_and_the_socket_stays(
    app: FastAPI, client: TestClient, attempt_id: int, length: int
) -> None:
    limit = app.state.sandbox.settings.message_max_chars
    with client.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        notice = notice_after(ws, {"type": "say", "text": "x" * length, "client_id": "big"})
        assert f"the limit is {limit}" in notice
        assert "x" * 100 not in notice
        say_until_ack(ws, "Hello, do you take any other medication?", "ok-1")
    texts = stored_texts(app, attempt_id)
    assert texts[1] == "Hello, do you take any other medication?"
    assert all(len(text) <= limit for text in texts)


# --- rate per attempt ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_frames_over_the_rate_get_a_notice_and_the_connection_is_kept(tmp_path: Path) -> None:
    clock = Clock()
    limited = create_app(make_settings(tmp_path, chat_burst=3, chat_per_minute=6))
    limited.state.sandbox.chat_limits = SharedBuckets(3, 6, clock)
    add_user(limited, "tao")
    with TestClient(limited, headers=SAME_ORIGIN) as browser:
        login(browser, "tao")
        attempt = start_attempt(browser, PACK, SCENARIO)
        with browser.websocket_connect(f"/attempts/{attempt}/ws") as ws:
            for index in range(3):
                say_until_ack(ws, f"Hello number {index}, any other medication?", f"r-{index}")
            notice = notice_after(ws, {"type": "say", "text": "One too many", "client_id": "r-x"})
            assert "faster than anyone can type" in notice
            clock.now += 10  # six a minute: one frame every ten seconds
            say_until_ack(ws, "After a pause, any allergies?", "r-4")
            notice = notice_after(ws, {"type": "say", "text": "Again too fast", "client_id": "r-y"})
            assert "faster than anyone can type" in notice
    texts = stored_texts(limited, attempt)
    assert "One too many" not in texts and "Again too fast" not in texts
    assert "After a pause, any allergies?" in texts
