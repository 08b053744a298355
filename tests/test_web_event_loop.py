"""No handler blocks the event loop: a slow proctor request runs beside a chat turn.

The app is served by uvicorn in this process (a real event loop, real sockets), so the
proctor's CSV import can be made slow on purpose: it waits until the chat turn is over.
Were the handler to run on the event loop, the chat turn could not finish while it waits,
and the wait would end by its timeout instead of by the test's release."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import uvicorn
from exam_support import PACK, FakeClock, exam_fields
from fastapi import FastAPI
from server_support import free_port
from web_support import csrf_token, login
from websockets.sync.client import connect

from sandbox.storage.models import User
from sandbox.web.routes import proctor as proctor_routes
from sandbox.web.security import SESSION_COOKIE

WAIT_S = 10.0


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(WAIT_S)


@contextlib.contextmanager
def signed_in(url: str, name: str) -> Iterator[httpx.Client]:
    """A browser of the served app, signed in as `name`."""
    with httpx.Client(
        base_url=url, headers={"origin": url}, timeout=WAIT_S, follow_redirects=True
    ) as browser:
        login(browser, name)  # type: ignore[arg-type]  # the same calls as on a TestClient
        yield browser


def test_a_slow_csv_import_does_not_stall_a_chat_turn(
    app: FastAPI, clock: FakeClock, people: dict[str, User], monkeypatch: Any
) -> None:
    started, release = threading.Event(), threading.Event()
    released: list[bool] = []
    parse = proctor_routes.parse_written_scores

    def slow_parse(text: str, trainees: Any) -> Any:
        started.set()
        # Blocks its thread until the chat turn is over: a worker thread's, or the event
        # loop's if the handler ran there (then the turn cannot end, and this times out).
        released.append(release.wait(timeout=WAIT_S))
        return parse(text, trainees)

    monkeypatch.setattr(proctor_routes, "parse_written_scores", slow_parse)
    with serving(app) as url, signed_in(url, "pat") as pat, signed_in(url, "kim") as kim:
        page = pat.get("/proctor/exams/new")
        made = pat.post(
            "/proctor/exams",
            data={**exam_fields(clock, people), "csrf_token": csrf_token(page.text)},
        )
        exam_id = int(str(made.url).rsplit("/", 1)[1])
        brief = kim.get(f"/scenarios/{PACK}/late-insulin-delivery")
        opened = kim.post(
            f"/scenarios/{PACK}/late-insulin-delivery/attempts",
            data={"csrf_token": csrf_token(brief.text)},
        )
        attempt_id = int(str(opened.url).rsplit("/", 1)[1])
        exam_page = pat.get(f"/proctor/exams/{exam_id}")
        responses: list[httpx.Response] = []

        def post_import() -> None:
            responses.append(
                pat.post(
                    f"/proctor/exams/{exam_id}/written/import",
                    data={
                        "csrf_token": csrf_token(exam_page.text),
                        "csv_text": "trainee,score\ntao,81\nmei,77\n",
                    },
                )
            )

        importer = threading.Thread(target=post_import)
        importer.start()
        try:
            assert started.wait(WAIT_S), "the import did not reach its slow part"
            socket = connect(
                f"ws://127.0.0.1:{url.rsplit(':', 1)[1]}/attempts/{attempt_id}/ws",
                additional_headers={"Cookie": f"{SESSION_COOKIE}={kim.cookies[SESSION_COOKIE]}"},
                origin=url,
                open_timeout=WAIT_S,
            )
            with socket:
                socket.send('{"type": "say", "text": "Hello, how can I help?", "client_id": "c-1"}')
                turn = receive_until(socket, lambda frame: 'data-turn="done"' in frame)
            assert 'data-turn="done"' in turn
            assert not released, "the import finished before the chat turn"
        finally:
            release.set()
            importer.join(WAIT_S)
    assert released == [True], "the chat turn waited for the import"
    assert responses and responses[0].status_code == 200, responses
    assert "?imported=2" in str(responses[0].url)


def receive_until(socket: Any, done: Callable[[str], bool]) -> str:
    frames: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        frame = socket.recv(timeout=max(deadline - time.monotonic(), 0.01))
        frames.append(str(frame))
        if done(frames[-1]):
            break
    return "".join(frames)
