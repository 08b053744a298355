"""The live monitor's bus across processes: PostgreSQL's LISTEN/NOTIFY, with real processes."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from sandbox.config import Settings
from sandbox.conversations.events import ExamEvent, InProcessBus
from sandbox.storage.database import make_engine
from sandbox.web.monitor_postgres import PostgresBus, monitor_bus

BASE_URL = os.environ.get("SANDBOX_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 120  # bounds the waits; a correct build answers in well under a second

# A monitor in another process: subscribes to exam 7 and prints what it hears.
MONITOR = textwrap.dedent(
    """
    import asyncio, sys
    from sandbox.web.monitor_postgres import PostgresBus

    async def main():
        bus = PostgresBus(sys.argv[1])
        async with bus.subscribe(7) as subscription:
            await asyncio.wait_for(bus.listener.connected.wait(), 60)
            print("subscribed", flush=True)
            while True:
                batch = await asyncio.wait_for(subscription.next_batch(), 120)
                for news in sorted(batch, key=lambda n: (n.user_id is not None, n.user_id or 0)):
                    print("heard", news.exam_id, news.user_id, flush=True)
                    if news.user_id == 999:
                        return

    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    if not BASE_URL:
        pytest.skip("SANDBOX_TEST_DATABASE_URL not set")
    name = f"sandbox_monitor_{secrets.token_hex(4)}"
    admin = make_engine(BASE_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(
        make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def wait_for(process: subprocess.Popen[str], wanted: str, seen: list[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the monitor process exited; it printed {seen}")
        seen.append(line.strip())
        if line.strip() == wanted:
            return
    raise AssertionError(f"never printed {wanted!r}; printed {seen}")


def publish(engine: Engine, news: ExamEvent, *, commit: bool = True) -> None:
    bus = PostgresBus(url_of(engine))
    with Session(engine) as session:
        bus.publish(session, news)
        if commit:
            session.commit()
        else:
            session.rollback()


@pytest.mark.postgres
def test_a_monitor_hears_committed_events_from_another_process(engine: Engine) -> None:
    seen: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", MONITOR, url_of(engine)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    ) as monitor:
        try:
            wait_for(monitor, "subscribed", seen)
            wait_for(monitor, "heard 7 None", seen)  # listening: read every row once
            publish(engine, ExamEvent(7, 1), commit=False)  # rolled back: never heard
            publish(engine, ExamEvent(8, 2))  # another exam: not this monitor's
            publish(engine, ExamEvent(7, 3))
            wait_for(monitor, "heard 7 3", seen)
            # Cut the listening connection: after it reconnects, the monitor reads all again.
            with engine.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
                    )
                )
                connection.commit()
            wait_for(monitor, "heard 7 None", seen)
            publish(engine, ExamEvent(7, 999))
            wait_for(monitor, "heard 7 999", seen)
            assert monitor.wait(timeout=60) == 0
        finally:
            if monitor.poll() is None:
                monitor.kill()
    assert "heard 7 1" not in seen
    assert not any(line.startswith("heard 8") for line in seen)


def test_the_bus_follows_the_database(tmp_path: Path) -> None:
    sqlite = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    postgres = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:5432/db")
    assert isinstance(monitor_bus(sqlite), InProcessBus)
    assert isinstance(monitor_bus(postgres), PostgresBus)


# A candidate's chat page in another process: hears only its own clock events.
CLOCK_WATCHER = textwrap.dedent(
    """
    import asyncio, sys
    from sandbox.web.monitor_postgres import PostgresBus

    async def main():
        bus = PostgresBus(sys.argv[1])
        async with bus.subscribe_clock(7, 3) as subscription:
            await asyncio.wait_for(bus.listener.connected.wait(), 60)
            print("subscribed", flush=True)
            while True:
                for news in await asyncio.wait_for(subscription.next_batch(), 120):
                    print("heard", news.exam_id, news.user_id, news.clock, flush=True)
                    if news.clock:
                        return

    asyncio.run(main())
    """
)


@pytest.mark.postgres
def test_a_chat_page_hears_its_own_clock_from_another_process(engine: Engine) -> None:
    """Extra time given through one worker reaches the candidate's page on another; a
    turn's event, or another candidate's clock, does not wake it."""
    seen: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", CLOCK_WATCHER, url_of(engine)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    ) as watcher:
        try:
            wait_for(watcher, "subscribed", seen)
            wait_for(watcher, "heard 7 None False", seen)  # listening: look again once
            publish(engine, ExamEvent(7, 3))  # a turn: not a clock change
            publish(engine, ExamEvent(7, 4, clock=True))  # another candidate's clock
            publish(engine, ExamEvent(7, 3, clock=True))
            wait_for(watcher, "heard 7 3 True", seen)
            assert watcher.wait(timeout=60) == 0
        finally:
            if watcher.poll() is None:
                watcher.kill()
    assert "heard 7 3 False" not in seen and not any("heard 7 4" in line for line in seen)
