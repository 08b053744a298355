"""Several worker processes on one PostgreSQL database: any worker serves any message.

Real `sandbox serve` processes on 127.0.0.1 and a database of their own on the server named
by SANDBOX_TEST_DATABASE_URL; events cross processes through LISTEN/NOTIFY.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select
from websockets.sync.client import ClientConnection, connect

from sandbox.engine.conversation import Conversation
from sandbox.storage.attempts import start_attempt
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Attempt, AttemptMessage, Role, User
from sandbox.web.security import SESSION_COOKIE, Signer, open_session

BASE_URL = os.environ.get("SANDBOX_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[1]
PACKS = ROOT / ".." / "shared" / "packs"
PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"
SEQ = re.compile(r'data-seq="(\d+)"')
# Generous limits: a slow CI machine must not fail a correct build (they bound the waits).
START_TIMEOUT_S = 120
FRAME_TIMEOUT_S = 30

pytestmark = pytest.mark.postgres


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A database of this module's own, dropped at the end."""
    if not BASE_URL:
        pytest.skip("SANDBOX_TEST_DATABASE_URL not set")
    name = f"sandbox_workers_{secrets.token_hex(4)}"
    admin = make_engine(BASE_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def socket(self, attempt_id: int, cookie: str) -> ClientConnection:
        return connect(
            f"ws://127.0.0.1:{self.port}/attempts/{attempt_id}/ws",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            origin=self.http,  # type: ignore[arg-type]
            open_timeout=FRAME_TIMEOUT_S,
        )


SECRET = secrets.token_urlsafe(48)


def serve(database_url: str, tmp: Path, *extra: str) -> Worker:
    port = free_port()
    log = tmp / f"serve-{port}.log"
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": database_url,
        "SANDBOX_SECRET_KEY": SECRET,
        "SANDBOX_VAR_DIR": str(tmp / "var"),
        "SANDBOX_PACKS": str(PACKS),
        "SANDBOX_BUILTIN_PACKS": "false",
        "SANDBOX_REPLY_DELAY_S": "0",
        "SANDBOX_DEMO_USERS": "false",
    }
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *extra,
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(worker.http + "/healthz", timeout=5).status_code == 200:
                return worker
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"sandbox serve did not start:\n{log.read_text()}")


def stop(worker: Worker) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait(timeout=10)


@pytest.fixture(scope="module")
def workers(
    database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Worker]]:
    """Two separate `sandbox serve` processes on the same database."""
    tmp = tmp_path_factory.mktemp("workers")
    started = [serve(database_url, tmp), serve(database_url, tmp)]
    try:
        yield started
    finally:
        for worker in started:
            stop(worker)


def trainee_with_attempt(engine: Engine, name: str) -> tuple[str, int]:
    """A trainee signed in (their cookie) with a fresh attempt, made through the storage API."""
    from sandbox.scenarios.loader import load_pack

    pack = load_pack(PACKS / f"{PACK}.yaml")
    scenario = pack.scenario(SCENARIO)
    with Session(engine) as session:
        user = User(name=name, role=Role.TRAINEE, password_hash="-")
        session.add(user)
        session.flush()
        login = open_session(session=session, user=user, max_age_s=3600)
        attempt = start_attempt(
            session=session,
            user=user,
            pack_id=pack.id,
            pack_version=pack.version,
            scenario_id=scenario.id,
            time_limit_s=scenario.time_limit_s,
            opening=scenario.opening,
        )
        session.commit()
        assert attempt.id is not None
        return Signer(SECRET, 3600).sign_session(login.id), attempt.id


def frames_until(ws: ClientConnection, marker: str) -> list[str]:
    frames: list[str] = []
    while True:
        frame = ws.recv(timeout=FRAME_TIMEOUT_S)
        assert isinstance(frame, str)
        frames.append(frame)
        if marker in frame:
            return frames


def say(ws: ClientConnection, text_: str, client_id: str) -> list[str]:
    ws.send(json.dumps({"type": "say", "text": text_, "client_id": client_id}))
    return frames_until(ws, 'data-turn="done"')


def hello(ws: ClientConnection, last_seq: int) -> list[str]:
    ws.send(json.dumps({"type": "hello", "last_seq": last_seq}))
    return frames_until(ws, 'data-synced="true"')


def seqs(frames: list[str]) -> list[int]:
    return [int(seq) for frame in frames for seq in SEQ.findall(frame)]


def stored(engine: Engine, attempt_id: int) -> list[AttemptMessage]:
    with Session(engine) as session:
        statement = (
            select(AttemptMessage)
            .where(AttemptMessage.attempt_id == attempt_id)
            .order_by(col(AttemptMessage.seq))
        )
        return list(session.exec(statement).all())


LINES = [
    "Hello, thanks for contacting us.",
    "Are you taking any other medication?",
    "Do you have any allergies?",
    "Decongestants such as pseudoephedrine can raise your blood pressure, so please avoid them.",
    "A saline nasal spray is a safer choice.",
    "Paracetamol every 4 hours, no more than 4 g a day.",
]


def expected_transcript(lines_at: list[tuple[str, float]]) -> list[tuple[str, str]]:
    """What one process replaying the trainee's lines says: the reference for consistency."""
    from sandbox.scenarios.loader import load_pack

    pack = load_pack(PACKS / f"{PACK}.yaml")
    scenario = pack.scenario(SCENARIO)
    conversation = Conversation.replay(scenario, pack.locale, lines_at, scenario.time_limit_s)
    return [(m.role, m.text) for m in conversation.messages]


def assert_consistent(engine: Engine, attempt_id: int) -> list[AttemptMessage]:
    messages = stored(engine, attempt_id)
    assert [m.seq for m in messages] == list(range(len(messages)))
    trainee = [(m.text, m.at) for m in messages if m.role == "trainee"]
    assert [(str(m.role), m.text) for m in messages] == expected_transcript(trainee)
    return messages


def test_a_conversation_alternating_between_workers_stays_consistent(
    workers: list[Worker], engine: Engine
) -> None:
    cookie, attempt_id = trainee_with_attempt(engine, "alternating")
    shown = 0  # the highest seq this "page" shows
    for turn, line in enumerate(LINES):
        worker = workers[turn % 2]
        # A fresh socket each turn, on the other worker: no sticky sessions.
        with worker.socket(attempt_id, cookie) as ws:
            missed = seqs(hello(ws, shown))
            assert missed == list(range(shown + 1, shown + 1 + len(missed)))
            shown = max([shown, *missed])
            frames = say(ws, line, f"turn-{turn}")
            new = seqs(frames)
            assert new and new[0] == shown + 1, frames
            shown = max(new)
    messages = assert_consistent(engine, attempt_id)
    assert sum(1 for m in messages if m.role == "trainee") == len(LINES)
    assert shown == messages[-1].seq


def test_two_open_sockets_on_two_workers_share_one_transcript(
    workers: list[Worker], engine: Engine
) -> None:
    cookie, attempt_id = trainee_with_attempt(engine, "two-tabs")
    with (
        workers[0].socket(attempt_id, cookie) as first,
        workers[1].socket(attempt_id, cookie) as second,
    ):
        hello(first, 0)
        hello(second, 0)
        for turn, line in enumerate(LINES[:4]):
            say((first, second)[turn % 2], line, f"tab-{turn}")
        # A resend of a line the other worker stored is recognised, not stored twice.
        again = say(second, LINES[0], "tab-0")
        assert seqs(again) == []
        # Each tab catches up on what the other worker stored with the same hello it
        # sends after a reconnect.
        missed = seqs(hello(first, 0))
    messages = assert_consistent(engine, attempt_id)
    assert missed == [m.seq for m in messages if m.seq > 0]
    assert sum(1 for m in messages if m.role == "trainee") == 4


def test_concurrent_turns_on_two_workers_lose_nothing(
    workers: list[Worker], engine: Engine
) -> None:
    cookie, attempt_id = trainee_with_attempt(engine, "racing")
    with (
        workers[0].socket(attempt_id, cookie) as first,
        workers[1].socket(attempt_id, cookie) as second,
    ):
        hello(first, 0)
        hello(second, 0)
        for turn in range(3):
            # Both sent before either answer is read: the workers race for the same seq.
            first.send(
                json.dumps({"type": "say", "text": LINES[2 * turn], "client_id": f"a{turn}"})
            )
            second.send(
                json.dumps({"type": "say", "text": LINES[2 * turn + 1], "client_id": f"b{turn}"})
            )
            frames_until(first, 'id="ack"')
            frames_until(second, 'id="ack"')
    messages = assert_consistent(engine, attempt_id)
    assert sum(1 for m in messages if m.role == "trainee") == 6


def test_serve_with_two_workers_answers_from_both(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    worker = serve(database_url, tmp_path, "--workers", "2")
    try:
        children = _children(worker.process.pid)
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(children) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            children = _children(worker.process.pid)
        assert len(children) >= 2, worker.log.read_text()
        cookie, attempt_id = trainee_with_attempt(engine, "two-worker-serve")
        shown = 0
        for turn, line in enumerate(LINES[:4]):
            with worker.socket(attempt_id, cookie) as ws:
                shown = max([shown, *seqs(hello(ws, shown))])
                shown = max(seqs(say(ws, line, f"w-{turn}")))
        assert_consistent(engine, attempt_id)
    finally:
        stop(worker)
    assert "2 workers" in worker.log.read_text()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if (
                    int(fields[1]) == pid
                    and "resource_tracker" not in (entry / "cmdline").read_text()
                ):
                    found.append(int(entry.name))
    return found


# --------------------------------------------------------------------- events across processes

LISTENER = textwrap.dedent(
    """
    import asyncio, sys
    from sandbox.web.pg_notify import Listener

    async def main():
        done = asyncio.Event()
        def on_message(payload):
            print("message", payload, flush=True)
            if payload == "stop":
                done.set()
        def on_resync():
            print("resync", flush=True)
        listener = Listener(sys.argv[1], "sandbox_test_events", on_message, on_resync)
        listener.start()
        await asyncio.wait_for(done.wait(), 120)
        await listener.stop()

    asyncio.run(main())
    """
)


def _wait_for_line(process: subprocess.Popen[str], wanted: str, seen: list[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"listener exited; it printed {seen}")
        seen.append(line.strip())
        if line.strip() == wanted:
            return
    raise AssertionError(f"never printed {wanted!r}; printed {seen}")


def test_an_event_published_in_one_process_reaches_a_listener_in_another(
    database_url: str, engine: Engine
) -> None:
    from sandbox.web.pg_notify import notify

    seen: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", LISTENER, database_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    ) as listener:
        try:
            _wait_for_line(listener, "resync", seen)  # listening; read the state once
            with Session(engine) as session:
                notify(session, "sandbox_test_events", "rolled back")
                session.rollback()
            with Session(engine) as session:
                notify(session, "sandbox_test_events", json.dumps({"exam_id": 1, "user_id": 2}))
                session.commit()
            _wait_for_line(listener, 'message {"exam_id": 1, "user_id": 2}', seen)
            # Cut the listener's connection: it reconnects and asks its subscribers to re-read.
            with engine.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
                    )
                )
                connection.commit()
            _wait_for_line(listener, "resync", seen)
            with Session(engine) as session:
                notify(session, "sandbox_test_events", "stop")
                session.commit()
            _wait_for_line(listener, "message stop", seen)
            assert listener.wait(timeout=60) == 0
        finally:
            if listener.poll() is None:
                listener.kill()
    assert "message rolled back" not in seen
    assert seen.count("resync") == 2


def test_attempts_are_visible_to_every_worker(workers: list[Worker], engine: Engine) -> None:
    """The feedback of an attempt finished on one worker is served by the other."""
    cookie, attempt_id = trainee_with_attempt(engine, "finisher")
    with workers[0].socket(attempt_id, cookie) as ws:
        hello(ws, 0)
        say(ws, LINES[0], "f-0")
        ws.send(json.dumps({"type": "finish"}))
        frames_until(ws, 'data-ended="finished"')
    with Session(engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None and attempt.ended
    page = httpx.get(
        f"{workers[1].http}/attempts/{attempt_id}/feedback",
        cookies={SESSION_COOKIE: cookie},
        timeout=FRAME_TIMEOUT_S,
    )
    assert page.status_code == 200


# --------------------------------------------------------------------- the live monitor


def exam_with_candidate(engine: Engine, trainee_name: str) -> tuple[int, str, str]:
    """An open exam on the shared pack with one candidate; the cookies of a proctor and of it."""
    from datetime import timedelta

    from sandbox.exams.policy import ExamRules
    from sandbox.storage.exams import create_exam
    from sandbox.storage.models import utcnow

    signer = Signer(SECRET, 3600)
    with Session(engine) as session:
        proctor = User(name=f"proctor-{trainee_name}", role=Role.PROCTOR, password_hash="-")
        trainee = User(name=trainee_name, role=Role.TRAINEE, password_hash="-")
        session.add_all([proctor, trainee])
        session.flush()
        assert trainee.id is not None
        now = utcnow()
        exam = create_exam(
            session=session,
            name="Across workers",
            time_limit_s=600,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(hours=1),
            rules=ExamRules(),
            scenarios=[(PACK, SCENARIO)],
            candidate_ids=[trainee.id],
            cohort=None,
            created_by=proctor.id,
        )
        proctor_login = open_session(session=session, user=proctor, max_age_s=3600)
        trainee_login = open_session(session=session, user=trainee, max_age_s=3600)
        session.commit()
        assert exam.id is not None
        return (
            exam.id,
            signer.sign_session(proctor_login.id),
            signer.sign_session(trainee_login.id),
        )


def start_exam(worker: Worker, exam_id: int, cookie: str) -> int:
    """The candidate starts the exam's scenario through its pages, as a browser does."""
    with httpx.Client(base_url=worker.http, cookies={SESSION_COOKIE: cookie}, timeout=30) as client:
        page = client.get(f"/exams/{exam_id}")
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        started = client.post(
            f"/exams/{exam_id}/attempts",
            data={"csrf_token": token.group(1), "scenario": f"{PACK}/{SCENARIO}"},
        )
        assert started.status_code == 303, started.text
        return int(started.headers["location"].rsplit("/", 1)[1])


def test_the_monitor_on_one_worker_hears_a_candidate_on_the_other(
    workers: list[Worker], engine: Engine
) -> None:
    exam_id, proctor_cookie, trainee_cookie = exam_with_candidate(engine, "examinee")
    candidate, monitor_worker = workers
    with connect(
        f"ws://127.0.0.1:{monitor_worker.port}/proctor/exams/{exam_id}/monitor/ws",
        additional_headers={"Cookie": f"{SESSION_COOKIE}={proctor_cookie}"},
        origin=monitor_worker.http,  # type: ignore[arg-type]
        open_timeout=FRAME_TIMEOUT_S,
    ) as monitor:
        everything = monitor.recv(timeout=FRAME_TIMEOUT_S)
        assert "Not started" in str(everything)
        attempt_id = start_exam(candidate, exam_id, trainee_cookie)
        frames_until(monitor, "In progress")
        with candidate.socket(attempt_id, trainee_cookie) as ws:
            hello(ws, 0)
            say(ws, LINES[1], "exam-1")
        frames_until(monitor, 'messages-count">1<')
