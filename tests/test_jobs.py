"""Background jobs (storage/jobs.py, web/jobs.py): run to the end with their result kept,
progress, cancelling between batches, a job left running by a dead worker marked failed at
the next start, concurrent claimers on real connections, bad parameters; and the regrade
page's flow over real HTTP against `sandbox serve`, restarted under a running job.

Every test that uses a database runs on a real SQLite file and, with
SANDBOX_TEST_DATABASE_URL set, on PostgreSQL.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import PACK, REASSURANCE, graded_attempt
from server_support import Server, server_env
from sqlalchemy import Engine, inspect
from sqlmodel import Session, select
from web_support import (
    PASSWORD,
    SHARED_PACKS,
    add_user,
    csrf_token,
    login,
    make_settings,
    needs_postgres,
    postgres_database,
)

from sandbox.storage import jobs
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.jobs import BackgroundJob, JobState, Outcome
from sandbox.storage.models import Attempt, Role, User, utcnow
from sandbox.storage.users import create_user
from sandbox.web.app import create_app
from sandbox.web.jobs import JobContext, JobError, JobRunner, Kind, register, start

pytestmark = pytest.mark.backends("sqlite", "postgres")

WAIT_S = 120.0  # a bound for a condition to come true on a loaded machine, not a timing

# --- a kind of job for the tests: batches that the test lets through one at a time ---------

GATES: dict[str, threading.Semaphore] = {}
RAN: dict[str, list[int]] = {}
RUNS: Counter[str] = Counter()  # by the job's key
RUNS_LOCK = threading.Lock()


def _check_batches(params: dict[str, Any]) -> list[str]:
    batches = params.get("batches")
    ok = isinstance(batches, int) and 1 <= batches <= 1000 and isinstance(params.get("key"), str)
    return [] if ok else [jobs.BAD_PARAMS]


def _run_batches(context: JobContext) -> Outcome:
    key, batches = context.params["key"], context.params["batches"]
    gate = GATES.get(key)
    context.progress(0, batches)
    for number in range(batches):
        if gate is not None:
            assert gate.acquire(timeout=WAIT_S), "the test never let the batch through"
        RAN.setdefault(key, []).append(number)
        with RUNS_LOCK:
            RUNS[key] += 1
        context.progress(number + 1)
    return Outcome(
        result={"batches": batches}, text=f"key,batches\n{key},{batches}\n", name="t.csv"
    )


BATCHES = register(Kind("test.batches", "jobs.kind.unknown", _run_batches, _check_batches))


def _run_until_stopped(context: JobContext) -> Outcome:
    """Batches until the server stops (each a moment long), at most a few minutes' worth."""
    for number in range(int(WAIT_S / 0.05)):
        context.progress(number + 1, None)
        time.sleep(0.05)
    raise AssertionError("the server never stopped the job")


UNTIL_STOPPED = register(Kind("test.until_stopped", "jobs.kind.unknown", _run_until_stopped))


def fresh(name: str) -> str:
    """A key of its own for a test's jobs (each test runs once per backend)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def runner_on(engine: Engine, worker: str | None = None) -> JobRunner:
    """A runner on `engine` alone (the test kinds need no packs)."""
    return JobRunner(SimpleNamespace(engine=engine), worker=worker)  # type: ignore[arg-type]


def queue(engine: Engine, key: str, batches: int = 3, created_by: int | None = None) -> int:
    with Session(engine) as session:
        job = start(
            session=session,
            kind=BATCHES.name,
            params={"key": key, "batches": batches},
            created_by=created_by,
        )
        assert job.id is not None
        return job.id


def row(engine: Engine, job_id: int) -> BackgroundJob:
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(BackgroundJob, job_id)
        assert found is not None
        return found


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.05)


# --- the runner ------------------------------------------------------------------------------


def test_a_job_runs_to_the_end_and_its_result_is_kept(engine: Engine) -> None:
    key = fresh("to-the-end")
    job_id = queue(engine, key, batches=3)
    runner = runner_on(engine)
    assert row(engine, job_id).state == JobState.QUEUED
    assert runner.run_one() == job_id
    done = row(engine, job_id)
    assert done.state == JobState.DONE
    assert (done.done, done.total) == (3, 3)
    assert done.result == {"batches": 3}
    assert done.result_text == f"key,batches\n{key},3\n" and done.result_name == "t.csv"
    assert done.claimed_by == runner.worker and done.error is None
    assert done.started_at is not None and done.finished_at is not None
    assert runner.run_one() is None  # nothing else queued: it ran once


def test_progress_moves_and_cancelling_stops_the_job_between_batches(engine: Engine) -> None:
    key = fresh("cancel-between")
    GATES[key] = threading.Semaphore(0)
    job_id = queue(engine, key, batches=5)
    runner = runner_on(engine)
    worker = threading.Thread(target=runner.run_one)
    worker.start()
    try:
        wait_until(lambda: row(engine, job_id).total == 5, "the job to start")
        assert row(engine, job_id).state == JobState.RUNNING and row(engine, job_id).done == 0
        for expected in (1, 2):
            GATES[key].release()
            wait_until(lambda n=expected: row(engine, job_id).done == n, f"batch {expected}")
        with Session(engine) as session:
            job = session.get(BackgroundJob, job_id)
            assert job is not None
            assert jobs.cancel(session=session, job=job) == JobState.RUNNING
        assert row(engine, job_id).cancel_requested
        GATES[key].release()  # the batch under way ends; the next one never starts
        worker.join(WAIT_S)
    finally:
        for _ in range(5):
            GATES[key].release()
        worker.join(WAIT_S)
    cancelled = row(engine, job_id)
    assert cancelled.state == JobState.CANCELLED
    assert RAN[key] == [0, 1, 2] and cancelled.done == 3
    assert cancelled.finished_at is not None


def test_a_queued_job_is_cancelled_at_once_and_never_runs(engine: Engine) -> None:
    key = fresh("never-runs")
    job_id = queue(engine, key)
    with Session(engine) as session:
        job = session.get(BackgroundJob, job_id)
        assert job is not None
        assert jobs.cancel(session=session, job=job) == JobState.CANCELLED
    assert runner_on(engine).run_one() is None
    assert key not in RAN and row(engine, job_id).state == JobState.CANCELLED


def test_bad_parameters_are_refused_with_a_clear_message(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(JobError) as refused:
            start(session=session, kind="regrade.dry_run", params={"pack": ""}, created_by=None)
        assert refused.value.key == "mentor.regrade.error.pack"
        with pytest.raises(JobError) as unknown:
            start(session=session, kind="no.such.kind", params={}, created_by=None)
        assert unknown.value.key == jobs.BAD_PARAMS and "no.such.kind" in unknown.value.detail
        # Queued some other way (not through `start`): the runner fails them, saying why.
        bad = jobs.submit(
            session=session, kind=BATCHES.name, params={"batches": -1}, created_by=None
        )
        odd = jobs.submit(session=session, kind="gone.kind", params={}, created_by=None)
        session.commit()
        bad_id, odd_id = bad.id, odd.id
    runner = runner_on(engine)
    assert runner.run_one() == bad_id and runner.run_one() == odd_id
    for job_id, detail in ((bad_id, "test.batches: jobs.error.params"), (odd_id, "gone.kind")):
        assert job_id is not None
        failed = row(engine, job_id)
        assert failed.state == JobState.FAILED and failed.error == jobs.BAD_PARAMS
        assert failed.detail is not None and detail in failed.detail


def test_concurrent_claimers_never_run_a_job_twice(database_url: str, engine: Engine) -> None:
    """Four workers, each with its own engine (its own connections), race for 60 jobs."""
    keys = [fresh(f"race-{n}") for n in range(60)]
    ids = [queue(engine, key, batches=1) for key in keys]
    engines = [make_engine(database_url) for _ in range(4)]
    start_line = threading.Barrier(len(engines))
    claimed: dict[str, list[int]] = {}
    problems: list[BaseException] = []

    def work(own: Engine, name: str) -> None:
        runner = runner_on(own, worker=name)
        claimed[name] = []
        try:
            start_line.wait(WAIT_S)
            while (job_id := runner.run_one()) is not None:
                claimed[name].append(job_id)
        except BaseException as exc:  # reported below, not lost in the thread
            problems.append(exc)

    threads = [
        threading.Thread(target=work, args=(own, f"worker-{n}")) for n, own in enumerate(engines)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 2)
    for own in engines:
        own.dispose()
    assert problems == []
    every_claim = [job_id for found in claimed.values() for job_id in found]
    assert sorted(every_claim) == sorted(ids)  # each claimed by exactly one worker
    assert all(RUNS[key] == 1 for key in keys)  # and run exactly once
    with Session(engine) as session:
        stored = session.exec(select(BackgroundJob).where(BackgroundJob.id.in_(ids))).all()  # type: ignore[union-attr]
        assert {job.state for job in stored} == {JobState.DONE}
        assert {job.claimed_by for job in stored} <= set(claimed)


def test_a_job_left_running_by_a_dead_worker_fails_at_the_next_start(
    app: FastAPI, people: dict[str, User]
) -> None:
    engine = app.state.sandbox.engine
    boss = people["boss"].id
    orphan_key = fresh("orphan")
    with Session(engine) as session:
        orphan = BackgroundJob(
            kind=BATCHES.name,
            params={"key": orphan_key, "batches": 3},
            state=JobState.RUNNING,
            done=1,
            total=3,
            created_by=boss,
            started_at=utcnow() - timedelta(hours=1),
            claimed_by="a-dead-host:4242:0badf00d",
            heartbeat_at=utcnow() - timedelta(hours=1),
        )
        session.add(orphan)
        session.commit()
        orphan_id = orphan.id
    assert orphan_id is not None
    waiting = queue(engine, fresh("after-restart"), batches=1, created_by=boss)
    with TestClient(app) as client:  # the app starts: its runner sweeps, then works
        wait_until(lambda: row(engine, orphan_id).state == JobState.FAILED, "the sweep")
        wait_until(lambda: row(engine, waiting).state == JobState.DONE, "the queue to go on")
        failed = row(engine, orphan_id)
        assert failed.error == jobs.RESTARTED and failed.finished_at is not None
        assert orphan_key not in RAN  # it was not run again behind anyone's back
        login(client, "boss")
        page = client.get(f"/jobs/{orphan_id}").text
        assert "The server restarted while this job ran; start it again." in page
        listing = client.get("/jobs").text
        assert f'<tr id="job-{orphan_id}" data-state="failed">' in listing
        assert f'<tr id="job-{waiting}" data-state="done">' in listing


def test_a_job_running_when_the_server_stops_ends_failed_not_lost(
    app: FastAPI, people: dict[str, User]
) -> None:
    engine = app.state.sandbox.engine
    with Session(engine) as session:
        job = start(
            session=session, kind=UNTIL_STOPPED.name, params={}, created_by=people["boss"].id
        )
        job_id = job.id
    assert job_id is not None
    with TestClient(app):
        wait_until(lambda: row(engine, job_id).done >= 2, "the job to run a few batches")
    # The app stopped: its lifespan asked the job to end at its next batch.
    stopped = row(engine, job_id)
    assert stopped.state == JobState.FAILED and stopped.error == jobs.RESTARTED
    assert stopped.detail == "the server stopped while the job ran"
    # A second start of the same app runs jobs again (the stop was that run's alone).
    key = fresh("after-stop")
    again = queue(engine, key, batches=2)
    with TestClient(app):
        wait_until(lambda: row(engine, again).state == JobState.DONE, "the next job")
    assert RAN[key] == [0, 1]


def test_jobs_are_their_starters_and_admins_only(app: FastAPI, people: dict[str, User]) -> None:
    engine = app.state.sandbox.engine
    key = fresh("private")
    mine = queue(engine, key, batches=1, created_by=people["mo"].id)
    runner_on(engine).run_one()
    with TestClient(app) as client:
        login(client, "pat")  # a proctor: staff, but not the starter
        assert client.get(f"/jobs/{mine}").status_code == 404
        assert client.get(f"/jobs/{mine}/download").status_code == 404
        assert f'id="job-{mine}"' not in client.get("/jobs").text
    with TestClient(app) as client:
        login(client, "tao")  # trainees have no jobs page
        assert client.get("/jobs").status_code == 403
    with TestClient(app) as client:
        login(client, "mo")
        assert client.get(f"/jobs/{mine}/download").text == f"key,batches\n{key},1\n"
    with TestClient(app) as client:
        login(client, "boss")
        assert f'id="job-{mine}"' in client.get("/jobs").text


# --- the regrade page over real HTTP, and a restart under a running job ----------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, Engine, dict[str, int]]]:
    """`sandbox serve` on a SQLite file holding a mentor, a trainee and two graded attempts,
    one of them stored with a stale score (as if graded by an older pack)."""
    app = create_app(make_settings(tmp_path))
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    stale = graded_attempt(app, "tao", REASSURANCE)
    fresh = graded_attempt(app, "tao", REASSURANCE)
    engine = app.state.sandbox.engine
    with Session(engine) as session:
        attempt = session.get(Attempt, stale)
        assert attempt is not None and attempt.score is not None
        attempt.score += 10.0
        session.add(attempt)
        session.commit()
    engine.dispose()
    server = Server(tmp_path, server_env(tmp_path, packs=str(SHARED_PACKS)))
    server.start()
    engine = make_engine(f"sqlite:///{tmp_path / 'sandbox.db'}")
    try:
        yield server, engine, {"stale": stale, "fresh": fresh}
    finally:
        server.stop()
        engine.dispose()


@contextmanager
def http_login(url: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        _sign_in(client, name)
        yield client


def _sign_in(client: httpx.Client, name: str) -> None:
    page = client.get("/login")
    response = client.post(
        "/login", data={"csrf_token": csrf_token(page.text), "name": name, "password": PASSWORD}
    )
    assert response.status_code == 303, response.text


def post(client: httpx.Client, page: str, url: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data})


def until_finished(client: httpx.Client, job_url: str) -> str:
    """Poll the job as its page's htmx does (every second) until it says to reload."""
    deadline = time.monotonic() + WAIT_S
    while True:
        poll = client.get(f"{job_url}/progress", headers={"HX-Request": "true"})
        assert poll.status_code == 200 and 'id="job-progress"' in poll.text
        if poll.headers.get("HX-Refresh") == "true":
            return client.get(job_url).text
        assert 'hx-trigger="every 1s"' in poll.text  # still polling while it runs
        assert time.monotonic() < deadline, f"{job_url} did not finish"
        time.sleep(0.2)


def test_the_regrade_page_runs_its_dry_run_and_apply_as_jobs_over_http(
    served: tuple[Server, Engine, dict[str, int]],
) -> None:
    server, engine, attempts = served
    with http_login(server.url, "mei") as mentor:
        stale_score = regrade_over_http(mentor, engine, attempts)
    with Session(engine) as session:
        after = session.get(Attempt, attempts["stale"])
        assert after is not None and after.score == pytest.approx(stale_score - 10.0)
    restart_under_a_running_job(server, engine)


def regrade_over_http(mentor: httpx.Client, engine: Engine, attempts: dict[str, int]) -> float:
    """The dry run, its kept result, applying it, and a form with a bad pack; the stored
    score of the stale attempt before."""
    started = post(mentor, "/mentor/regrade", "/mentor/regrade/dry-run", {"pack": PACK})
    assert started.status_code == 303
    job_url = started.headers["location"]
    first = mentor.get(job_url).text
    assert 'id="job-progress"' in first and "Regrade dry run" in first
    page = until_finished(mentor, job_url)
    assert 'data-state="done"' in page and "2 of 2" in page
    assert {int(i) for i in re.findall(r'<tr id="plan-(\d+)"', page)} == {attempts["stale"]}
    with Session(engine) as session:
        before = session.get(Attempt, attempts["stale"])
        assert before is not None and before.score is not None
        stale_score = before.score
    # The result is kept: the regrade page lists the job, and its page shows it again.
    assert f'href="{job_url}"' in mentor.get("/mentor/regrade").text
    assert 'id="plan-table"' in mentor.get(job_url).text

    applying = post(
        mentor,
        job_url,
        "/mentor/regrade",
        {"pack": PACK, "scenario": "", "attempt": str(attempts["stale"]), "reason": "score fix"},
    )
    assert applying.status_code == 303
    applied = until_finished(mentor, applying.headers["location"])
    assert f'id="applied-{attempts["stale"]}"' in applied

    # Bad parameters: a clear message on the page, no job.
    refused = post(mentor, "/mentor/regrade", "/mentor/regrade/dry-run", {"pack": "nope"})
    assert refused.status_code == 400 and 'id="regrade-error"' in refused.text
    return stale_score


def restart_under_a_running_job(server: Server, engine: Engine) -> None:
    """A job running when the server dies is marked failed at its next start, not lost."""
    with Session(engine) as session:
        mei = session.exec(select(User).where(User.name == "mei")).one()
        orphan = BackgroundJob(
            kind="regrade.dry_run",
            params={"pack": PACK, "scenario": None},
            state=JobState.RUNNING,
            created_by=mei.id,
            started_at=utcnow() - timedelta(minutes=10),
            claimed_by="the-old-server:1:00000000",
            heartbeat_at=utcnow() - timedelta(minutes=10),
        )
        session.add(orphan)
        session.commit()
        orphan_id = orphan.id
    server.kill()
    server.start()
    with http_login(server.url, "mei") as mentor:
        page = until_finished(mentor, f"/jobs/{orphan_id}")
    assert 'data-state="failed"' in page
    assert "The server restarted while this job ran; start it again." in page


# --- the migration ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not the migrated template): the migration runs from an older head."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with postgres_database() as url:
        yield url


def test_the_migration_adds_the_jobs_table_to_a_database_with_data(empty_database: str) -> None:
    engine = make_engine(empty_database)
    upgrade(engine, "0012")  # the head before the jobs table
    with Session(engine) as session:
        mentor = create_user(session=session, name="mei", role=Role.MENTOR, password=PASSWORD)
        tao = create_user(
            session=session, name="tao", role=Role.TRAINEE, password=PASSWORD, mentor=mentor
        )
        session.commit()
        mentor_id, tao_id = mentor.id, tao.id
    assert "jobs" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "jobs" in inspect(engine).get_table_names()
    with Session(engine) as session:
        found = session.get(User, tao_id)
        assert found is not None and found.mentor_id == mentor_id
    key = fresh("after-upgrade")
    job_id = queue(engine, key, batches=2, created_by=mentor_id)
    assert runner_on(engine).run_one() == job_id
    assert row(engine, job_id).state == JobState.DONE and RAN[key] == [0, 1]
    engine.dispose()


# --- a report export as a job -----------------------------------------------------------------


def test_a_grades_export_runs_as_a_job_and_its_file_is_kept(
    app: FastAPI, proctor: TestClient, people: dict[str, User]
) -> None:
    from sandbox.exams.policy import ExamRules
    from sandbox.storage.exams import create_exam

    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        exam = create_exam(
            session=session,
            name="Exported later",
            time_limit_s=600,
            opens_at=utcnow() - timedelta(hours=1),
            closes_at=utcnow() + timedelta(days=1),
            rules=ExamRules(),
            scenarios=[(PACK, "cold-remedy-hypertension")],
            candidate_ids=[people[n].id or 0 for n in ("tao", "mei", "kim")],
            cohort="2026-J",
            created_by=people["pat"].id,
        )
        session.commit()
    report = f"/proctor/exams/{exam.id}/report"
    page = proctor.get(report)
    assert 'id="csv-job"' in page.text
    started = proctor.post(
        f"/proctor/exams/{exam.id}/grades-job",
        data={"csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    job_url = started.headers["location"]
    deadline = time.monotonic() + WAIT_S
    while 'data-state="done"' not in (shown := proctor.get(job_url).text):
        assert 'data-state="failed"' not in shown, shown
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.1)
    assert f'href="{job_url}/download"' in shown and "3 rows written." in shown
    kept = proctor.get(f"{job_url}/download")
    assert kept.status_code == 200
    assert kept.headers["content-disposition"] == (
        f'attachment; filename="exam-{exam.id}-grades.csv"'
    )
    assert kept.text == proctor.get(f"/proctor/exams/{exam.id}/grades.csv").text
    assert [line.split(",")[1] for line in kept.text.splitlines()[1:]] == ["kim", "mei", "tao"]
    # The cohort's export is a job too; a cohort that does not exist is a 404, no job.
    cohort_page = proctor.get("/proctor/cohorts/2026-J/report").text
    token = csrf_token(cohort_page)
    assert (
        proctor.post(
            "/proctor/cohorts/2026-J/grades-job", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        proctor.post(
            "/proctor/cohorts/nope/grades-job", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 404
    )
