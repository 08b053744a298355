"""Helpers of the exam tests: a clock the tests move, exams made through the proctor's form,
chat frames. The fixtures (clock, people, proctor, browsers) are in conftest.py."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from starlette.testclient import WebSocketTestSession
from web_support import (
    PASSWORD,
    SAME_ORIGIN,
    csrf_token,
)

from sandbox.conversations.service import ConversationService
from sandbox.passwords import hash_password
from sandbox.storage.audit import AuditEvent
from sandbox.storage.exams import Exam
from sandbox.storage.models import Attempt, AttemptMessage, User

PACK = "pharmacy-basics"
COLD = f"{PACK}/cold-remedy-hypertension"
INSULIN = f"{PACK}/late-insulin-delivery"


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


def service(app: FastAPI) -> ConversationService:
    found = app.state.sandbox.conversations
    assert isinstance(found, ConversationService)
    return found


@functools.cache
def password_hash() -> str:
    """The shared test password, hashed once (Argon2 is slow on purpose)."""
    return hash_password(PASSWORD)


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


def frames_until(
    ws: WebSocketTestSession, done: Callable[[str], bool], limit: int = 50
) -> list[str]:
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
