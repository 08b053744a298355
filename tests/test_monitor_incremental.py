"""Staff pages that do not grow with the exam.

The live monitor updates one candidate's row per event, yet shows what a full recomputation
shows: after a random sequence of starts, messages, hand-ins and written scores, the rows a
proctor's browser holds (the first frame, then each row swapped in by id, as htmx does) equal
the rows computed from the whole exam. The table is paged, and a page's socket sends only
its own candidates. The proctor's exam page is paged too, and the grades CSV streams out a
batch of candidates at a time."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from exam_support import COLD, INSULIN, FakeClock, password_hash, service
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.testclient import WebSocketTestSession
from web_support import SAME_ORIGIN

from sandbox.conversations.events import ExamEvent
from sandbox.exams.policy import ExamRules
from sandbox.storage.exams import Exam, create_exam, exam_attempts, set_written_score
from sandbox.storage.models import Attempt, Role, User
from sandbox.web.i18n import translator
from sandbox.web.routes import monitor, reports
from sandbox.web.routes import proctor as proctor_routes
from sandbox.web.templating import render_text

pytestmark = pytest.mark.backends("sqlite", "postgres")

ROW = re.compile(r'<tr id="candidate-(\d+)"[^>]*>(.*?)</tr>', re.S)
LINES = [
    "Hello, do you take any other medication?",
    "Do you have any allergies?",
    "Saline spray is a safe choice.",
    "How long have you had the cold?",
]


def rows_of(html: str) -> dict[int, str]:
    """Candidate id -> the row's cells, as the browser would hold them."""
    return {int(found[1]): found[2] for found in ROW.finditer(html)}


def full_rows(app: FastAPI, exam_id: int, clock: FakeClock) -> dict[int, str]:
    """Every candidate's row recomputed from the whole exam, rendered as the monitor does."""
    state = app.state.sandbox
    with Session(state.engine) as session:
        exam = session.get(Exam, exam_id)
        assert exam is not None
        rows = monitor.candidate_rows(session, state, exam, clock.now)  # no users: the lot
        html = render_text(
            monitor.FRAMES,
            monitor._context(translator("en"), exam, rows, clock.now),
            block="changed",
        )
    return rows_of(html)


class Browser:
    """One monitor page's socket and the rows its table holds."""

    def __init__(self, socket: WebSocketTestSession) -> None:
        self.socket = socket
        first = socket.receive_text()
        assert 'id="monitor-rows" hx-swap-oob="true"' in first
        self.rows = rows_of(first)
        self.updates = self.tables = 0

    def until_row(self, user_id: int) -> None:
        """Read frames, swapping their rows in, until one holds `user_id`'s row."""
        for _ in range(20):
            frame = self.socket.receive_text()
            changed = rows_of(frame)
            if 'id="monitor-rows"' in frame:
                # The whole page again: only when the bus says events may have been missed
                # (PostgreSQL's listener connecting), never for one candidate's event.
                assert set(changed) == set(self.rows)
                self.tables += 1
                self.rows = changed
            else:
                assert set(changed) <= set(self.rows), "a row of another page was sent"
                self.updates += 1
                self.rows.update(changed)
            if user_id in changed:
                return
        raise AssertionError(f"no frame with candidate {user_id}")


def test_rows_after_random_events_equal_a_full_recomputation(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(monitor, "PAGE_SIZE", 4)
    state = app.state.sandbox
    conversations = service(app)
    with Session(state.engine, expire_on_commit=False) as session:
        extra = [
            User(name=f"cand-{n:02d}", role=Role.TRAINEE, password_hash=password_hash())
            for n in range(7)
        ]
        session.add_all(extra)
        session.flush()
        trainees = [people["tao"], people["mei"], people["kim"], *extra]
        exam = create_exam(
            session=session,
            name="Random",
            time_limit_s=600,
            opens_at=clock.now - timedelta(hours=1),
            closes_at=clock.now + timedelta(days=1),
            rules=ExamRules(attempts_allowed=2),
            scenarios=[tuple(COLD.split("/")), tuple(INSULIN.split("/"))],  # type: ignore[list-item]
            candidate_ids=[u.id or 0 for u in trainees],
            cohort=None,
            created_by=people["pat"].id,
        )
        session.commit()
        exam_id = exam.id
    assert exam_id is not None
    by_name = sorted(trainees, key=lambda u: (u.name, u.id))
    page_of = {u.id: 1 + i // 4 for i, u in enumerate(by_name)}  # 10 candidates: 3 pages

    sockets = [
        proctor.websocket_connect(
            f"/proctor/exams/{exam_id}/monitor/ws?page={n}", headers=SAME_ORIGIN
        )
        for n in (1, 2, 3, 1)  # two proctors on page 1: the second reuses the first's reads
    ]
    browsers = [Browser(s.__enter__()) for s in sockets]
    try:
        assert [len(b.rows) for b in browsers] == [4, 4, 2, 4]
        pages = (1, 2, 3, 1)
        rng = random.Random(16)
        for step in range(40):
            user = rng.choice(trainees)
            assert user.id is not None
            with Session(state.engine, expire_on_commit=False) as session:
                exam = session.get(Exam, exam_id)
                assert exam is not None
                mine = exam_attempts(session=session, exam_id=exam_id, user_id=user.id)
                running = next((a for a in mine if not a.ended), None)
                roll = rng.random()
                if running is None and roll < 0.6 and len(mine) < 4:
                    key = rng.choice([COLD, INSULIN])
                    done = sum(1 for a in mine if f"{a.pack_id}/{a.scenario_id}" == key)
                    if done >= 2:
                        key = INSULIN if key == COLD else COLD
                    found = state.library.find(*key.split("/"))
                    assert found is not None
                    pack, scenario = found
                    conversations.start_exam(
                        session,
                        exam=exam,
                        user=session.get(User, user.id),
                        pack_id=pack.id,
                        pack_version=pack.version,
                        scenario=scenario,
                        retake=False,
                    )
                    session.commit()
                elif running is not None and roll < 0.75:
                    attempt = session.get(Attempt, running.id)
                    assert attempt is not None
                    conversations.say(session, attempt, rng.choice(LINES), f"r-{step}")
                elif running is not None:
                    attempt = session.get(Attempt, running.id)
                    assert attempt is not None
                    conversations.finish(session, attempt)
                else:  # the proctor enters (or changes) a written score
                    set_written_score(
                        session=session,
                        exam_id=exam_id,
                        user_id=user.id,
                        score=float(rng.randrange(40, 100)),
                        entered_by=people["pat"].id,
                        at=clock.now,
                    )
                    conversations.bus.publish(session, ExamEvent(exam_id, user.id))
                    session.commit()
            for browser, page in zip(browsers, pages, strict=True):
                if page == page_of[user.id]:
                    browser.until_row(user.id)
            clock.advance(rng.choice([0, 0, 1, 3]))
        # Time moved on since a row was last sent; the browser counts it down itself, so
        # the rows are compared at the moment of one last event per candidate of each page.
        for browser, page in zip(browsers, pages, strict=True):
            for user in by_name:
                if page_of[user.id] == page:
                    with Session(state.engine) as session:
                        conversations.bus.publish(session, ExamEvent(exam_id, user.id))
                        session.commit()
                    browser.until_row(user.id or 0)
        assert sum(b.updates for b in browsers) >= 60
        assert sum(b.tables for b in browsers) <= 4
        expected = full_rows(app, exam_id, clock)
        shown = {i: row for b in browsers[:3] for i, row in b.rows.items()}
        assert shown == expected
        assert browsers[3].rows == browsers[0].rows
        states = {re.findall(r'progress-tag">([^<]+)<', row)[0] for row in shown.values()}
        assert {"In progress", "Between scenarios"} <= states, states  # the sequence did vary
        assert any("data-left-s" in row for row in shown.values())
    finally:
        for socket in sockets:
            socket.__exit__(None, None, None)
    # A page opened now shows the same rows.
    page_two = proctor.get(f"/proctor/exams/{exam_id}/monitor?page=2")
    assert rows_of(page_two.text) == {i: expected[i] for i in expected if page_of[i] == 2}
    assert "/monitor/ws?page=2" in page_two.text and 'id="page-next"' in page_two.text


def test_the_monitor_pages_by_name_and_says_when_a_page_is_past_the_end(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(monitor, "PAGE_SIZE", 2)
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        exam = create_exam(
            session=session,
            name="Paged",
            time_limit_s=600,
            opens_at=clock.now - timedelta(hours=1),
            closes_at=clock.now + timedelta(days=1),
            rules=ExamRules(),
            scenarios=[tuple(COLD.split("/"))],  # type: ignore[list-item]
            candidate_ids=[people[n].id or 0 for n in ("tao", "mei", "kim")],
            cohort=None,
            created_by=people["pat"].id,
        )
        session.commit()
    url = f"/proctor/exams/{exam.id}/monitor"
    first = proctor.get(url)
    ids = [people[n].id for n in ("kim", "mei")]  # by name: kim, mei | tao
    assert list(rows_of(first.text)) == ids
    assert "Page 1 of 2" in first.text and 'id="page-previous"' not in first.text
    last = proctor.get(f"{url}?page=2")
    assert list(rows_of(last.text)) == [people["tao"].id]
    assert 'id="page-next"' not in last.text and 'id="page-previous"' in last.text
    past = proctor.get(f"{url}?page=9")
    assert past.status_code == 200 and list(rows_of(past.text)) == [people["tao"].id]
    assert 'id="page-problem"' in past.text
    junk = proctor.get(f"{url}?page=abc")
    assert junk.status_code == 200 and list(rows_of(junk.text)) == ids


def test_the_exam_page_pages_its_candidates_at_exact_boundaries(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(proctor_routes, "EXAM_PAGE_SIZE", 2)
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        extra = User(name="zed", role=Role.TRAINEE, password_hash=password_hash())
        session.add(extra)
        session.flush()
        names = ("kim", "mei", "tao")
        exam = create_exam(
            session=session,
            name="Paged exam",
            time_limit_s=600,
            opens_at=clock.now - timedelta(hours=1),
            closes_at=clock.now + timedelta(days=1),
            rules=ExamRules(),
            scenarios=[tuple(COLD.split("/"))],  # type: ignore[list-item]
            candidate_ids=[*(people[n].id or 0 for n in names), extra.id or 0],
            cohort=None,
            created_by=people["pat"].id,
        )
        session.commit()
    url = f"/proctor/exams/{exam.id}"
    first = proctor.get(url)
    assert list(rows_of(first.text)) == [people["kim"].id, people["mei"].id]
    assert "Page 1 of 2" in first.text and f'href="{url}?page=2"' in first.text
    last = proctor.get(f"{url}?page=2")  # four candidates fill exactly two pages
    assert list(rows_of(last.text)) == [people["tao"].id, extra.id]
    assert 'id="page-next"' not in last.text
    past = proctor.get(f"{url}?page=3")
    assert list(rows_of(past.text)) == [people["tao"].id, extra.id]
    assert 'id="page-problem"' in past.text


def test_the_grades_csv_streams_in_batches_with_every_candidate_once(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        extra = [
            User(name=f"x-{n}", role=Role.TRAINEE, password_hash=password_hash()) for n in range(2)
        ]
        session.add_all(extra)
        session.flush()
        exam = create_exam(
            session=session,
            name="Exported",
            time_limit_s=600,
            opens_at=clock.now - timedelta(hours=1),
            closes_at=clock.now + timedelta(days=1),
            rules=ExamRules(),
            scenarios=[tuple(COLD.split("/")), tuple(INSULIN.split("/"))],  # type: ignore[list-item]
            candidate_ids=[
                *(people[n].id or 0 for n in ("tao", "mei", "kim")),
                *(u.id or 0 for u in extra),
            ],
            cohort="2026-Z",
            created_by=people["pat"].id,
        )
        session.commit()
        set_written_score(
            session=session,
            exam_id=exam.id or 0,
            user_id=people["mei"].id or 0,
            score=77.0,
            entered_by=people["pat"].id,
        )
        session.commit()
    url = f"/proctor/exams/{exam.id}/grades.csv"
    whole = proctor.get(url)
    monkeypatch.setattr(reports, "CSV_BATCH", 2)  # five candidates: three batches
    batched = proctor.get(url)
    assert batched.status_code == 200 and batched.text == whole.text
    lines = batched.text.splitlines()
    assert lines[0].startswith("exam,trainee,") and lines[0].endswith(
        f"score {COLD},score {INSULIN}"
    )  # every scenario of the exam has its column, in order
    names = [line.split(",")[1] for line in lines[1:]]
    assert names == ["kim", "mei", "tao", "x-0", "x-1"]
    assert ",77.0," in lines[2]  # mei's written score
    cohort = proctor.get("/proctor/cohorts/2026-Z/grades.csv")
    assert cohort.text == batched.text
