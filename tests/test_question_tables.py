"""Question tables: CSV and XLSX import with a per-row report (nothing imported if any row
is wrong), export, and the template, through the real CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from cli_support import run_in_process
from openpyxl import load_workbook

from sandbox.questions.loader import load_bank
from sandbox.questions.tabular import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--bank", "imported", "--title", "Imported", "--locale", "en", "--trade", "pharmacy"]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


GOOD = {
    "id": "imp-tf",
    "type": "true_false",
    "prompt": "Insulin may be frozen.",
    "correct": "false",
    "explanation": "Frozen insulin must not be used.",
    "tags": "cold-chain, insulin",
}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_template_imports_and_a_bank_round_trips(tmp_path: Path, suffix: str) -> None:
    template = tmp_path / f"template{suffix}"
    assert run_in_process(["questions-template", str(template)]).returncode == 0
    out = tmp_path / "bank.yaml"
    done = run_in_process(["questions-import", str(template), "--out", str(out), *ARGS])
    assert done.returncode == 0, done.stdout + done.stderr
    assert [q.id for q in load_bank(out).questions] == ["example-single", "example-short"]
    # export a bundled bank and import it again: the same questions
    source = ROOT / "question_banks" / "aesthetics-en.yaml"
    table = tmp_path / f"export{suffix}"
    assert run_in_process(["questions-export", str(source), str(table)]).returncode == 0
    if suffix == ".xlsx":
        header = next(load_workbook(table).worksheets[0].iter_rows(values_only=True))
        assert list(header) == list(COLUMNS)
    again = tmp_path / "again.yaml"
    args = ["--bank", "again", "--title", "Again", "--locale", "en", "--trade", "aesthetics"]
    # its ids are in the served banks: refused unless forced
    refused = run_in_process(["questions-import", str(table), "--out", str(again), *args])
    assert refused.returncode == 2 and "already in the served banks" in refused.stderr
    assert not again.exists()
    forced = run_in_process(["questions-import", str(table), "--out", str(again), *args, "--force"])
    assert forced.returncode == 0, forced.stdout
    before, after = load_bank(source), load_bank(again)
    assert [q.model_dump() for q in before.questions] == [q.model_dump() for q in after.questions]


def test_bad_rows_are_all_reported_and_nothing_is_imported(tmp_path: Path) -> None:
    table = write_csv(
        tmp_path / "bad.csv",
        [
            GOOD,
            {**GOOD, "id": "imp-single", "type": "single", "options": "a | b", "correct": "3"},
            {**GOOD, "id": "imp-points", "points": "lots"},
            {**GOOD, "id": "Bad Id"},
            {**GOOD, "id": "imp-short", "type": "short", "correct": "", "match": "4 g"},
        ],
    )
    out = tmp_path / "bank.yaml"
    result = run_in_process(["questions-import", str(table), "--out", str(out), *ARGS])
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert (
        f"{table}:3: question 'imp-single' › correct: '3' is not the number of an option (1 to 2)"
        in lines
    )
    assert f"{table}:4: question 'imp-points' › points: 'lots' is not a number" in lines
    assert any(line.startswith(f"{table}:5: question 'Bad Id' › id:") for line in lines)
    assert any(
        line.startswith(f"{table}:6: question 'imp-short'") and "needs 'examples'" in line
        for line in lines
    ), lines
    assert "nothing imported" in result.stderr
    assert not out.exists()


def test_a_table_with_unknown_columns_or_not_utf8_is_refused(tmp_path: Path) -> None:
    odd = tmp_path / "odd.csv"
    odd.write_text("id,type,prompt,explanation,colour\nx,true_false,p,e,red\n", "utf-8")
    result = run_in_process(
        ["questions-import", str(odd), "--out", str(tmp_path / "o.yaml"), *ARGS]
    )
    assert result.returncode == 2 and f"{odd}:1: unknown columns colour" in result.stdout
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,type,prompt,explanation\nx,true_false,caf\xe9,e\n".encode("latin-1"))
    result = run_in_process(
        ["questions-import", str(latin), "--out", str(tmp_path / "o.yaml"), *ARGS]
    )
    assert result.returncode == 2 and "not UTF-8 text" in result.stderr
