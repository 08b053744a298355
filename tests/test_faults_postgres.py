"""PostgreSQL connections dropped mid-run (pg_terminate_backend) are recovered: idle ones by
the pool's pre-ping, one lost in the middle of a chat turn by running the turn again.
Runs when SANDBOX_TEST_DATABASE_URL names a server (see tests/web_support.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select
from starlette.testclient import WebSocketTestSession
from web_support import (
    POSTGRES_URL,
    SAME_ORIGIN,
    add_user,
    login,
    make_settings,
    needs_postgres,
    postgres_database,
    start_attempt,
)

from sandbox.storage import turns
from sandbox.storage.models import AttemptMessage
from sandbox.web.app import create_app

pytestmark = needs_postgres

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"


def say(ws: WebSocketTestSession, text_: str, client_id: str) -> list[str]:
    """Send a line; every frame up to its acknowledgement (a notice instead fails)."""
    ws.send_json({"type": "say", "text": text_, "client_id": client_id})
    frames: list[str] = []
    while f'data-client-id="{client_id}"' not in (frame := ws.receive_text()):
        assert "went wrong" not in frame, frame
        frames.append(frame)
    return frames


def terminate(database: str, pid: int | None = None) -> int:
    """End the database's server processes (one, or all but ours); wait until they are gone."""
    assert POSTGRES_URL is not None
    admin = create_engine(
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            if pid is not None:
                ended = connection.execute(
                    text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}
                )
                return int(bool(ended.scalar()))
            rows = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )
            return sum(1 for row in rows if row[0])
    finally:
        admin.dispose()


def stored_texts(engine: Any, attempt_id: int) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(AttemptMessage)
            .where(AttemptMessage.attempt_id == attempt_id)
            .order_by(col(AttemptMessage.seq))
        )
        return [row.text for row in rows]


def test_dropped_connections_are_recovered_between_and_within_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_database(migrated=True) as url:
        database = make_url(url).database
        assert database is not None
        app = create_app(make_settings(tmp_path, database_url=url))
        engine = app.state.sandbox.engine
        add_user(app, "tao")
        try:
            with TestClient(app, headers=SAME_ORIGIN) as browser:
                login(browser, "tao")
                attempt_id = start_attempt(browser, PACK, SCENARIO)
                with browser.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
                    say(ws, "Hello, are you taking any other medication?", "pg-1")

                    # Every pooled connection dies while idle (a database restart).
                    assert terminate(database) >= 1
                    say(ws, "Do you have any allergies?", "pg-2")
                    assert browser.get("/", follow_redirects=False).status_code == 200

                    # A connection dies in the middle of a turn, after its check and
                    # before its INSERT (which goes to the driver's own connection,
                    # storage/turns.py, so no SQLAlchemy event sees it).
                    dropped: list[Any] = []
                    insert = turns._insert

                    def drop_once(session: Any, connection: Any, *rest: Any) -> None:
                        if not dropped:
                            dbapi_connection = connection.connection.dbapi_connection
                            dropped.append(dbapi_connection)
                            terminate(database, dbapi_connection.info.backend_pid)
                        insert(session, connection, *rest)

                    invalidated: list[Any] = []

                    @event.listens_for(engine, "invalidate")
                    def seen(dbapi_connection: Any, *_: Any) -> None:
                        invalidated.append(dbapi_connection)

                    monkeypatch.setattr(turns, "_insert", drop_once)
                    say(ws, "A saline nasal spray is a safer choice.", "pg-3")
                    monkeypatch.setattr(turns, "_insert", insert)
                    assert dropped, "the turn never reached its INSERT"
                    # The dead connection was invalidated: the pool will not lend it again.
                    assert any(c is dropped[0] for c in invalidated)
                    say(ws, "No more than 4 g of paracetamol a day.", "pg-4")
            texts = stored_texts(engine, attempt_id)
            for line in (
                "Hello, are you taking any other medication?",
                "Do you have any allergies?",
                "A saline nasal spray is a safer choice.",
                "No more than 4 g of paracetamol a day.",
            ):
                assert texts.count(line) == 1, line
        finally:
            engine.dispose()
