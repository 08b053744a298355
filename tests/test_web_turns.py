"""The chat's fast path: turns from the kept engine state, stored in batches, and the full
path taking over whenever the database says something the kept state does not know."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlmodel import Session
from test_web_chat import MODEL_ANSWER, PACK, SCENARIO, attempt_row, say, seqs, stored, trainee
from web_support import (
    SAME_ORIGIN,
    add_user,
    login,
    make_settings,
    needs_postgres,
    postgres_database,
)
from web_support import start_attempt as start_through_page

from sandbox.conversations import cache, live
from sandbox.conversations.cache import TurnBatcher
from sandbox.engine.conversation import Conversation
from sandbox.storage import sqlite_writers, turns
from sandbox.storage.attempts import list_messages, start_attempt
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.turns import Head, PendingTurn, TurnLine, store_turns
from sandbox.web.app import create_app

__all__ = ["trainee"]


def count_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count full-path loads (every stored message read and replayed)."""
    calls: list[int] = []
    original = live.load

    def counting(*args: Any, **kwargs: Any) -> live.Live:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(live, "load", counting)
    return calls


def play(client: TestClient, attempt_id: int) -> None:
    with client.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        for index, line in enumerate(MODEL_ANSWER):
            say(ws, line, f"c-{index}")


def transcript(app: FastAPI, attempt_id: int) -> list[tuple[Any, ...]]:
    # Everything but the times, which depend on the moment each message arrived.
    return [(m.seq, m.role, m.text, m.kind, m.client_id) for m in stored(app, attempt_id)]


def test_fast_turns_store_and_grade_exactly_as_the_full_path(
    app: FastAPI, client: TestClient, trainee: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = count_loads(monkeypatch)
    play(client, trainee)
    fast_loads = len(loads)
    # The same conversation again with nothing kept between turns: every turn loads.
    second = start_second_attempt(app, trainee)
    monkeypatch.setattr(cache.Resume, "of", classmethod(lambda cls, live: None))
    loads.clear()
    play(client, second)
    assert len(loads) >= len(MODEL_ANSWER)
    # Kept state: the socket's timer loads once when it opens (the first turn may load
    # too if it comes first), and the closing turn goes the full path to grade.
    assert fast_loads <= 3
    assert transcript(app, trainee) == transcript(app, second)
    first_grade, second_grade = attempt_row(app, trainee).grade, attempt_row(app, second).grade
    assert first_grade is not None and second_grade is not None
    assert first_grade["score"] == second_grade["score"] == 100.0
    assert first_grade["criteria"] == second_grade["criteria"]


def start_second_attempt(app: FastAPI, first: int) -> int:
    state = app.state.sandbox
    with Session(state.engine, expire_on_commit=False) as session:
        attempt = session.get(Attempt, first)
        assert attempt is not None
        user = session.get(User, attempt.user_id)
        assert user is not None
        found = state.library.find(PACK, SCENARIO)
        second = start_attempt(
            session=session,
            user=user,
            pack_id=PACK,
            pack_version=found[0].version,
            scenario_id=SCENARIO,
            time_limit_s=attempt.time_limit_s,
            opening=found[1].opening,
        )
        session.commit()
        assert second.id is not None
        return second.id


def another_worker_says(app: FastAPI, attempt_id: int, text: str) -> None:
    """A turn stored by another process: the full path on its own session."""
    state = app.state.sandbox
    with Session(state.engine, expire_on_commit=False) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        outcome = state.conversations.say(session, attempt, text, "elsewhere")
        assert [m.seq for m in outcome.new_messages] == [3, 4]


def test_a_turn_stored_elsewhere_sends_the_next_one_through_the_database(
    app: FastAPI, client: TestClient, trainee: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        assert seqs(say(ws, "Hello, how can I help you today?", "w-1")) == [1, 2]
        # Another worker takes a turn on this attempt: the fact is revealed there.
        another_worker_says(app, trainee, "Are you taking any other medication?")
        loads = count_loads(monkeypatch)
        frames = say(ws, "Do you take any other medication at all?", "w-2")
        # Refused by the batch's check, rebuilt from the database, stored after theirs.
        assert seqs(frames) == [5, 6]
        assert len(loads) == 1
        # The rebuilt persona knows the fact is out: the fallback, not the fact again.
        assert "amlodipine" not in "".join(frames)
        # And from there on the kept state is used again.
        assert seqs(say(ws, "I see. Do you have any allergies?", "w-3")) == [7, 8]
        assert len(loads) == 1
    assert [m.seq for m in stored(app, trainee)] == list(range(9))


def test_an_attempt_ended_elsewhere_takes_no_more_messages(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    state = app.state.sandbox
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        say(ws, "Hello, how can I help you today?", "e-1")
        with Session(state.engine, expire_on_commit=False) as session:
            attempt = session.get(Attempt, trainee)
            assert attempt is not None
            state.conversations.finish(session, attempt)
        count = len(stored(app, trainee))
        frames = say(ws, "Are you still there?", "e-2")
        assert "has ended" in frames[-1]
    assert len(stored(app, trainee)) == count


def test_a_resent_message_is_acknowledged_and_stored_once(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        say(ws, "Hello, how can I help you today?", "r-1")
        again = say(ws, "Hello, how can I help you today?", "r-1")
        assert seqs(again) == [] and 'data-client-id="r-1"' in again[0]
    assert [m.client_id for m in stored(app, trainee)] == [None, "r-1", None]


# ---------------------------------------------------------------------------- storage


def engine_with_attempts(database_url: str, count: int) -> tuple[Engine, list[Head]]:
    engine = make_engine(database_url)
    upgrade(engine)
    heads: list[Head] = []
    with Session(engine, expire_on_commit=False) as session:
        user = User(name="batch", role=Role.TRAINEE, password_hash="-")
        session.add(user)
        session.flush()
        for _ in range(count):
            attempt = start_attempt(
                session=session,
                user=user,
                pack_id=PACK,
                pack_version=1,
                scenario_id=SCENARIO,
                time_limit_s=600.0,
                opening="Hi.",
            )
            heads.append(Head(attempt.started_at, attempt.time_limit_s, 1))
        session.commit()
    with Session(engine) as session:  # the started_at as read back from the database
        attempts = [session.get(Attempt, i + 1) for i in range(count)]
        heads = [Head(a.started_at, a.time_limit_s, 1) for a in attempts if a is not None]
    return engine, heads


def a_turn(attempt_id: int, head: Head, client_id: str | None = None) -> PendingTurn:
    lines = [
        TurnLine(head.count, "trainee", "Hello there.", 5.0, "trainee", client_id),
        TurnLine(head.count + 1, "persona", "Hi.", 5.0, "fallback"),
    ]
    return PendingTurn(attempt_id, head, lines)


def check_store_turns(database_url: str) -> None:
    engine, heads = engine_with_attempts(database_url, 3)
    try:
        stale = Head(heads[1].started_at, heads[1].time_limit_s, 5)
        verdicts = store_turns(engine, [a_turn(1, heads[0]), a_turn(2, stale), a_turn(3, heads[2])])
        assert verdicts == [True, False, True]
        # Two turns on one attempt, both expecting seq 3: the check passes for both, the
        # unique seq refuses the second, and only the turn at fault is refused.
        moved = Head(heads[0].started_at, heads[0].time_limit_s, 3)
        verdicts = store_turns(engine, [a_turn(1, moved, "x"), a_turn(1, moved, "y")])
        assert verdicts == [True, False]
        with Session(engine) as session:
            seqs_1 = [m.seq for m in conversations_messages(session, 1)]
            seqs_2 = [m.seq for m in conversations_messages(session, 2)]
        assert seqs_1 == [0, 1, 2, 3, 4] and seqs_2 == [0]
        # An ended attempt takes nothing.
        with Session(engine) as session:
            attempt = session.get(Attempt, 3)
            assert attempt is not None
            attempt.ended_at = attempt.started_at
            session.add(attempt)
            session.commit()
        assert store_turns(engine, [a_turn(3, Head(heads[2].started_at, 600.0, 3))]) == [False]
    finally:
        engine.dispose()


def conversations_messages(session: Session, attempt_id: int) -> list[Any]:
    return list_messages(session=session, attempt_id=attempt_id)


def test_store_turns_checks_each_turn_on_sqlite(tmp_path: Path) -> None:
    check_store_turns(f"sqlite:///{tmp_path / 'turns.db'}")


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=needs_postgres)])
def test_store_turns_checks_each_turn_on_postgres(backend: str) -> None:
    with postgres_database(migrated=True) as url:
        check_store_turns(url)


def check_lines_read_back_as_stored(database_url: str) -> None:
    """Lines stored on the driver's own connection read back through the ORM as given, with
    dates stored in the form the ORM stores its own (the opening, seq 0, is the ORM's)."""
    engine, heads = engine_with_attempts(database_url, 1)
    text_ = "<b>\"引号\"</b> & 你好\n'quoted' \x7f"
    lines = [
        TurnLine(1, "trainee", text_, 12.25, "trainee", "c-\u00e9"),
        TurnLine(2, "persona", "好的。", 12.25, "fact"),
    ]
    before = datetime.now(UTC)
    try:
        assert store_turns(engine, [PendingTurn(1, heads[0], lines)]) == [True]
        with Session(engine) as session:
            messages = conversations_messages(session, 1)
            raw_dates = [
                value
                for (value,) in session.execute(
                    text("SELECT created_at FROM attempt_messages ORDER BY seq")
                )
            ]
        got = [(m.seq, m.role, m.text, m.at, m.kind, m.client_id) for m in messages[1:]]
        assert got == [
            (1, "trainee", text_, 12.25, "trainee", "c-\u00e9"),
            (2, "persona", "好的。", 12.25, "fact", None),
        ]
        for message in messages[1:]:
            assert message.created_at.tzinfo is not None
            assert before - timedelta(seconds=1) <= message.created_at <= datetime.now(UTC)
        if database_url.startswith("sqlite"):  # text, always with microseconds
            shape = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
            assert all(shape.match(value) for value in raw_dates), raw_dates
        else:  # timestamp with time zone
            assert all(value.utcoffset() is not None for value in raw_dates), raw_dates
    finally:
        engine.dispose()


def test_lines_read_back_as_stored_on_sqlite(tmp_path: Path) -> None:
    check_lines_read_back_as_stored(f"sqlite:///{tmp_path / 'lines.db'}")


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=needs_postgres)])
def test_lines_read_back_as_stored_on_postgres(backend: str) -> None:
    with postgres_database(migrated=True) as url:
        check_lines_read_back_as_stored(url)


def test_store_turns_through_sqlalchemy_for_another_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A driver without a raw path (none of the two this app makes engines for) still gets
    # every check, through SQLAlchemy Core.
    monkeypatch.setattr(turns, "_DRIVERS", {("sqlite", "pysqlite"): None})
    check_store_turns(f"sqlite:///{tmp_path / 'core.db'}")


def test_a_raw_insert_queues_with_the_other_sqlite_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, heads = engine_with_attempts(f"sqlite:///{tmp_path / 'lock.db'}", 2)
    lock, _ = sqlite_writers._LOCKS[engine]
    held: list[bool] = []

    def on_stored(session: Session, _turns: Any) -> None:
        held.append(bool(session.connection().info.get(sqlite_writers.HELD)) and lock.locked())

    try:
        assert store_turns(engine, [a_turn(1, heads[0])], on_stored) == [True]
        assert held == [True]  # taken by the INSERT that went around SQLAlchemy ...
        assert not lock.locked()  # ... and given back by the commit
        # A writer holding the lock makes the raw INSERT wait for it (here: past its wait,
        # when it goes on and SQLite's busy timeout decides, as any other writer does).
        lock.acquire()
        monkeypatch.setitem(sqlite_writers._LOCKS, engine, (lock, 0.3))
        started = time.monotonic()
        try:
            assert store_turns(engine, [a_turn(2, heads[1])]) == [True]
        finally:
            lock.release()
        assert time.monotonic() - started >= 0.3
    finally:
        engine.dispose()


def test_turns_waiting_together_share_one_transaction(tmp_path: Path) -> None:
    engine, heads = engine_with_attempts(f"sqlite:///{tmp_path / 'batch.db'}", 20)
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    batcher = TurnBatcher(engine)

    async def all_at_once() -> list[bool]:
        pending = [a_turn(i + 1, head) for i, head in enumerate(heads)]
        return await asyncio.gather(*(batcher.store(turn) for turn in pending))

    try:
        assert asyncio.run(all_at_once()) == [True] * 20
        assert len(commits) <= 2  # not one per turn
        with Session(engine) as session:
            assert all(len(conversations_messages(session, i + 1)) == 3 for i in range(20))
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=needs_postgres)])
def test_fast_turns_on_postgres(backend: str, tmp_path: Path) -> None:
    with postgres_database(migrated=True) as url:
        app = create_app(make_settings(tmp_path, database_url=url))
        try:
            with TestClient(app, headers=SAME_ORIGIN) as client:
                add_user(app, "tao")
                login(client, "tao")
                attempt_id = start_through_page(client, PACK, SCENARIO)
                with client.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
                    assert seqs(say(ws, MODEL_ANSWER[0], "p-0")) == [1, 2]
                    another_worker_says(app, attempt_id, "Any other medication?")
                    after_theirs = seqs(say(ws, MODEL_ANSWER[1], "p-1"))
                    assert after_theirs[0] == 5
                    then = seqs(say(ws, MODEL_ANSWER[2], "p-2"))
                    assert then[0] == after_theirs[-1] + 1
                messages = stored(app, attempt_id)
                assert [m.seq for m in messages] == list(range(then[-1] + 1))
                assert [m.client_id for m in messages if m.client_id] == [
                    "p-0",
                    "elsewhere",
                    "p-1",
                    "p-2",
                ]
        finally:
            app.state.sandbox.engine.dispose()


def test_a_served_process_freezes_its_start_up_heap(tmp_path: Path) -> None:
    # In a process of its own: freezing the test runner's heap would outlive this test.
    script = (
        "import gc\n"
        "from sandbox.web.app import create_served_app\n"
        "app = create_served_app()\n"
        "assert app.state.sandbox.library.packs\n"
        "print(gc.get_freeze_count())\n"
    )
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
        "SANDBOX_DEMO_USERS": "false",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    # Everything the start built (packs, mappers, templates) is out of the collector's scans.
    assert int(result.stdout.strip()) > 50_000


def test_an_engine_failure_drops_the_kept_state(
    app: FastAPI, client: TestClient, trainee: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Conversation.receive

    def fails_once(self: Conversation, text: str, at: float) -> Any:
        if text == "boom":
            self.messages.append(self.messages[-1])  # half-way: the state is now wrong
            raise RuntimeError("engine failure")
        return original(self, text, at)

    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        assert seqs(say(ws, "Hello, how can I help you today?", "f-1")) == [1, 2]
        monkeypatch.setattr(Conversation, "receive", fails_once)
        failed = say(ws, "boom", "f-2")
        assert "went wrong" in failed[-1].lower() or 'id="notice"' in failed[-1]
        loads = count_loads(monkeypatch)
        # The next turn rebuilds from the database, not from the broken state.
        assert seqs(say(ws, "Are you taking any other medication?", "f-3")) == [3, 4]
        assert len(loads) == 1
    assert [m.client_id for m in stored(app, trainee) if m.client_id] == ["f-1", "f-3"]
