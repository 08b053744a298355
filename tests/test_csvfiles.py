"""CSV files as spreadsheets save them (sandbox/csvfiles.py): byte-order marks, GBK from
Chinese Excel, semicolons and tabs; and the written-score and user imports reading such files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from exam_support import FakeClock, audit_trail, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_support import csrf_token

from sandbox.cli.main import app as cli
from sandbox.csvfiles import CsvEncodingError, decode_csv, read_csv_rows, sniff_delimiter
from sandbox.exams.policy import parse_written_scores
from sandbox.storage.models import User


def test_encodings_spreadsheets_save_are_read() -> None:
    text = "trainee,score\n王芳,88\n"
    assert decode_csv(text.encode("utf-8")) == text
    assert decode_csv(b"\xef\xbb\xbf" + text.encode("utf-8")) == text  # Excel "CSV UTF-8"
    assert decode_csv(text.encode("gbk")) == text  # Excel "CSV" on a Chinese Windows
    assert decode_csv("学员,分数\n张伟,90\n".encode("gb18030")) == "学员,分数\n张伟,90\n"
    with pytest.raises(CsvEncodingError, match="neither UTF-8 nor GBK"):
        decode_csv(b"\xff\xfe\x00bad")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("trainee,score\ntao,88\n", ","),
        ("trainee;score\ntao;88,5\n", ";"),
        ("trainee\tscore\ntao\t88\n", "\t"),
        ('"a;b",score\ntao,1\n', ","),  # a separator inside quotes does not count
        ("\n\ntrainee;score\n", ";"),
        ("trainee\n", ","),
        ("", ","),
    ],
)
def test_the_separator_is_the_header_lines(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


def test_rows_keep_the_line_they_start_on() -> None:
    rows = read_csv_rows('\ufefftrainee;note\ntao;"two\nlines"\nmei;x\n')
    assert [(r.line, r.cells) for r in rows] == [
        (1, ["trainee", "note"]),
        (2, ["tao", "two\nlines"]),
        (4, ["mei", "x"]),
    ]


def test_written_scores_read_semicolons_and_report_the_right_lines() -> None:
    parsed = parse_written_scores("\ufeffscore;trainee\n88;tao\n\n120;mei\n", ["tao", "mei"])
    assert parsed.errors == ["line 4: score 120 is out of range (0 to 100)"]
    parsed = parse_written_scores("name;points\ntao;1\n", ["tao"])
    assert parsed.errors == [
        "line 1: the header must name the columns trainee and score, got 'name;points'"
    ]
    parsed = parse_written_scores("trainee\tscore\ntao\t88\nmei\t59.5\n", ["tao", "mei"])
    assert parsed.ok and parsed.scores == {"tao": 88.0, "mei": 59.5}


def _upload(proctor: TestClient, exam_id: int, data: bytes) -> Any:
    page = proctor.get(f"/proctor/exams/{exam_id}")
    return proctor.post(
        f"/proctor/exams/{exam_id}/written/import",
        data={"csrf_token": csrf_token(page.text), "csv_text": ""},
        files={"csv_file": ("scores.csv", data, "text/csv")},
        follow_redirects=False,
    )


def test_a_gbk_file_with_semicolons_from_chinese_excel_is_imported(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    # Login names are ASCII; the sheet's other columns are Chinese, so the file is not UTF-8.
    sheet = "姓名;trainee;score\r\n陶伟;tao;91\r\n梅芳;mei;75.5\r\n"
    with pytest.raises(UnicodeDecodeError):
        sheet.encode("gbk").decode("utf-8")
    response = _upload(proctor, exam_id, sheet.encode("gbk"))
    assert response.status_code == 303, response.text
    event = audit_trail(app, "written.import")[-1]
    assert event.new == {"scores": {"tao": 91.0, "mei": 75.5}, "retake": False}
    # The same with a byte-order mark and commas (Excel's "CSV UTF-8").
    again = "\ufeff姓名,trainee,score\r\n陶伟,tao,92\r\n梅芳,mei,76\r\n".encode()
    assert _upload(proctor, exam_id, again).status_code == 303
    assert audit_trail(app, "written.import")[-1].new["scores"] == {"tao": 92.0, "mei": 76.0}
    # A bad row of a GBK file is reported with its line.
    bad = _upload(proctor, exam_id, "trainee;score;备注\ntao;abc;缺考\n".encode("gbk"))
    assert bad.status_code == 400 and "line 2: score &#39;abc&#39; is not a number" in bad.text


def _users_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
    }


def test_users_import_reads_gbk_with_semicolons(tmp_path: Path) -> None:
    """`sandbox users import` reads its file through csvfiles as the score import does."""
    table = tmp_path / "学员.csv"
    table.write_bytes("name;role;password\nzhou;trainee;一个足够长的密码\n".encode("gbk"))
    result = CliRunner().invoke(cli, ["users", "import", str(table)], env=_users_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "imported 1 user" in result.output


def test_users_import_names_the_line_of_a_bad_row_and_refuses_other_bytes(
    tmp_path: Path,
) -> None:
    env = _users_env(tmp_path)
    table = tmp_path / "users.csv"
    table.write_bytes("\ufeffname\trole\tpassword\nwu\tcaptain\tlong enough password\n".encode())
    result = CliRunner().invoke(cli, ["users", "import", str(table)], env=env)
    assert result.exit_code != 0
    assert f"{table}:2: unknown role 'captain'" in result.output  # tabs, a BOM dropped
    table.write_bytes(b"\xff\xfe\x00\x81\xff")
    result = CliRunner().invoke(cli, ["users", "import", str(table)], env=env)
    assert result.exit_code == 2 and "neither UTF-8 nor GBK" in result.output
