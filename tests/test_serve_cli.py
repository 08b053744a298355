"""`sandbox serve` options checked before anything starts, through Typer's runner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sandbox.cli.main import app


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    env = {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env=env)
    assert result.exit_code == 2
    assert "several workers need PostgreSQL" in result.output
    assert not (tmp_path / "serve.db").exists(), "refused before touching the database"


def test_workers_come_from_the_environment_too(tmp_path: Path) -> None:
    env = {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
        "SANDBOX_WORKERS": "3",
    }
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert result.exit_code == 2
    assert "SANDBOX_DATABASE_URL" in result.output
