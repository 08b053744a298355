"""Shared helpers of the web, storage and auth tests: a real app on a temporary database."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from sandbox.config import Settings
from sandbox.storage.models import Role, User
from sandbox.storage.users import create_user, get_user_by_name
from sandbox.web.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_PACKS = (REPO_ROOT / ".." / "shared" / "packs").resolve()
PASSWORD = "correct horse battery"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')
# What a browser sends on every WebSocket handshake from one of the app's own pages; the
# chat socket refuses a handshake without it (web/origin.py).
SAME_ORIGIN = {"origin": "http://testserver"}
POSTGRES_URL = os.environ.get("SANDBOX_TEST_DATABASE_URL")
needs_postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SANDBOX_TEST_DATABASE_URL not set"),
]


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, uniquely named PostgreSQL database, dropped afterwards."""
    assert POSTGRES_URL is not None
    name = f"sandbox_test_{uuid.uuid4().hex[:12]}"
    server = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: a temp SQLite file, the shared packs only, no typing delay."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'sandbox.db'}",
        "var_dir": tmp_path / "var",
        "packs": str(SHARED_PACKS),
        "builtin_packs": False,
        "reply_delay_s": 0,
        "demo_users": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=SAME_ORIGIN) as test_client:
        yield test_client


def add_user(app: FastAPI, name: str, role: Role = Role.TRAINEE, mentor: str | None = None) -> User:
    """A user in the app's database, with the shared test password."""
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        mentor_user = get_user_by_name(session=session, name=mentor) if mentor else None
        user = create_user(
            session=session, name=name, role=role, password=PASSWORD, mentor=mentor_user
        )
        session.commit()
        return user


def csrf_token(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "name": name, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def start_attempt(client: TestClient, pack: str, scenario: str) -> int:
    """Start (or resume) a practice attempt through the brief page; return its id."""
    brief = client.get(f"/scenarios/{pack}/{scenario}")
    assert brief.status_code == 200
    response = client.post(
        f"/scenarios/{pack}/{scenario}/attempts",
        data={"csrf_token": csrf_token(brief.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return int(response.headers["location"].rsplit("/", 1)[1])
