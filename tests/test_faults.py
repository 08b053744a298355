"""Faults: the server killed with SIGKILL mid-conversation and restarted; four processes
writing to one SQLite file at once. Real processes, a real websockets client, no timing
assertions (only orderings, which hold however slow the machine is)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from server_support import Server, server_env
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from web_support import PASSWORD, SHARED_PACKS, add_user, csrf_token, make_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from sandbox.storage.audit import AuditEvent
from sandbox.storage.database import make_engine
from sandbox.storage.models import Attempt, AttemptMessage, Role, utcnow
from sandbox.web.app import create_app
from sandbox.web.security import SESSION_COOKIE

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"
LINES = [
    "Hello, thanks for contacting us. Are you taking any other medication?",
    "Thank you. Decongestants can raise your blood pressure, so they are not suitable.",
    "Do you have any allergies?",
    "A saline nasal spray and paracetamol are safer choices.",
    "No more than 4 g of paracetamol a day.",
]
WAIT_S = 60.0
SHIFT = timedelta(minutes=2)  # the conversation is made to have started this long ago
ELAPSED = re.compile(r'data-elapsed="([0-9.]+)"')


# --- a browser without a browser: httpx for pages, websockets for the chat ----------------------


class Trainee:
    def __init__(self, base_url: str, name: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=WAIT_S)
        page = self.http.get("/login")
        response = self.http.post(
            "/login", data={"csrf_token": csrf_token(page.text), "name": name, "password": PASSWORD}
        )
        assert response.status_code == 303, response.text

    def token(self) -> str:
        return csrf_token(self.http.get("/login").text)

    def post(self, path: str, **data: str) -> httpx.Response:
        return self.http.post(
            path, data={"csrf_token": self.token(), **data}, follow_redirects=False
        )

    def elapsed_shown(self, attempt_id: int) -> float:
        """The seconds since the start the chat page shows (its clock starts from this)."""
        page = self.http.get(f"/attempts/{attempt_id}")
        assert page.status_code == 200, page.status_code
        match = ELAPSED.search(page.text)
        assert match, "the chat page shows no clock"
        return float(match.group(1))

    def socket(self, attempt_id: int) -> ClientConnection:
        """The chat socket, as the page opens it (a context manager)."""
        return connect(
            self.base_url.replace("http://", "ws://") + f"/attempts/{attempt_id}/ws",
            origin=Origin(self.base_url),
            additional_headers={"Cookie": f"{SESSION_COOKIE}={self.http.cookies[SESSION_COOKIE]}"},
            open_timeout=WAIT_S,
            compression=None,
        )

    def close(self) -> None:
        self.http.close()


def receive_until(ws: ClientConnection, done: Callable[[str], bool]) -> list[str]:
    frames: list[str] = []
    while True:
        frame = ws.recv(timeout=WAIT_S)
        assert isinstance(frame, str)
        frames.append(frame)
        if done(frame):
            return frames


def say(ws: ClientConnection, text: str, client_id: str) -> None:
    """Send a line and wait until the server acknowledges it: stored, as the page knows."""
    ws.send(f'{{"type": "say", "text": "{text}", "client_id": "{client_id}"}}')
    receive_until(ws, lambda frame: f'data-client-id="{client_id}"' in frame)


def replay(ws: ClientConnection) -> str:
    ws.send('{"type": "hello", "last_seq": -1}')
    return "".join(receive_until(ws, lambda frame: 'data-synced="true"' in frame))


def stored(engine: Engine, attempt_id: int) -> list[AttemptMessage]:
    with Session(engine) as session:
        statement = (
            select(AttemptMessage)
            .where(AttemptMessage.attempt_id == attempt_id)
            .order_by(col(AttemptMessage.seq))
        )
        return list(session.exec(statement))


def shift_start(engine: Engine, attempt_id: int) -> tuple[datetime, datetime | None]:
    """Move the attempt's start (and exam deadline) back; return the stored values."""
    with Session(engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        attempt.started_at -= SHIFT
        deadline = getattr(attempt, "deadline_at", None)
        if deadline is not None:
            attempt.deadline_at = deadline - SHIFT  # type: ignore[attr-defined]
        session.add(attempt)
        session.commit()
        session.refresh(attempt)
        return attempt.started_at, getattr(attempt, "deadline_at", None)


# --- the server killed mid-conversation -----------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, Engine]]:
    app = create_app(make_settings(tmp_path))
    add_user(app, "tao", Role.TRAINEE)
    add_user(app, "proc", Role.PROCTOR)
    app.state.sandbox.engine.dispose()
    server = Server(tmp_path, server_env(tmp_path, packs=str(SHARED_PACKS)))
    server.start()
    engine = make_engine(f"sqlite:///{tmp_path / 'sandbox.db'}")
    try:
        yield server, engine
    finally:
        server.stop()
        engine.dispose()


def start_practice(trainee: Trainee, _engine: Engine) -> int:
    response = trainee.post(f"/scenarios/{PACK}/{SCENARIO}/attempts")
    assert response.status_code == 303
    return int(response.headers["location"].rsplit("/", 1)[1])


def start_exam(trainee: Trainee, engine: Engine) -> int:
    from sandbox.exams.policy import ExamRules
    from sandbox.storage import exams
    from sandbox.storage.users import get_user_by_name

    with Session(engine) as session:
        user = get_user_by_name(session=session, name="tao")
        proctor = get_user_by_name(session=session, name="proc")
        assert user is not None and user.id is not None and proctor is not None
        now = utcnow()
        exam = exams.create_exam(
            session=session,
            name="Killed mid-exam",
            time_limit_s=900,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(hours=1),
            rules=ExamRules(),
            scenarios=[(PACK, SCENARIO)],
            candidate_ids=[user.id],
            cohort=None,
            created_by=proctor.id,
        )
        session.commit()
        exam_id = exam.id
    response = trainee.post(f"/exams/{exam_id}/attempts", scenario=f"{PACK}/{SCENARIO}")
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rstrip("/").rsplit("/", 1)[1])


@pytest.mark.parametrize("start", [start_practice, start_exam], ids=["practice", "exam"])
def test_a_killed_server_loses_no_acknowledged_message_and_keeps_the_clock(
    served: tuple[Server, Engine], start: Callable[[Trainee, Engine], int]
) -> None:
    server, engine = served
    trainee = Trainee(server.url, "tao")
    attempt_id = start(trainee, engine)
    started_at, deadline_at = shift_start(engine, attempt_id)
    shown_before = trainee.elapsed_shown(attempt_id)
    assert shown_before >= SHIFT.total_seconds()

    acknowledged: list[str] = []
    with trainee.socket(attempt_id) as ws:
        replay(ws)
        for index, line in enumerate(LINES[:3]):
            say(ws, line, f"k-{index}")
            acknowledged.append(line)
        # One more line is on its way when the server dies: it may or may not be stored.
        ws.send(f'{{"type": "say", "text": "{LINES[3]}", "client_id": "k-3"}}')
        server.kill()
        with pytest.raises((ConnectionClosed, TimeoutError, OSError)):
            while True:
                ws.recv(timeout=WAIT_S)

    server.start()  # same port, same database
    shown_after = trainee.elapsed_shown(attempt_id)
    with trainee.socket(attempt_id) as ws:
        transcript = replay(ws)
        # Every acknowledged line survived, in order, each once.
        positions = [transcript.index(line) for line in acknowledged]
        assert positions == sorted(positions)
        assert all(transcript.count(line) == 1 for line in acknowledged)
        # The page resends what it never saw acknowledged, with the same client id: stored
        # once whether or not it made it before the kill.
        say(ws, LINES[3], "k-3")
        # The trainee carries on.
        say(ws, LINES[4], "k-4")
    trainee.close()

    texts = [m.text for m in stored(engine, attempt_id)]
    assert [t for t in texts if t in LINES] == LINES
    seqs = [m.seq for m in stored(engine, attempt_id)]
    assert seqs == list(range(len(seqs)))
    # The clock continues from the stored start: nothing reset it.
    with Session(engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None and not attempt.ended
        assert attempt.started_at == started_at
        assert getattr(attempt, "deadline_at", None) == deadline_at
    assert shown_after >= shown_before


# --- four writers on one SQLite file ------------------------------------------------------------------


def test_four_writer_processes_never_see_database_is_locked(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    writers = [f"writer-{index}" for index in range(4)]
    for name in writers:
        add_user(app, name, Role.TRAINEE)
    app.state.sandbox.engine.dispose()
    database_url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    go = tmp_path / "go"
    conversations = 6
    script = Path(__file__).with_name("fault_writer.py")
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                database_url,
                str(SHARED_PACKS),
                name,
                str(go),
                str(conversations),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in writers
    ]
    go.touch()  # all four start writing together
    results = [process.communicate(timeout=600) for process in processes]
    for process, (out, err) in zip(processes, results, strict=True):
        assert "database is locked" not in err
        assert process.returncode == 0, err[-3000:]
        assert out.strip() == f"done {conversations}"
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            attempts = session.exec(select(Attempt)).all()
            assert len(attempts) == 4 * conversations
            assert all(a.ended and a.grade is not None for a in attempts)
            trainee_lines = session.exec(
                select(func.count())
                .select_from(AttemptMessage)
                .where(AttemptMessage.role == "trainee")
            ).one()
            assert trainee_lines == 4 * conversations * 4
            events = session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "fault.write")
            ).one()
            assert events == 4 * conversations
    finally:
        engine.dispose()
