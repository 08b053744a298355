"""Helpers of the exam tests: a clock the tests move, exams made through the proctor's form,
trainees in browsers of their own, chat frames."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from starlette.testclient import WebSocketTestSession
from web_support import (
    PASSWORD,
    SAME_ORIGIN,
    csrf_token,
    login,
    make_settings,
    needs_postgres,
    postgres_database,
)

from sandbox.config import Settings
from sandbox.conversations.service import ConversationService
from sandbox.passwords import hash_password
from sandbox.storage.audit import AuditEvent
from sandbox.storage.exams import Exam
from sandbox.storage.models import Attempt, AttemptMessage, Role, User
from sandbox.web.app import create_app

PACK = "pharmacy-basics"
COLD = f"{PACK}/cold-remedy-hypertension"
INSULIN = f"{PACK}/late-insulin-delivery"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """The app's settings on SQLite and, when a test database is given, on PostgreSQL."""
    if request.param == "sqlite":
        yield make_settings(tmp_path)
        return
    with postgres_database() as url:
        yield make_settings(tmp_path, database_url=url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The real app; its database connections are closed afterwards (PostgreSQL drops the
    test database only then)."""
    made = create_app(settings)
    yield made
    made.state.sandbox.engine.dispose()
    gc.collect()  # a connection left open shows up in the test that left it


@dataclass
class FakeClock:
    """The conversation service's clock, moved by the test (no sleeping)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def set(self, start: datetime, seconds: float) -> None:
        self.now = start + timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    fake = FakeClock()
    service(app).clock = fake
    return fake


def service(app: FastAPI) -> ConversationService:
    found = app.state.sandbox.conversations
    assert isinstance(found, ConversationService)
    return found


@functools.cache
def password_hash() -> str:
    """The shared test password, hashed once (Argon2 is slow on purpose)."""
    return hash_password(PASSWORD)


@pytest.fixture
def people(app: FastAPI) -> dict[str, User]:
    """A proctor, an admin, a mentor and three trainees (tao and mei have the mentor)."""
    cast = [("pat", Role.PROCTOR), ("boss", Role.ADMIN), ("mo", Role.MENTOR),
            ("tao", Role.TRAINEE), ("mei", Role.TRAINEE), ("kim", Role.TRAINEE)]
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        users = {name: User(name=name, role=role, password_hash=password_hash())
                 for name, role in cast}
        session.add_all(users.values())
        session.flush()
        for trainee in ("tao", "mei"):
            users[trainee].mentor_id = users["mo"].id
        session.commit()
    return users


@pytest.fixture
def proctor(client: TestClient, people: dict[str, User]) -> TestClient:
    """The app's main client (it runs the app's lifespan, so the exam timers), as the proctor."""
    login(client, "pat")
    return client


@pytest.fixture
def browsers(app: FastAPI, people: dict[str, User]) -> Iterator[Callable[[str], TestClient]]:
    """A signed-in browser per user name (made on first use)."""
    made: dict[str, TestClient] = {}

    def browser(name: str) -> TestClient:
        if name not in made:
            made[name] = TestClient(app)
            login(made[name], name)
        return made[name]

    yield browser
    for each in made.values():
        each.close()


def utc_field(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def exam_fields(clock: FakeClock, people: dict[str, User], **changes: Any) -> dict[str, Any]:
    """A valid exam form: the cold-remedy scenario, tao and mei, open now for a day."""
    fields: dict[str, Any] = {
        "name": "Pharmacy practical, cohort A",
        "scenario": [COLD],
        "time_limit_s": "120",
        "opens_at": utc_field(clock.now - timedelta(hours=1)),
        "closes_at": utc_field(clock.now + timedelta(days=1)),
        "cohort": "",
        "candidate": [str(people["tao"].id), str(people["mei"].id)],
        "attempts_allowed": "1",
        "on_timeout": "end",
        "grace_s": "30",
        "written_pass": "60",
        "practical_pass": "70",
        "written_weight": "40",
        "practical_weight": "60",
        "band_excellent": "90",
        "band_good": "70",
        "band_pass": "60",
        "retake_days": "7",
        "pass_rate_target": "90",
    }
    fields.update(changes)
    return fields


def post_exam(client: TestClient, fields: dict[str, Any], exam_id: int | None = None) -> Any:
    form_url = f"/proctor/exams/{exam_id}/edit" if exam_id else "/proctor/exams/new"
    page = client.get(form_url)
    assert page.status_code == 200, page.text
    target = f"/proctor/exams/{exam_id}/edit" if exam_id else "/proctor/exams"
    return client.post(
        target, data={**fields, "csrf_token": csrf_token(page.text)}, follow_redirects=False
    )


def make_exam(client: TestClient, clock: FakeClock, people: dict[str, User], **changes: Any) -> int:
    """An exam made through the proctor's form; its id."""
    response = post_exam(client, exam_fields(clock, people, **changes))
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def start(browser: TestClient, exam_id: int, scenario: str = COLD) -> int:
    """Start (or resume) an exam conversation from the trainee's exam page; its attempt id."""
    page = browser.get(f"/exams/{exam_id}")
    assert page.status_code == 200, page.text
    response = browser.post(
        f"/exams/{exam_id}/attempts",
        data={"csrf_token": csrf_token(page.text), "scenario": scenario},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/attempts/"), location
    return int(location.rsplit("/", 1)[1])


def frames_until(ws: WebSocketTestSession, done: Callable[[str], bool], limit: int = 50) -> list[str]:
    frames: list[str] = []
    for _ in range(limit):
        frames.append(ws.receive_text())
        if done(frames[-1]):
            return frames
    raise AssertionError(f"not seen in {limit} frames: {frames}")


def turn_over(frame: str) -> bool:
    """The last frame of a turn for its sender: the "done" marker, or a notice."""
    return 'data-turn="done"' in frame or frame.lstrip().startswith('<p id="notice"')


def say(ws: WebSocketTestSession, text: str, client_id: str) -> str:
    """Send a chat message; every frame of the turn, joined."""
    ws.send_json({"type": "say", "text": text, "client_id": client_id})
    return "".join(frames_until(ws, turn_over))


def chat(browser: TestClient, attempt_id: int) -> Any:
    """The chat socket of an attempt, opened as the page would."""
    return browser.websocket_connect(f"/attempts/{attempt_id}/ws", headers=SAME_ORIGIN)


def attempt_row(app: FastAPI, attempt_id: int) -> Attempt:
    with Session(app.state.sandbox.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return attempt


def messages_of(app: FastAPI, attempt_id: int) -> list[AttemptMessage]:
    with Session(app.state.sandbox.engine) as session:
        statement = (
            select(AttemptMessage)
            .where(AttemptMessage.attempt_id == attempt_id)
            .order_by(col(AttemptMessage.seq))
        )
        return list(session.exec(statement))


def exam_row(app: FastAPI, exam_id: int) -> Exam:
    with Session(app.state.sandbox.engine) as session:
        exam = session.get(Exam, exam_id)
        assert exam is not None
        return exam


def audit_trail(app: FastAPI, action: str | None = None) -> list[AuditEvent]:
    with Session(app.state.sandbox.engine) as session:
        statement = select(AuditEvent).order_by(col(AuditEvent.id))
        if action is not None:
            statement = statement.where(AuditEvent.action == action)
        return list(session.exec(statement))
