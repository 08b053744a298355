"""Failed-login counts in the database: shared by workers, exact under simultaneous guesses,
kept through the migration that added them. SQLite and, when SANDBOX_TEST_DATABASE_URL is
set, PostgreSQL; real threads on the database and a real `sandbox serve`."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from server_support import Server, server_env
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select
from web_support import PASSWORD, SHARED_PACKS, needs_postgres, postgres_database

from sandbox.storage.audit import AuditEvent, record
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Role, utcnow
from sandbox.storage.throttle import Check, LoginThrottle, Rule, count_try, unlock
from sandbox.storage.users import authenticate, create_user

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'throttle.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_migration_keeps_the_data_and_adds_the_counts(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0003")  # the head before the counts moved into the database
    with Session(engine) as session:
        tao = create_user(session=session, name="tao", role=Role.TRAINEE, password=PASSWORD)
        record(
            session,
            actor_id=None,
            action="login.failed",
            subject_type="user",
            subject_id=tao.id,
            new={"name": "tao", "address": "10.0.0.1"},
        )
        session.commit()
        tao_id = tao.id
    assert "login_throttle" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "login_throttle" in inspect(engine).get_table_names()
    with Session(engine) as session:
        assert authenticate(session=session, name="tao", password=PASSWORD) is not None
        [event] = session.exec(select(AuditEvent)).all()
        assert (event.action, event.subject_id) == ("login.failed", str(tao_id))
        # The new table works on the upgraded database.
        assert tao_id is not None
        rule = Rule(free=1, window_s=900)
        check = Check(f"user:{tao_id}@10.0.0.1", rule, tao_id)
        assert count_try(engine, [check], utcnow()) is None
        assert count_try(engine, [check], utcnow()) == 60
        assert unlock(session, user_id=tao_id) == 1
        session.commit()
    engine.dispose()


def test_simultaneous_tries_on_the_database_are_each_counted(engine: Engine) -> None:
    """Forty threads try one key at the same moment: exactly the free tries get through."""
    rule = Rule(free=5, window_s=900)
    now = utcnow()
    start = threading.Barrier(40)

    def one_try(_: int) -> int | None:
        start.wait()
        return count_try(engine, [Check("address:10.0.0.9", rule)], now)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(one_try, range(40)))
    assert answers.count(None) == 5
    assert all(wait == 60 for wait in answers if wait is not None)
    with Session(engine) as session:
        row = session.get(LoginThrottle, "address:10.0.0.9")
        assert row is not None and row.failures == 5  # refused tries are not counted


def test_old_counts_are_forgotten_and_purged(engine: Engine) -> None:
    rule = Rule(free=1, window_s=900)
    then = utcnow() - timedelta(hours=2)
    for index in range(50):
        count_try(engine, [Check(f"name:hash-{index}@10.0.0.{index}", rule)], then)
    # A try two hours later: the old keys are gone, the table holds only the recent past.
    assert count_try(engine, [Check("address:10.0.0.77", rule)], utcnow()) is None
    with Session(engine) as session:
        keys = [row.key for row in session.exec(select(LoginThrottle))]
    assert keys == ["address:10.0.0.77"]


# --- a real `sandbox serve`, guessed at from many connections at once ------------------------


def add_user_to(database_url: str, name: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:
        create_user(session=session, name=name, role=Role.TRAINEE, password=PASSWORD)
        session.commit()
    engine.dispose()


def post_login(url: str, name: str, password: str, address: str) -> int:
    """One browser: fetch the form, post it; the trusted proxy's header names the address."""
    headers = {"X-Forwarded-For": address}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as browser:
        page = browser.get("/login")
        match = CSRF.search(page.text)
        assert match, page.text
        response = browser.post(
            "/login", data={"csrf_token": match.group(1), "name": name, "password": password}
        )
        return response.status_code


@pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("postgres", marks=needs_postgres)],
    ids=["sqlite-1-worker", "postgres-2-workers"],
)
def test_simultaneous_guesses_at_a_served_app_are_each_counted(
    tmp_path: Path, backend: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    with postgres_database() if backend == "postgres" else nullcontext(sqlite_url) as url:
        add_user_to(url, "tao")
        settings = {"packs": str(SHARED_PACKS), "database_url": url}
        if backend == "postgres":
            settings["workers"] = "2"  # each worker has its own memory; the counts are shared
        server = Server(tmp_path, server_env(tmp_path, **settings))
        server.start()
        try:
            with ThreadPoolExecutor(24) as pool:
                answers = list(
                    pool.map(
                        lambda _: post_login(server.url, "tao", "a guess", "203.0.113.5"),
                        range(24),
                    )
                )
            # Exactly the five free tries were checked; every other one had to wait.
            assert Counter(answers) == Counter({400: 5, 429: 19}), server.log_tail()
            # The owner, at another address, signs in with the right password.
            assert post_login(server.url, "tao", PASSWORD, "198.51.100.7") == 303
            if backend == "postgres":
                assert "2 workers" in server.log_tail()
        finally:
            server.stop()


def test_the_table_is_empty_after_the_migration(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM login_throttle")).scalar() == 0
