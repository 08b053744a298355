"""Database engine creation and programmatic Alembic upgrades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from sandbox.private import create_private_file
from sandbox.storage.sqlite_writers import serialize_writers

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Up to one connection per thread of the web app's thread pool (40). SQLite keeps them all
# open (a file handle each); PostgreSQL keeps 10 per process and opens the rest on demand, so
# several workers stay under the server's max_connections (100 by default).
THREADS = 40
POSTGRES_POOL_SIZE = 10


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets page requests read while a chat socket writes; busy_timeout waits out the
    # short write locks instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # In WAL mode NORMAL never corrupts the file; it skips the fsync of every commit, so a
    # power cut (not a crash of the app) may lose the last moments of writes.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(database_url: str) -> Engine:
    """An engine for SQLite (file made ready, WAL) or PostgreSQL (`postgresql+psycopg://`)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        pool: dict[str, int] = {}
        if url.database and url.database != ":memory:":
            # SQLite creates its file 0644 and gives the -wal and -shm files the database
            # file's mode: made here first, all three are 0600 and the folder 0700.
            create_private_file(Path(url.database))
            # Connections that overflow a small pool are closed on return and opened (and
            # set up) again a moment later: keep as many as there are threads.
            pool = {"pool_size": THREADS, "max_overflow": 10}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_on_connect)
        serialize_writers(engine, wait_s=SQLITE_BUSY_TIMEOUT_MS / 1000)
        return engine
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=THREADS - POSTGRES_POOL_SIZE,
    )


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that runs the package's migrations on `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`; safe to run at every start."""
    command.upgrade(alembic_config(engine), revision)
