"""What Sandbox creates on disk is its owner's alone: var/ 0700, the SQLite database and its
-wal and -shm files 0600, the generated secret and the demo logins 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner
from web_support import make_settings

from sandbox.cli.main import app as cli
from sandbox.storage.database import make_engine, upgrade
from sandbox.web.app import create_app
from sandbox.web.demo import DEMO_FILE_NAME


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The usual umask, under which files are made world-readable unless told otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_embedded_database_and_var_are_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    settings = make_settings(
        tmp_path, database_url=f"sqlite:///{var / 'sandbox.db'}", var_dir=var, demo_users=True
    )
    app = create_app(settings)
    engine = app.state.sandbox.engine
    with engine.connect() as connection:  # an open connection keeps the -wal and -shm files
        connection.execute(text("SELECT count(*) FROM users")).one()
        database = var / "sandbox.db"
        modes = {
            path.name: mode(path)
            for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
        }
        assert modes == {"sandbox.db": 0o600, "sandbox.db-wal": 0o600, "sandbox.db-shm": 0o600}
    assert mode(var) == 0o700
    assert mode(var / "secret_key") == 0o600
    assert mode(var / DEMO_FILE_NAME) == 0o600
    engine.dispose()


def test_a_database_in_a_new_folder_elsewhere_is_private_too(tmp_path: Path) -> None:
    database = tmp_path / "data" / "nested" / "sandbox.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    assert mode(database) == 0o600 and mode(database.parent) == 0o700
    engine.dispose()


def test_the_console_creates_a_private_database(tmp_path: Path) -> None:
    var = tmp_path / "var"
    result = CliRunner().invoke(
        cli,
        ["users", "add", "tao"],
        input="s3cret-pass\ns3cret-pass\n",
        env={
            "SANDBOX_DATABASE_URL": f"sqlite:///{var / 'sandbox.db'}",
            "SANDBOX_VAR_DIR": str(var),
        },
    )
    assert result.exit_code == 0, result.output
    assert mode(var) == 0o700 and mode(var / "sandbox.db") == 0o600


def test_an_existing_folder_keeps_the_mode_its_operator_chose(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    os.chmod(shared, 0o750)
    engine = make_engine(f"sqlite:///{shared / 'sandbox.db'}")
    upgrade(engine)
    assert mode(shared) == 0o750 and mode(shared / "sandbox.db") == 0o600
    engine.dispose()
