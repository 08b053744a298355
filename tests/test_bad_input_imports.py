"""Bad input to the import and export commands (`questions-import`, `questions-export`,
`questions-template`, `users import`), run through the real CLI: a clear message with the file
and row (or the path that cannot be written), exit code 2, never an "internal error", and
nothing written (the bad-input audit's findings 1.5-1.10, 2.1 and 2.3)."""

from __future__ import annotations

import csv
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from cli_support import run_in_process
from sqlmodel import Session, select
from test_bad_input_cli import BANK

from sandbox.cli.questions import MAX_TABLE_BYTES
from sandbox.cli.web import MAX_USERS_CSV_BYTES
from sandbox.questions.tabular import COLUMNS
from sandbox.storage.audit import AuditEvent
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import User

ARGS = ["--bank", "imported", "--title", "Imported", "--locale", "en", "--trade", "pharmacy"]
PASSWORD = "Correct-Horse-9-battery"


def run(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_in_process([str(a) for a in args], env=env)


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    assert "Traceback" not in text and "internal error" not in text, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    return text


def row(**cells: str) -> list[str]:
    base = {"id": "q1", "type": "true_false", "prompt": "True?", "correct": "true"}
    base["explanation"] = "Because."
    base.update(cells)
    return [base.get(c, "") for c in COLUMNS]


def write_rows(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    out = io.StringIO()
    csv.writer(out).writerows([header or list(COLUMNS), *rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def import_(table: Path, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return run("questions-import", table, "--out", out, *ARGS, *more)


# --- 1.5 a cell over the csv module's limit ------------------------------------------------


def test_a_huge_question_cell_names_the_row_and_the_limit(tmp_path: Path) -> None:
    table = write_rows(tmp_path / "t.csv", [row(), row(id="q2", explanation="x" * 200_000)])
    out = tmp_path / "o.yaml"
    assert_refused(
        import_(table, out),
        f"{table}:3: a cell is longer than 131,072 characters, the most a cell may hold",
    )
    assert not out.exists()


# --- 1.6 deeply nested JSON in `match` ------------------------------------------------------


@pytest.mark.parametrize("depth", [50_000, 40])
def test_deeply_nested_match_json_names_the_row(tmp_path: Path, depth: int) -> None:
    deep = '{"any": ' + "[" * depth + "]" * depth + "}"
    table = write_rows(
        tmp_path / "t.csv", [row(), row(id="q2", type="short", correct="", match=deep)]
    )
    assert_refused(
        import_(table, tmp_path / "o.yaml"),
        f"{table}:3: question 'q2' › match: JSON nested more than 10 levels deep",
    )


# --- 1.7 a damaged workbook -----------------------------------------------------------------


def workbook(path: Path, change: str) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append(row())
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                if change == "no-sheet":
                    continue
                data = data[: len(data) // 2]
            target.writestr(item, data)
    return path


@pytest.mark.parametrize("change", ["truncated-sheet", "no-sheet"])
def test_a_damaged_workbook_is_a_clear_error(tmp_path: Path, change: str) -> None:
    table = workbook(tmp_path / "t.xlsx", change)
    text = assert_refused(import_(table, tmp_path / "o.yaml"), f"{table}: ")
    assert "not a readable XLSX workbook" in text or "the workbook has no sheet" in text


# --- 1.8 a folder as the table ---------------------------------------------------------------


def test_a_folder_as_the_table_is_a_clear_error(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.mkdir()
    assert_refused(import_(table, tmp_path / "o.yaml"), f"{table}: cannot read: a folder")


# --- 1.9 output paths -------------------------------------------------------------------------


def test_output_paths_are_checked_before_any_work(tmp_path: Path) -> None:
    bank = tmp_path / "b.yaml"
    bank.write_text(BANK, encoding="utf-8")
    table = write_rows(tmp_path / "t.csv", [row()])
    folder_csv = tmp_path / "o.csv"
    folder_csv.mkdir()
    folder_xlsx = tmp_path / "o.xlsx"
    folder_xlsx.mkdir()
    folder_yaml = tmp_path / "o.yaml"
    folder_yaml.mkdir()
    missing = tmp_path / "nodir"
    cases = [
        (
            ["questions-export", bank, missing / "o.csv"],
            f"{missing / 'o.csv'}: cannot write: no folder",
        ),
        (["questions-export", bank, folder_csv], f"{folder_csv}: cannot write: it is a folder"),
        (["questions-export", bank, folder_xlsx], f"{folder_xlsx}: cannot write: it is a folder"),
        (
            ["questions-template", missing / "t.csv"],
            f"{missing / 't.csv'}: cannot write: no folder",
        ),
        (["questions-template", folder_csv], f"{folder_csv}: cannot write: it is a folder"),
        (
            ["questions-import", table, "--out", missing / "o.yaml", *ARGS],
            f"{missing / 'o.yaml'}: cannot write: no folder",
        ),
        (
            ["questions-import", table, "--out", folder_yaml, *ARGS, "--force"],
            f"{folder_yaml}: cannot write: it is a folder",
        ),
    ]
    for argv, message in cases:
        result = run(*argv)
        assert_refused(result, message)
        assert result.stdout == ""
    assert not missing.exists()


# --- 1.10 the size limit before reading ------------------------------------------------------


def test_a_huge_table_is_refused_by_its_size(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    with table.open("wb") as handle:
        handle.truncate(3 * 1024**3)
    assert_refused(
        import_(table, tmp_path / "o.yaml"),
        f"{table}: file is 3,221,225,472 bytes; a question table may be at most "
        f"{MAX_TABLE_BYTES:,}",
    )


# --- 2.3 cells that no column names ----------------------------------------------------------


def test_extra_cells_a_column_named_twice_and_a_blank_header_are_errors(tmp_path: Path) -> None:
    out = tmp_path / "o.yaml"
    extra = write_rows(tmp_path / "extra.csv", [row(), [*row(id="q2"), "extra", "extra2"]])
    assert_refused(
        import_(extra, out),
        f"{extra}:3: 16 cells, but the header names 14 columns (a value in column 15)",
    )
    twice = write_rows(tmp_path / "twice.csv", [[*row(), "Pick one"]], header=[*COLUMNS, "prompt"])
    assert_refused(
        import_(twice, out), f"{twice}:1: column 'prompt' is named twice (columns 6 and 15)"
    )
    blank = write_rows(
        tmp_path / "blank.csv", [row(), [*row(id="q2"), "lost"]], header=[*COLUMNS, ""]
    )
    assert_refused(
        import_(blank, out),
        f"{blank}:3: column 15 has no name in the header, but this row has a value there",
    )
    assert not out.exists()
    # Empty cells past the header (as spreadsheets save them) are fine.
    padded = write_rows(tmp_path / "padded.csv", [[*row(), "", " "]], header=[*COLUMNS, ""])
    done = import_(padded, out)
    assert done.returncode == 0, done.stdout + done.stderr


# --- users import: 1.5, 1.10, 2.1 ------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
    }


def stored(env: dict[str, str]) -> tuple[dict[str, User], list[AuditEvent]]:
    engine = make_engine(env["SANDBOX_DATABASE_URL"])
    upgrade(engine)
    with Session(engine) as session:
        users = {user.name: user for user in session.exec(select(User)).all()}
        events = list(session.exec(select(AuditEvent)).all())
    engine.dispose()
    return users, events


def users_csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "u.csv"
    path.write_text("name,role,password,mentor\n" + "".join(r + "\n" for r in rows), "utf-8")
    return path


def test_a_huge_user_cell_names_the_line_and_the_limit(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "u.csv"
    path.write_text(f"name,role,password\nalice,trainee,{'x' * 200_000}\n", encoding="utf-8")
    assert_refused(
        run("users", "import", path, env=env),
        f"{path}:2: a cell is longer than 131,072 characters",
        "nothing imported",
    )
    assert stored(env)[0] == {}


def test_a_huge_user_file_is_refused_by_its_size(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "u.csv"
    with path.open("wb") as handle:
        handle.truncate(MAX_USERS_CSV_BYTES + 1)
    assert_refused(
        run("users", "import", path, env=env),
        f"{path}: file is {MAX_USERS_CSV_BYTES + 1:,} bytes; a user CSV file may be at most "
        f"{MAX_USERS_CSV_BYTES:,}",
    )
    folder = tmp_path / "people.csv"
    folder.mkdir()
    assert_refused(run("users", "import", folder, env=env), f"cannot read {folder}: a folder")


def test_user_import_applies_the_mentor_rules_and_writes_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = users_csv(
        tmp_path,
        f"alice,trainee,{PASSWORD},alice",  # her own mentor
        f"bob,trainee,{PASSWORD},",
        f"carol,trainee,{PASSWORD},bob",  # a trainee as mentor
        f"mo,mentor,{PASSWORD},max",
        f"max,mentor,{PASSWORD},mo",  # a circle of mentors
    )
    assert_refused(
        run("users", "import", path, env=env),
        f"{path}:2: mentor 'alice': a user cannot be their own mentor",
        f"{path}:4: mentor 'bob': 'bob' is a trainee, not a mentor",
        f"{path}:6: mentor 'mo': 'mo' is mentored by 'max'",
        "nothing imported: 3 problems",
    )
    assert stored(env) == ({}, [])


def test_user_import_audits_each_mentor(tmp_path: Path, env: dict[str, str]) -> None:
    path = users_csv(tmp_path, f"tao,trainee,{PASSWORD},mei", f"mei,mentor,{PASSWORD},")
    done = run("users", "import", path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    users, events = stored(env)
    assert users["tao"].mentor_id == users["mei"].id
    mentor_events = [e for e in events if e.action == "user.mentor"]
    assert len(mentor_events) == 1 and mentor_events[0].subject_id == str(users["tao"].id)
