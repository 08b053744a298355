"""The `sandbox` command starts without the database, web or Chinese-text stacks.

Pack authors run `sandbox --help`, `validate` and `test` all day: importing SQLAlchemy,
SQLModel, Alembic, FastAPI, Starlette or jieba at module level would cost them most of a
second at every start (bench/cli_startup.py measures it). Each check runs in a fresh
interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "fastapi", "starlette", "jieba", "uvicorn")

PROBE = """
import json, runpy, sys
argv = json.loads(sys.argv[1])
if argv is None:
    import sandbox.cli.main
else:
    sys.argv = ["sandbox", *argv]
    try:
        runpy.run_module("sandbox", run_name="__main__")
    except SystemExit:
        pass
sys.stdout = sys.__stdout__
print("\\n" + json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

TINY = (Path(__file__).parent / "data" / "tiny-pack-en.yaml").read_text(encoding="utf-8")


def imported_by(argv: list[str] | None) -> tuple[set[str], str]:
    """Top-level packages loaded by importing `sandbox.cli.main` (argv None) or running the
    command with `argv`, in a fresh interpreter; and what the command printed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    output, _, last = done.stdout.rstrip().rpartition("\n")
    return set(json.loads(last)), output + done.stderr


def test_importing_the_cli_loads_no_database_web_or_jieba() -> None:
    modules, _ = imported_by(None)
    assert "sandbox" in modules and "typer" in modules  # the probe did import the CLI
    assert not modules & set(HEAVY), f"sandbox.cli.main imports {sorted(modules & set(HEAVY))}"
    # Nor the pack stack: `--help` needs only the commands' signatures.
    assert "pydantic" not in modules and "yaml" not in modules


def test_help_lists_every_command_without_the_heavy_stacks() -> None:
    modules, output = imported_by(["--help"])
    for command in ("validate", "test", "grade", "play", "packs", "serve", "regrade", "users"):
        assert f"  {command}" in output
    assert not modules & {*HEAVY, "rich", "pydantic"}, sorted(modules & {*HEAVY, "rich"})


@pytest.mark.parametrize("command", ["validate", "test"])
def test_validate_and_test_of_an_english_pack_skip_the_database(
    tmp_path: Path, command: str
) -> None:
    pack = tmp_path / "tiny.yaml"
    pack.write_text(TINY, encoding="utf-8")
    modules, output = imported_by([command, str(pack)])
    assert ("valid" in output) if command == "validate" else ("passed" in output), output
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_regrade_help_still_describes_its_options() -> None:
    modules, output = imported_by(["regrade", "--help"])
    for option in ("--pack", "--scenario", "--dry-run", "--all", "--jobs"):
        assert option in output
    assert "sqlmodel" not in modules
