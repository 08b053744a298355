"""An admin's user import of more than 500 rows (or 20 passwords) as a background job (web/import_jobs.py):
checked in the request, written a batch at a time by the job with its progress, cancelled
between batches, stopped by the server or by a crash with exactly its first rows kept, the
row report on the job's page and as a CSV; smaller imports still written in the request.
And migration 0017 on a database with jobs in it.

Every test runs on a real SQLite file and, with SANDBOX_TEST_DATABASE_URL set, on
PostgreSQL, through the real app.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, text
from sqlmodel import Session, col, select
from web_support import (
    PASSWORD,
    SAME_ORIGIN,
    csrf_token,
    login,
    needs_postgres,
    postgres_database,
)

from sandbox.storage import jobs
from sandbox.storage.admin import IMPORT_JOB_PASSWORDS, IMPORT_JOB_ROWS, IMPORT_ROWS_MAX
from sandbox.storage.audit import AuditEvent
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.jobs import BackgroundJob, JobState
from sandbox.storage.models import Role, User, utcnow
from sandbox.storage.users import authenticate, create_user, get_user_by_name
from sandbox.web import import_jobs
from sandbox.web.jobs import JobRunner

pytestmark = pytest.mark.backends("sqlite", "postgres")

WAIT_S = 120.0  # a bound for a condition to come true on a loaded machine, not a timing
ROWS = 520  # body rows of the large file: more than IMPORT_JOB_ROWS


def large_file(rows: int = ROWS) -> bytes:
    """A CSV of `rows` body rows (lines 2 to rows + 1): new trainees `u0003`..., with a few
    rows to note. Line 3 names as mentor `late-boss`, created on the file's last line (a
    mentor created further down); line 5 has a bad name, line 6 repeats line 4's name,
    line 7 is a new user without a password, line 8 updates tao (an existing user) to a
    mentor, line 9 gives kim a mentor who does not exist."""
    lines = ["name,role,password,mentor"]
    for line in range(2, rows + 2):
        if line == 3:
            lines.append(f"u{line:04d},trainee,pass-{line:04d}-x,late-boss")
        elif line == 5:
            lines.append("bad name,trainee,pass-long-enough,")
        elif line == 6:
            lines.append("u0004,trainee,pass-long-enough,")
        elif line == 7:
            lines.append("nopass,trainee,,")
        elif line == 8:
            lines.append("tao,mentor,,")
        elif line == 9:
            lines.append("kim,,,nobody-here")
        elif line == rows + 1:
            lines.append("late-boss,mentor,late-boss-password,")
        else:
            lines.append(f"u{line:04d},trainee,pass-{line:04d}-x,mo")
    return ("\n".join(lines) + "\n").encode()


def upload(client: TestClient, data: bytes, filename: str = "people.csv") -> Any:
    token = csrf_token(client.get("/admin").text)
    return client.post(
        "/admin/import",
        data={"csrf_token": token},
        files={"table": (filename, data, "text/csv")},
        follow_redirects=False,
    )


def row(engine: Engine, job_id: int) -> BackgroundJob:
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(BackgroundJob, job_id)
        assert found is not None
        return found


def import_jobs_in(engine: Engine) -> list[BackgroundJob]:
    with Session(engine, expire_on_commit=False) as session:
        statement = select(BackgroundJob).where(BackgroundJob.kind == "users.import")
        return list(session.exec(statement).all())


def user(engine: Engine, name: str) -> User | None:
    with Session(engine, expire_on_commit=False) as session:
        return get_user_by_name(session=session, name=name)


def names_like(engine: Engine, prefix: str) -> set[str]:
    with Session(engine) as session:
        statement = select(User.name).where(col(User.name).like(f"{prefix}%"))
        return set(session.exec(statement).all())


def audit_count(engine: Engine, action: str) -> int:
    with Session(engine) as session:
        statement = select(func.count()).select_from(AuditEvent)
        return int(session.exec(statement.where(AuditEvent.action == action)).one())


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.05)


@pytest.fixture
def admin(app: FastAPI, people: dict[str, User]) -> Iterator[TestClient]:
    """The admin's browser on the app with its lifespan, so its job runner works."""
    with TestClient(app, headers=SAME_ORIGIN) as client:
        login(client, "boss")
        yield client


@pytest.fixture
def quiet_admin(app: FastAPI, people: dict[str, User]) -> Iterator[TestClient]:
    """The admin's browser on the app without its lifespan: queued jobs wait for the test to
    run them (`JobRunner.execute`)."""
    client = TestClient(app, headers=SAME_ORIGIN)
    login(client, "boss")
    yield client
    client.close()


def queued_import(client: TestClient, engine: Engine, data: bytes | None = None) -> int:
    response = upload(client, data or large_file())
    assert response.status_code == 303, response.text
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert row(engine, job_id).state == JobState.QUEUED
    return job_id


def hashing_line(monkeypatch: pytest.MonkeyPatch, line: int, then: Callable[[], None]) -> None:
    """Call `then` as the job hashes the password of `line` (a batch's passwords are hashed
    before its write transaction: no write lock is held then)."""
    real = import_jobs.hash_password
    wanted = f"pass-{line:04d}-x"  # every u… row's password names its line

    def watched(password: str) -> str:
        if password == wanted:
            then()
        return real(password)

    monkeypatch.setattr(import_jobs, "hash_password", watched)


def writing_line(monkeypatch: pytest.MonkeyPatch, line: int, then: Callable[[], None]) -> None:
    """Call `then` inside the write transaction of the batch that holds `line`."""
    real = import_jobs.write_rows

    def watched(session: Session, rows: list[Any], **kwargs: Any) -> Any:
        if any(each.line == line for each in rows):
            then()
        return real(session, rows, **kwargs)

    monkeypatch.setattr(import_jobs, "write_rows", watched)


# --- a large file runs as a job ----------------------------------------------------------------


def test_a_large_import_runs_as_a_job_and_reports_every_row(
    app: FastAPI, admin: TestClient
) -> None:
    engine = app.state.sandbox.engine
    response = upload(admin, large_file())
    assert response.status_code == 303, response.text
    job_url = response.headers["location"]
    job_id = int(job_url.rsplit("/", 1)[1])
    first = admin.get(job_url).text
    assert 'id="import-file"' in first and "File people.csv: 520 rows." in first
    # Lines 5 and 6 are found bad as the file is read; line 7 only as it is written.
    assert "2 of them had problems when the file was read" in first
    wait_until(lambda: row(engine, job_id).finished, "the import to finish")
    done = row(engine, job_id)
    assert done.state == JobState.DONE, (done.error, done.detail)
    assert (done.done, done.total) == (ROWS, ROWS)
    assert done.payload is None  # the file's passwords are not kept once it has run
    assert done.result is not None
    counts = done.result["counts"]
    # 520 rows: 515 created (u… and late-boss), tao and kim updated, 3 errors (lines 5-7).
    assert counts == {"created": 515, "updated": 1, "unchanged": 1, "error": 3}
    report = {entry["line"]: entry for entry in done.result["report"]}
    assert sorted(report) == list(range(2, ROWS + 2))
    assert report[5]["outcome"] == "error" and len(report[5]["problems"]) == 1
    assert report[5]["problems"][0].startswith("name 'bad name': ")
    assert report[6]["problems"] == ["name 'u0004' is already on line 4"]
    assert report[7]["problems"] == ["password: a new user needs one"]
    assert report[8] | {"problems": []} == {
        "line": 8,
        "name": "tao",
        "outcome": "updated",
        "changes": ["role"],
        "problems": [],
    }
    assert report[9]["outcome"] == "unchanged" and report[9]["problems"] == [
        "mentor 'nobody-here': no such user (the rest of the row was applied)"
    ]
    assert report[3]["changes"] == ["mentor"]  # late-boss, created 518 lines further down

    # The users are there, with their mentors and passwords; every write audited.
    assert len(names_like(engine, "u")) == 514
    late, third, mo = user(engine, "late-boss"), user(engine, "u0003"), user(engine, "mo")
    assert late is not None and third is not None and mo is not None
    assert third.mentor_id == late.id and late.role == Role.MENTOR
    some = user(engine, "u0400")
    assert some is not None and some.mentor_id == mo.id and some.role == Role.TRAINEE
    tao = user(engine, "tao")
    assert tao is not None and tao.role == Role.MENTOR
    assert user(engine, "nopass") is None and user(engine, "bad name") is None
    with Session(engine) as session:
        assert authenticate(session=session, name="u0400", password="pass-0400-x")
    assert audit_count(engine, "user.create") == 515
    assert audit_count(engine, "user.mentor") == 514  # 513 u… rows with mo, and u0003
    assert audit_count(engine, "user.role") == 1

    # The page shows the report as the request's import does; the CSV holds the same rows.
    page = admin.get(job_url).text
    assert 'data-state="done"' in page and "520 of 520" in page
    assert "515 created" in page and "1 updated" in page and "3 rows with problems" in page
    assert "people.csv:7: password: a new user needs one" in page
    assert 'id="import-line-521"' in page
    assert f'href="{job_url}/download"' in page
    kept = admin.get(f"{job_url}/download")
    assert kept.status_code == 200
    assert kept.headers["content-disposition"] == (
        f'attachment; filename="users-import-{job_id}.csv"'
    )
    lines = list(csv.DictReader(io.StringIO(kept.text)))
    assert len(lines) == ROWS
    assert lines[6] == {
        "line": "8",
        "name": "tao",
        "outcome": "updated",
        "changes": "role",
        "problems": "",
    }
    # The users page lists the import among its background imports.
    assert f'id="import-job-{job_id}"' in admin.get("/admin").text


def test_a_small_import_stays_in_the_request(app: FastAPI, admin: TestClient) -> None:
    """At most `IMPORT_JOB_ROWS` rows and `IMPORT_JOB_PASSWORDS` passwords: written here."""
    engine = app.state.sandbox.engine
    lines = ["name,password", *(f"s{n:04d},pass-{n:04d}-x" for n in range(IMPORT_JOB_PASSWORDS))]
    # Rows that set no password (updates of existing users) do not count towards the hashes.
    lines += [f"s{n:04d}," for n in range(IMPORT_JOB_ROWS - IMPORT_JOB_PASSWORDS)]
    assert len(lines) - 1 == IMPORT_JOB_ROWS
    response = upload(admin, ("\n".join(lines) + "\n").encode(), "five-hundred.csv")
    assert response.status_code == 200
    assert f"{IMPORT_JOB_PASSWORDS} created" in response.text
    assert 'id="import-rows"' in response.text
    assert len(names_like(engine, "s")) == IMPORT_JOB_PASSWORDS
    assert import_jobs_in(engine) == []


def test_an_import_setting_many_passwords_runs_as_a_job(app: FastAPI, admin: TestClient) -> None:
    """Few rows, but one hash too many for a request to wait on."""
    engine = app.state.sandbox.engine
    count = IMPORT_JOB_PASSWORDS + 1
    lines = ["name,password", *(f"pw{n:04d},pass-{n:04d}-x" for n in range(count))]
    response = upload(admin, ("\n".join(lines) + "\n").encode(), "passwords.csv")
    assert response.status_code == 303, response.text
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    wait_until(lambda: row(engine, job_id).finished, "the import to finish")
    assert row(engine, job_id).state == JobState.DONE
    assert len(names_like(engine, "pw")) == count


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"nom,mot\n" + b"x,y\n" * 600, "expected a header of name"),
        (
            b"name,password\n"
            + b"".join(b"t%05d,password-x\n" % n for n in range(IMPORT_ROWS_MAX + 1)),
            f"the file has more than {IMPORT_ROWS_MAX} rows; split it",
        ),
        (b"PK\x03\x04broken", "not a readable Excel workbook"),
    ],
)
def test_a_large_file_refused_as_a_whole_never_becomes_a_job(
    app: FastAPI, quiet_admin: TestClient, data: bytes, message: str
) -> None:
    response = upload(quiet_admin, data, "big.csv")
    assert response.status_code == 400
    assert message in response.text and "Nothing imported from big.csv" in response.text
    assert import_jobs_in(app.state.sandbox.engine) == []


# --- cancelled, stopped, crashed ----------------------------------------------------------------


def test_cancelling_keeps_the_batches_written_and_says_how_far_it_got(
    app: FastAPI, quiet_admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = app.state.sandbox.engine
    monkeypatch.setattr(import_jobs, "BATCH_ROWS", 100)
    monkeypatch.setattr(import_jobs, "BATCH_S", 3600.0)
    job_id = queued_import(quiet_admin, engine)

    def cancel() -> None:  # as the cancel button does, from another request
        response = quiet_admin.post(
            f"/jobs/{job_id}/cancel",
            data={"csrf_token": csrf_token(quiet_admin.get(f"/jobs/{job_id}").text)},
            follow_redirects=False,
        )
        assert response.status_code == 303

    # Cancelled while it hashes line 150 (the second batch: rows 101-200, lines 102-201).
    hashing_line(monkeypatch, 150, cancel)
    runner = JobRunner(app.state.sandbox)
    assert runner.run_one() == job_id
    job = row(engine, job_id)
    assert job.state == JobState.CANCELLED and job.cancel_requested
    assert (job.done, job.total) == (200, ROWS)  # the batch under way ended; no other began
    assert job.payload is None
    assert job.result is not None and job.result["stopped"] == "cancelled"
    assert (job.result["processed"], job.result["last_line"]) == (200, 201)
    made = names_like(engine, "u")
    assert "u0201" in made and "u0202" not in made and len(made) == 195  # not lines 5-9
    # Line 3's mentor is created on the last line, which was never reached: said so.
    report = {entry["line"]: entry for entry in job.result["report"]}
    assert report[3]["outcome"] == "created" and report[3]["problems"] == [
        "mentor 'late-boss': not assigned, the import stopped before the row of that user "
        "(the rest of the row was applied)"
    ]
    page = quiet_admin.get(f"/jobs/{job_id}").text
    assert 'data-state="cancelled"' in page
    assert "The job stopped after the file&#39;s first 200 of 520 rows" in page
    assert 'id="import-line-201"' in page and 'id="import-line-202"' not in page
    kept = quiet_admin.get(f"/jobs/{job_id}/download")
    assert kept.status_code == 200 and len(kept.text.splitlines()) == 201

    # Importing the same file again finishes it: nothing is made twice.
    again = queued_import(quiet_admin, engine)
    monkeypatch.undo()
    assert runner.run_one() == again
    finished = row(engine, again)
    assert finished.state == JobState.DONE and finished.result is not None
    assert finished.result["counts"]["created"] == 515 - 195
    assert len(names_like(engine, "u")) == 514
    third, late = user(engine, "u0003"), user(engine, "late-boss")
    assert third is not None and late is not None and third.mentor_id == late.id


def test_a_server_stopping_under_the_job_marks_it_failed_with_what_it_wrote(
    app: FastAPI, quiet_admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = app.state.sandbox.engine
    monkeypatch.setattr(import_jobs, "BATCH_ROWS", 100)
    monkeypatch.setattr(import_jobs, "BATCH_S", 3600.0)
    job_id = queued_import(quiet_admin, engine)
    stopping = threading.Event()
    hashing_line(monkeypatch, 350, stopping.set)  # the fourth batch: lines 302-401
    runner = JobRunner(app.state.sandbox)
    assert runner.claim() == job_id
    assert runner.execute(job_id, stopping) == JobState.FAILED
    job = row(engine, job_id)
    assert job.error == jobs.RESTARTED and job.detail == "the server stopped while the job ran"
    assert (job.done, job.total) == (400, ROWS) and job.payload is None
    assert job.result is not None and job.result["stopped"] == "server"
    assert len(names_like(engine, "u")) == 395
    page = quiet_admin.get(f"/jobs/{job_id}").text
    assert "The server restarted while this job ran; start it again." in page
    assert "first 400 of 520 rows" in page and 'id="import-line-401"' in page


def test_a_crash_in_a_batch_keeps_exactly_the_batches_before_it(
    app: FastAPI, quiet_admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies in the middle of a batch: that batch is not committed, those before
    are, and the job's count of rows done says exactly how many; the next start marks it
    failed, and its page says how far it got."""
    engine = app.state.sandbox.engine
    monkeypatch.setattr(import_jobs, "BATCH_ROWS", 100)
    monkeypatch.setattr(import_jobs, "BATCH_S", 3600.0)
    job_id = queued_import(quiet_admin, engine)

    class Died(BaseException):
        """The process ending under the thread (nothing the runner catches)."""

    def die() -> None:
        raise Died

    writing_line(monkeypatch, 250, die)  # the third batch: lines 202-301
    runner = JobRunner(app.state.sandbox)
    assert runner.claim() == job_id
    with pytest.raises(Died):
        runner.execute(job_id)
    left = row(engine, job_id)
    assert left.state == JobState.RUNNING and (left.done, left.total) == (200, ROWS)
    made = names_like(engine, "u")
    assert len(made) == 195 and "u0201" in made and "u0202" not in made
    # The next start: its heartbeat is old, the sweep marks it failed.
    with Session(engine) as session:
        session.execute(
            text("UPDATE jobs SET heartbeat_at = :old WHERE id = :id"),
            {"old": utcnow() - timedelta(hours=1), "id": job_id},
        )
        session.commit()
    assert job_id in JobRunner(app.state.sandbox).sweep()
    failed = row(engine, job_id)
    assert failed.state == JobState.FAILED and failed.error == jobs.RESTARTED
    assert failed.done == 200 and failed.payload is None
    page = quiet_admin.get(f"/jobs/{job_id}").text
    assert "The server restarted while this job ran; start it again." in page
    assert "The job stopped after the file&#39;s first 200 of 520 rows" in page


def test_the_job_page_in_chinese(app: FastAPI, quiet_admin: TestClient) -> None:
    engine = app.state.sandbox.engine
    job_id = queued_import(quiet_admin, engine)
    quiet_admin.cookies.set("sandbox_lang", "zh-CN")
    page = quiet_admin.get(f"/jobs/{job_id}", headers={"Accept-Language": "zh-CN"}).text
    assert "用户导入" in page and "文件 people.csv：共 520 行。" in page


# --- the migration -----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with postgres_database() as url:
        yield url


def test_the_migration_adds_the_payload_to_a_jobs_table_with_jobs(empty_database: str) -> None:
    engine = make_engine(empty_database)
    upgrade(engine, "0014")  # the head before the payload
    with Session(engine) as session:
        boss = create_user(session=session, name="boss", role=Role.ADMIN, password=PASSWORD)
        session.flush()
        session.execute(
            text(
                "INSERT INTO jobs (kind, state, params, done, total, result, cancel_requested, "
                "created_by, created_at) VALUES ('export.grades', 'done', :params, 3, 3, "
                ":result, :no, :boss, :now)"
            ),
            {
                "params": '{"exam_ids": [1], "filename": "a.csv"}',
                "result": '{"rows": 3}',
                "no": False,
                "boss": boss.id,
                "now": utcnow(),
            },
        )
        session.commit()
    assert "payload" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    upgrade(engine)
    assert "payload" in {c["name"] for c in inspect(engine).get_columns("jobs")}
    with Session(engine) as session:
        (old,) = session.exec(select(BackgroundJob)).all()
        assert old.state == JobState.DONE and old.result == {"rows": 3} and old.payload is None
        assert old.params == {"exam_ids": [1], "filename": "a.csv"}
    engine.dispose()
