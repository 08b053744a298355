"""CSV files as spreadsheets save them: a BOM, GBK from Chinese Excel, semicolons. The
written-score import and `sandbox users import` read them all."""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_support import FakeClock, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner
from web_support import csrf_token

from sandbox.cli.main import app as cli
from sandbox.storage.exams import written_scores
from sandbox.storage.models import User
from sandbox.text.tables import decode_table, delimiter_of


def test_decoding_and_delimiters() -> None:
    assert decode_table("name;角色\n".encode("gbk")) == "name;角色\n"
    assert decode_table(b"\xef\xbb\xbfname,role\n") == "name,role\n"
    assert delimiter_of("a;b;c\n1,5;2;3\n") == ";" and delimiter_of("a,b\n") == ","
    with pytest.raises(UnicodeDecodeError):
        decode_table(b"\xff\xfe\x00\x81\xff")


@pytest.mark.parametrize(
    "data",
    [
        "trainee;score\ntao;82.5\nmei;70\n".encode("gbk"),
        b"\xef\xbb\xbftrainee;score\r\ntao;82.5\r\nmei;70\r\n",
    ],
)
def test_written_scores_from_excel(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User], data: bytes
) -> None:
    exam_id = make_exam(proctor, clock, people)
    page = proctor.get(f"/proctor/exams/{exam_id}")
    response = proctor.post(
        f"/proctor/exams/{exam_id}/written/import",
        data={"csrf_token": csrf_token(page.text)},
        files={"csv_file": ("成绩.csv", data, "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with Session(app.state.sandbox.engine) as session:
        scores = written_scores(session=session, exam_id=exam_id)
    assert {(uid, w.score) for (uid, _), w in scores.items()} == {
        (people["tao"].id, 82.5),
        (people["mei"].id, 70.0),
    }


def test_users_import_reads_gbk_with_semicolons(tmp_path: Path) -> None:
    env = {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
    }
    table = tmp_path / "学员.csv"
    table.write_bytes("name;role;password\nzhou;trainee;一个足够长的密码\n".encode("gbk"))
    result = CliRunner().invoke(cli, ["users", "import", str(table)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 1 user" in result.output
