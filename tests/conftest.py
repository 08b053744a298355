"""Fixtures shared by the test modules: a real app on a database copied from a migrated
template, signed-in clients, the exam cast and clock.

Tests run on SQLite. A module (or test) marked `@pytest.mark.backends("sqlite", "postgres")`
runs each test that uses a database twice, the second time on PostgreSQL when
SANDBOX_TEST_DATABASE_URL is set (skipped otherwise). The helpers these fixtures use are
plain functions in web_support.py and exam_support.py.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from exam_support import FakeClock, password_hash, service
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from web_support import (
    SAME_ORIGIN,
    login,
    make_settings,
    migrated_sqlite,
    needs_postgres,
    postgres_database,
)

from sandbox import passwords
from sandbox.config import Settings
from sandbox.storage.database import make_engine
from sandbox.storage.models import Role, User
from sandbox.web.app import create_app

BACKENDS = {"sqlite": (), "postgres": needs_postgres}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test on each backend its `backends` marker names (SQLite alone without one)."""
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is None or "database_backend" not in metafunc.fixturenames:
        return
    unknown = set(marker.args) - set(BACKENDS)
    assert not unknown, f"unknown backends {unknown}; known: {sorted(BACKENDS)}"
    metafunc.parametrize(
        "database_backend",
        [pytest.param(name, marks=BACKENDS[name]) for name in marker.args],
        indirect=True,
    )


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[PasswordHasher]:
    """Argon2id at its cheapest for the tests' users and logins: at the app's cost (64 MiB,
    three passes) each hash or check took a quarter of a second on the shared machine, and
    the suite makes hundreds. A check reads the cost from the hash, so a served app checks
    these cheaply too. Yields the app's own hasher (test_auth checks its parameters)."""
    app_hasher = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield app_hasher
    passwords._hasher = app_hasher


@pytest.fixture
def database_backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite", or the backend the `backends` marker parametrizes the test with."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(database_backend: str, tmp_path: Path) -> Iterator[str]:
    """A database at head, copied from the session's migrated template (dropped after)."""
    if database_backend == "sqlite":
        yield migrated_sqlite(tmp_path / "sandbox.db")
        return
    with postgres_database(migrated=True) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's migrated database."""
    made = make_engine(database_url)
    yield made
    made.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The real app; its database connections are closed afterwards (PostgreSQL drops the
    test database only then)."""
    # What is alive now is kept out of the collections below, so that each one looks only at
    # this test's objects (a full collection of the loaded app costs about half a second).
    gc.collect()
    gc.freeze()
    made = create_app(settings)
    yield made
    made.state.sandbox.engine.dispose()
    gc.collect()  # a connection left open shows up in the test that left it


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """The app's main client, run with its lifespan (the exam timers), as a browser would."""
    with TestClient(app, headers=SAME_ORIGIN) as test_client:
        yield test_client


# --- the exam cast --------------------------------------------------------------------------


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    """The exam service's clock, moved by the test."""
    fake = FakeClock()
    service(app).clock = fake
    return fake


@pytest.fixture
def people(app: FastAPI) -> dict[str, User]:
    """A proctor, an admin, a mentor and three trainees (tao and mei have the mentor)."""
    cast = [
        ("pat", Role.PROCTOR),
        ("boss", Role.ADMIN),
        ("mo", Role.MENTOR),
        ("tao", Role.TRAINEE),
        ("mei", Role.TRAINEE),
        ("kim", Role.TRAINEE),
    ]
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        users = {
            name: User(name=name, role=role, password_hash=password_hash()) for name, role in cast
        }
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
