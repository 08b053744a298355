"""The health probe and the benchmark's echo socket."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from web_support import make_settings

from sandbox.storage.database import make_engine
from sandbox.web.app import create_app


def test_healthz_pings_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_says_when_the_database_is_gone(client: TestClient) -> None:
    client.app.state.sandbox.engine.dispose()  # type: ignore[attr-defined]
    # Nothing listens on port 1: the ping fails at once.
    client.app.state.sandbox.engine = make_engine(  # type: ignore[attr-defined]
        "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "database unreachable"}


def test_echo_socket_is_off_by_default(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/bench/echo") as ws:
        ws.receive_text()


def test_echo_socket_sends_frames_back(tmp_path: Path) -> None:
    echo_app = create_app(make_settings(tmp_path, bench_echo=True))
    with TestClient(echo_app) as echo_client, echo_client.websocket_connect("/bench/echo") as ws:
        for text in ("one", '{"type": "say", "text": "two"}'):
            ws.send_text(text)
            assert ws.receive_text() == text
