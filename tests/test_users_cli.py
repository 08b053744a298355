"""`sandbox users add` and `sandbox users import` through Typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import User
from sandbox.storage.users import authenticate


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
    }


def users(env: dict[str, str]) -> dict[str, User]:
    engine = make_engine(env["SANDBOX_DATABASE_URL"])
    upgrade(engine)
    with Session(engine) as session:
        found = {user.name: user for user in session.exec(select(User)).all()}
    engine.dispose()
    return found


def test_add_prompts_twice_and_hides_the_password(env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["users", "add", "tao", "--role", "mentor"],
        input="s3cret-pass\ns3cret-pass\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "s3cret-pass" not in result.output
    assert "added mentor tao" in result.output
    stored = users(env)["tao"]
    assert stored.role == "mentor"
    engine = make_engine(env["SANDBOX_DATABASE_URL"])
    with Session(engine) as session:
        assert authenticate(session=session, name="tao", password="s3cret-pass") is not None
    engine.dispose()


def test_add_asks_again_when_the_confirmation_differs(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app,
        ["users", "add", "tao"],
        input="first-pass\nsecond-pass\nfirst-pass\nfirst-pass\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert users(env)["tao"].role == "trainee"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "tao", "--role", "wizard"], "unknown role"),
        (["users", "add", "bad name!"], "name"),
        (["users", "add", "tao", "--mentor", "ghost"], "no user called 'ghost'"),
    ],
)
def test_add_refuses_bad_input(env: dict[str, str], args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args, input="s3cret-pass\ns3cret-pass\n", env=env)
    assert result.exit_code == 2
    assert message in result.output
    assert users(env) == {}


def test_add_refuses_a_duplicate_and_a_short_password(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(app, ["users", "add", "tao"], input="s3cret-pass\ns3cret-pass\n", env=env)
    again = runner.invoke(app, ["users", "add", "tao"], input="s3cret-pass\ns3cret-pass\n", env=env)
    assert again.exit_code == 2 and "already exists" in again.output
    short = runner.invoke(app, ["users", "add", "mei"], input="short\nshort\n", env=env)
    assert short.exit_code == 2 and "at least 8 characters" in short.output


def test_import_creates_every_user_with_mentors(env: dict[str, str], tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "name,role,password,mentor\n"
        "tao,trainee,trainee-pass,mei\n"
        "mei,mentor,mentor-pass,\n"
        "lin,admin,admin-pass-1,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["users", "import", str(csv_file)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 3 users" in result.output
    found = users(env)
    assert found["tao"].mentor_id == found["mei"].id
    assert found["lin"].role == "admin"


def test_import_reports_every_bad_row_and_imports_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "name,role,password\n"
        "tao,trainee,trainee-pass\n"
        "mei,wizard,mentor-pass\n"
        "lin,admin,short\n"
        "tao,trainee,another-pass\n"
        "too,many,cells,here\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["users", "import", str(csv_file)], env=env)
    assert result.exit_code == 2  # bad input, as every command refuses it
    assert f"{csv_file}:3: unknown role 'wizard'" in result.output
    assert f"{csv_file}:4: password must be at least 8 characters" in result.output
    assert f"{csv_file}:5: name 'tao' is already on line 2" in result.output
    assert f"{csv_file}:6: expected 3 columns, found 4" in result.output
    assert "nothing imported" in result.output
    assert users(env) == {}


def test_import_refuses_a_wrong_header(env: dict[str, str], tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("user,password\ntao,trainee-pass\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["users", "import", str(csv_file)], env=env)
    assert result.exit_code == 2  # bad input, as every command refuses it
    assert ":1: expected the header name,role,password[,mentor]" in result.output


def test_import_of_a_missing_file_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["users", "import", str(tmp_path / "nope.csv")], env=env)
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_serve_refuses_production_without_a_secret(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["serve"], env={**env, "SANDBOX_ENV": "production"})
    assert result.exit_code == 2
    assert "SANDBOX_SECRET_KEY" in result.output


def test_add_reads_the_password_from_stdin(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["users", "add", "ana", "--password-stdin"], input="scripted-pass\n", env=env
    )
    assert result.exit_code == 0, result.output
    assert "scripted-pass" not in result.output
    engine = make_engine(env["SANDBOX_DATABASE_URL"])
    with Session(engine) as session:
        assert authenticate(session=session, name="ana", password="scripted-pass") is not None
    engine.dispose()
    empty = CliRunner().invoke(app, ["users", "add", "ben", "--password-stdin"], input="", env=env)
    assert empty.exit_code == 2 and "standard input gave no password" in empty.output
    assert "ben" not in users(env)


def test_mentor_assigns_changes_and_clears(env: dict[str, str]) -> None:
    runner = CliRunner()
    for name, role in (("mo", "mentor"), ("tao", "trainee"), ("kim", "trainee")):
        result = runner.invoke(
            app,
            ["users", "add", name, "--role", role, "--password-stdin"],
            input="long-enough-pass\n",
            env=env,
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["users", "mentor", "tao", "mo"], env=env)
    assert result.exit_code == 0 and "tao's mentor is now mo" in result.output
    assert users(env)["tao"].mentor_id == users(env)["mo"].id
    refused = runner.invoke(app, ["users", "mentor", "tao", "kim"], env=env)
    assert refused.exit_code == 2 and "'kim' is a trainee, not a mentor" in refused.output
    missing = runner.invoke(app, ["users", "mentor", "tao", "nobody"], env=env)
    assert missing.exit_code == 2 and "no user called 'nobody'" in missing.output
    cleared = runner.invoke(app, ["users", "mentor", "tao", "none"], env=env)
    assert cleared.exit_code == 0 and "now has no mentor" in cleared.output
    assert users(env)["tao"].mentor_id is None
