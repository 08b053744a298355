"""Shared helpers of the web, storage and auth tests: a real app on a temporary database.

The fixtures built from these live in conftest.py. Databases are copied from one migrated
template per test session (a SQLite file, a PostgreSQL template database) rather than
migrated again for every app; the migration tests run the real upgrade from empty.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlmodel import Session

from sandbox.config import Settings
from sandbox.private import FILE_MODE
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Role, User
from sandbox.storage.users import create_user, get_user_by_name

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


def _postgres_server() -> URL:
    assert POSTGRES_URL is not None
    return make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")


def _url_of(server: URL, database: str) -> str:
    return server.set(database=database).render_as_string(hide_password=False)


@functools.cache
def _postgres_template() -> str:
    """The name of a PostgreSQL database migrated to head once per test session (a unique
    name: other sessions may share the server); dropped when the session ends."""
    server = _postgres_server()
    name = f"sandbox_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(_url_of(server, name))
    upgrade(engine)
    engine.dispose()  # CREATE DATABASE ... TEMPLATE needs it without connections

    def drop() -> None:
        dropper = create_engine(server, isolation_level="AUTOCOMMIT")
        with dropper.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        dropper.dispose()

    atexit.register(drop)
    return name


@contextmanager
def postgres_database(*, migrated: bool = False) -> Iterator[str]:
    """The URL of a new, uniquely named PostgreSQL database, dropped afterwards: empty, or
    with `migrated` a copy of the session's migrated template (no Alembic run)."""
    server = _postgres_server()
    name = f"sandbox_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_postgres_template()}"' if migrated else ""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{template}'))
    try:
        yield _url_of(server, name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@functools.cache
def _sqlite_template() -> Path:
    """A SQLite file migrated to head once per test session, by the real Alembic upgrade."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "sandbox.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL: the file alone is complete
    return path


def migrated_sqlite(path: Path) -> str:
    """The URL of a SQLite database at `path`, copied from the session's migrated template
    unless the file exists (an app made again on the same folder keeps its data). The copy
    is made 0600, as the app makes its own database file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with _sqlite_template().open("rb") as source:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(descriptor, "wb") as target:
                shutil.copyfileobj(source, target)
    return f"sqlite:///{path}"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: the shared packs only, no typing delay, no bundled knowledge
    base (indexing it costs each app a sixth of a second; tests/test_knowledge*.py turn it
    on), and unless a database is given a SQLite file in `tmp_path` copied from the migrated
    template."""
    if "database_url" not in overrides:
        overrides["database_url"] = migrated_sqlite(tmp_path / "sandbox.db")
    values: dict[str, Any] = {
        "var_dir": tmp_path / "var",
        "packs": str(SHARED_PACKS),
        "builtin_packs": False,
        "builtin_knowledge": False,
        "reply_delay_s": 0,
        "demo_users": False,
    }
    values.update(overrides)
    return Settings(**values)


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
