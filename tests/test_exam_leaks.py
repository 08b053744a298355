"""Trust, round two: the rubric must not leak through practice or the case library while
an exam runs, case pages mask names and keep the rubric from trainees, and a release of
results is confirmed, may be scheduled and may be withdrawn.

Each test runs on SQLite and, when SANDBOX_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from exam_support import (
    COLD,
    INSULIN,
    FakeClock,
    audit_trail,
    chat,
    exam_fields,
    exam_row,
    frames_until,
    make_exam,
    messages_of,
    post_exam,
    say,
    start,
    utc_field,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from web_support import (
    csrf_token,
    needs_postgres,
    postgres_database,
    start_attempt,
)

from sandbox.storage.database import alembic_config, make_engine, upgrade
from sandbox.storage.models import Attempt, User
from sandbox.storage.reviews import TeachingCase

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


CLOSED = "closed for practice"
EXAM_ONLY = "kept for exams"


def link(key: str) -> str:
    return f'href="/scenarios/{key}"'


def try_practice(browser: TestClient, key: str) -> tuple[int, str]:
    """Start a practice of `key` from its brief page: the status and the page answered."""
    brief = browser.get(f"/scenarios/{key}")
    assert brief.status_code == 200
    response = browser.post(
        f"/scenarios/{key}/attempts",
        data={"csrf_token": csrf_token(brief.text)},
        follow_redirects=False,
    )
    return response.status_code, response.text


def attempts_of(app: FastAPI, user: User) -> list[Attempt]:
    with Session(app.state.sandbox.engine) as session:
        return list(session.exec(select(Attempt).where(Attempt.user_id == user.id)))


def play_practice(browser: TestClient, key: str, lines: list[str]) -> int:
    """A finished practice conversation saying `lines`; its id."""
    attempt_id = start_attempt(browser, *key.split("/"))
    with chat(browser, attempt_id) as ws:
        for index, line in enumerate(lines):
            say(ws, line, f"p-{attempt_id}-{index}")
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda f: 'id="feedback-link"' in f)
    return attempt_id


def descriptions(app: FastAPI, key: str) -> list[str]:
    _, scenario = app.state.sandbox.library.find(*key.split("/"))
    return [c.description for c in scenario.rubric.criteria if c.description]


def mark_case(browser: TestClient, attempt_id: int, **fields: str) -> object:
    page = browser.get(f"/mentor/attempts/{attempt_id}")
    assert page.status_code == 200, page.text
    data = {"example": "good", "tags": "", "note": "", **fields}
    return browser.post(
        f"/mentor/attempts/{attempt_id}/case",
        data={**data, "csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )


def case_ids(app: FastAPI) -> list[int]:
    with Session(app.state.sandbox.engine) as session:
        return [
            c.id
            for c in session.exec(select(TeachingCase).order_by(col(TeachingCase.id)))
            if c.id is not None
        ]


# --- 2. the rubric does not leak through practice ----------------------------------------


def test_a_candidate_cannot_practise_the_scenario_of_an_exam_until_it_is_over(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    """tao sits an exam on the cold remedy: the catalogue hides it, the brief and the start
    route refuse it with the reason; kim, not a candidate, practises it as ever."""
    make_exam(proctor, clock, people, candidate=[str(people["tao"].id)])
    tao, kim = browsers("tao"), browsers("kim")
    catalogue = tao.get("/").text
    assert link(COLD) not in catalogue and link(INSULIN) in catalogue
    brief = tao.get(f"/scenarios/{COLD}").text
    assert 'id="practice-closed"' in brief and CLOSED in brief and 'id="start-form"' not in brief
    status, page = try_practice(tao, COLD)
    assert status == 409 and CLOSED in page
    assert attempts_of(app, people["tao"]) == []
    assert link(COLD) in kim.get("/").text
    assert try_practice(kim, COLD)[0] == 303
    # In Chinese too.
    zh = tao.post("/language", data={"csrf_token": csrf_token(brief), "locale": "zh-CN"})
    assert zh.status_code < 400
    assert "不能练习此情景" in tao.get(f"/scenarios/{COLD}").text
    tao.post("/language", data={"csrf_token": csrf_token(brief), "locale": "en"})
    # After the window the result is pending (no written score): a retake may still follow,
    # so the scenario stays closed through the retake window counted from the close...
    clock.advance(2 * 86400)
    assert link(COLD) not in tao.get("/").text
    assert try_practice(tao, COLD)[0] == 409
    # ... and opens once that has passed.
    clock.advance(7 * 86400)
    assert link(COLD) in tao.get("/").text
    assert try_practice(tao, COLD)[0] == 303


def test_an_upcoming_exam_and_a_granted_retake_keep_the_scenario_closed(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(
        proctor,
        clock,
        people,
        candidate=[str(people["tao"].id)],
        opens_at=utc_field(clock.now + timedelta(hours=1)),
        closes_at=utc_field(clock.now + timedelta(hours=2)),
    )
    tao = browsers("tao")
    assert try_practice(tao, COLD)[0] == 409  # upcoming
    clock.advance(3600 + 60)
    attempt_id = start(tao, exam_id)
    with chat(tao, attempt_id) as ws:
        say(ws, "Hi", "x-1")
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda f: 'id="feedback-link"' in f)
    page = proctor.get(f"/proctor/exams/{exam_id}")
    proctor.post(
        f"/proctor/exams/{exam_id}/written",
        data={"csrf_token": csrf_token(page.text), "user_id": str(people["tao"].id), "score": "80"},
    )
    clock.advance(2 * 3600)  # closed; tao failed the practical part
    page = proctor.get(f"/proctor/exams/{exam_id}")
    assert f'id="grant-retake-{people["tao"].id}"' in page.text
    assert try_practice(tao, COLD)[0] == 409  # a retake may be granted
    granted = proctor.post(
        f"/proctor/exams/{exam_id}/retakes",
        data={"csrf_token": csrf_token(page.text), "user_id": str(people["tao"].id)},
        follow_redirects=False,
    )
    assert granted.status_code == 303
    assert try_practice(tao, COLD)[0] == 409  # the retake runs
    clock.advance(8 * 86400)  # the retake expired
    assert try_practice(tao, COLD)[0] == 303


def test_the_chat_socket_and_the_feedback_page_keep_the_rubric_of_a_closed_scenario(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    """A practice begun before tao became a candidate: its socket gives no hint and takes no
    message, and the feedback of an earlier practice shows no criterion."""
    tao = browsers("tao")
    done = play_practice(tao, COLD, ["Hello, do you take any other medication?"])
    running = start_attempt(tao, *COLD.split("/"))
    before = tao.get(f"/attempts/{done}/feedback").text
    assert 'id="criterion-ask-medication"' in before  # practice feedback shows the rubric
    make_exam(proctor, clock, people, candidate=[str(people["tao"].id)])
    stored = len(messages_of(app, running))
    with chat(tao, running) as ws:
        ws.send_json({"type": "hint"})
        hint = ws.receive_text()
        assert CLOSED in hint and 'id="hints"' not in hint
        answer = say(ws, "Do you have any allergies?", "c-1")
        assert CLOSED in answer
    assert len(messages_of(app, running)) == stored
    page = tao.get(f"/attempts/{running}").text
    assert 'id="practice-closed"' in page and 'id="hint-button"' not in page
    feedback = tao.get(f"/attempts/{done}/feedback").text
    assert 'id="practice-closed"' in feedback
    assert 'id="criterion-' not in feedback and 'id="retry-form"' not in feedback
    for secret in descriptions(app, COLD):
        assert secret not in feedback, secret
    # The trainee's mentor still reads the whole feedback.
    assert 'id="criterion-ask-medication"' in browsers("mo").get(f"/attempts/{done}/feedback").text


def test_a_proctor_marks_an_exam_exam_only_and_nobody_practises_its_scenarios(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    form = proctor.get("/proctor/exams/new").text
    assert 'id="field-exam_only"' in form
    exam_id = make_exam(
        proctor, clock, people, scenario=[INSULIN], exam_only="1", candidate=[str(people["tao"].id)]
    )
    assert exam_row(app, exam_id).exam_only is True
    assert audit_trail(app, "exam.create")[0].new["exam_only"] is True
    assert 'id="exam-only"' in proctor.get(f"/proctor/exams/{exam_id}").text
    assert (
        "checked"
        in proctor.get(f"/proctor/exams/{exam_id}/edit")
        .text.split('id="field-exam_only"')[1]
        .split(">")[0]
    )
    kim = browsers("kim")  # not a candidate
    assert link(INSULIN) not in kim.get("/").text
    status, page = try_practice(kim, INSULIN)
    assert status == 409 and EXAM_ONLY in page
    clock.advance(365 * 86400)  # for as long as the exam exists
    assert try_practice(kim, INSULIN)[0] == 409
    assert try_practice(browsers("mo"), INSULIN)[0] == 303  # staff read rubrics anyway
    # Unticked on the form, the scenarios are offered again.
    edited = post_exam(
        proctor,
        exam_fields(
            clock,
            people,
            scenario=[INSULIN],
            candidate=[str(people["tao"].id)],
            opens_at=utc_field(clock.now - timedelta(days=2)),
            closes_at=utc_field(clock.now - timedelta(days=1)),
        ),
        exam_id,
    )
    assert edited.status_code == 303 and exam_row(app, exam_id).exam_only is False
    assert audit_trail(app, "exam.update")[-1].old["exam_only"] is True
    assert try_practice(kim, INSULIN)[0] == 303


def test_the_teaching_cases_of_a_closed_scenario_are_hidden_from_the_candidate(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    mei = browsers("mei")
    attempt_id = play_practice(mei, COLD, ["Hello, do you take any other medication?"])
    assert mark_case(browsers("mo"), attempt_id, tags="greeting").status_code == 303
    [case_id] = case_ids(app)
    tao, kim = browsers("tao"), browsers("kim")
    assert f'id="case-{case_id}"' in tao.get("/cases").text
    make_exam(proctor, clock, people, candidate=[str(people["tao"].id)])
    listing = tao.get("/cases").text
    assert f'id="case-{case_id}"' not in listing and "greeting" not in listing
    assert tao.get(f"/cases/{case_id}").status_code == 404
    assert tao.get("/cases", params={"tag": "greeting"}).text.count('class="card') == 0
    assert f'id="case-{case_id}"' in kim.get("/cases").text
    assert kim.get(f"/cases/{case_id}").status_code == 200


# --- 3. the case library -----------------------------------------------------------------


def test_an_exam_conversation_becomes_a_case_only_after_every_exam_window_closed(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people)  # tao and mei
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    with chat(tao, attempt_id) as ws:
        say(ws, "Hello, do you take any other medication?", "e-1")
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda f: 'id="feedback-link"' in f)
    mo = browsers("mo")
    refused = mark_case(mo, attempt_id)
    assert refused.status_code == 400
    assert "every exam and retake window on its scenario has closed" in refused.text
    assert case_ids(app) == []
    clock.advance(2 * 86400)  # the window closed; results pending, a retake may follow
    assert mark_case(mo, attempt_id).status_code == 400
    clock.advance(7 * 86400)
    assert mark_case(mo, attempt_id).status_code == 303
    assert len(case_ids(app)) == 1


def test_a_trainee_sees_verdicts_by_criterion_id_not_the_rubric_on_a_case_page(
    app: FastAPI,
    browsers: Callable[[str], TestClient],
    people: dict[str, User],
) -> None:
    tao = browsers("tao")
    attempt_id = play_practice(tao, COLD, ["Hello, do you take any other medication?"])
    assert mark_case(browsers("mo"), attempt_id, note="Asks first.").status_code == 303
    [case_id] = case_ids(app)
    seen = browsers("kim").get(f"/cases/{case_id}").text
    assert 'id="criterion-ask-medication"' in seen and "Asks first." in seen
    assert 'id="rubric-note"' in seen
    for secret in descriptions(app, COLD):
        assert secret not in seen, secret
    assert "Weight" not in seen and "Critical" not in seen
    staff = browsers("mo").get(f"/cases/{case_id}").text
    assert all(secret in staff for secret in descriptions(app, COLD)[:2])


def test_names_in_tags_notes_and_self_introductions_are_masked(
    app: FastAPI,
    browsers: Callable[[str], TestClient],
    people: dict[str, User],
) -> None:
    tao = browsers("tao")
    attempt_id = play_practice(
        tao,
        COLD,
        [
            "Hello, my name is Tom Baker, do you take any other medication?",
            "我叫张伟，请问您有过敏吗？",
        ],
    )
    response = mark_case(
        browsers("mo"),
        attempt_id,
        tags="tao-greeting, baker, mo, polite",
        note="Tom did well; 张伟 asked about allergies; pat agreed.",
    )
    assert response.status_code == 303
    [case_id] = case_ids(app)
    kim = browsers("kim")
    page = kim.get(f"/cases/{case_id}").text
    listing = kim.get("/cases").text
    for shown in (page, listing):
        for name in ("Tom", "Baker", "baker", "张伟", "tao-greeting", "pat agreed"):
            assert name not in shown, name
        assert "[name]-greeting" in shown and "polite" in shown
        assert "/cases?tag=baker" not in shown and "/cases?tag=tao-greeting" not in shown
    assert "[name] did well" in page and "[name] agreed" in page
    for query in ({"tag": "baker"}, {"tag": "tao-greeting"}, {"q": "Baker"}, {"q": "张伟"}):
        assert f'id="case-{case_id}"' not in kim.get("/cases", params=query).text, query
    assert f'id="case-{case_id}"' in kim.get("/cases", params={"tag": "polite"}).text


def test_self_introductions_are_found_in_english_and_chinese() -> None:
    from sandbox.web.reviews import introduced_names, redactor

    found = introduced_names(
        [
            "Hi, my name is Tom Baker and I can help.",
            "I'm Anna.",
            "Hello, this is Sarah from the pharmacy.",
            "call me bob",
            "This is Dr Smith speaking",
            "我叫张伟，请问有什么可以帮您？",
            "您好，我的名字是李娜。",
            "I'm sorry, I'm English and this is Monday.",
        ]
    )
    assert found == {"Tom Baker", "Anna", "Sarah", "bob", "Smith", "张伟", "李娜"}
    clean = redactor("tao", ["mei"], "[name]", found)
    assert clean("Thanks Tom, baker, Bob; 张伟说; I will call; Sarah; Tomorrow") == (
        "Thanks [name], [name], [name]; [name]说; I will call; [name]; Tomorrow"
    )


# --- 14. releasing results ---------------------------------------------------------------


def test_a_release_is_confirmed_with_what_is_pending_scheduled_and_withdrawn(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people)  # tao and mei, open now
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)  # in progress; mei has not started
    exam_page = proctor.get(f"/proctor/exams/{exam_id}").text
    # The button leads to a confirmation; a bare POST releases nothing.
    assert f'href="/proctor/exams/{exam_id}/release"' in exam_page
    bare = proctor.post(
        f"/proctor/exams/{exam_id}/release",
        data={"csrf_token": csrf_token(exam_page)},
        follow_redirects=False,
    )
    assert bare.status_code == 303 and bare.headers["location"].endswith("/release")
    assert exam_row(app, exam_id).results_released_at is None
    confirm = proctor.get(f"/proctor/exams/{exam_id}/release").text
    assert 'id="pending-window"' in confirm and "still open" in confirm
    assert (
        'id="pending-not-started"' in confirm
        and "mei" in confirm.split('id="pending-not-started"')[1].split("</li>")[0]
    )
    assert (
        'id="pending-in-progress"' in confirm
        and "tao" in confirm.split('id="pending-in-progress"')[1].split("</li>")[0]
    )
    assert 'id="pending-written"' in confirm
    with chat(tao, attempt_id) as ws:
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda f: 'id="feedback-link"' in f)
    # A time that is not a time comes back with the problem named.
    bad = proctor.post(
        f"/proctor/exams/{exam_id}/release",
        data={"csrf_token": csrf_token(confirm), "confirm": "1", "release_at": "next tuesday"},
    )
    assert bad.status_code == 400 and 'id="error-release_at"' in bad.text
    assert exam_row(app, exam_id).results_released_at is None
    # Scheduled two hours ahead: nothing shows until then, then it shows with no job run.
    at = (clock.now + timedelta(hours=2)).replace(second=0)
    scheduled = proctor.post(
        f"/proctor/exams/{exam_id}/release",
        data={"csrf_token": csrf_token(confirm), "confirm": "1", "release_at": utc_field(at)},
        follow_redirects=False,
    )
    assert scheduled.status_code == 303
    assert exam_row(app, exam_id).results_released_at == at
    [event] = audit_trail(app, "exam.release")
    assert event.actor_id == people["pat"].id and event.new["scheduled"] is True
    assert event.new["pending"]["window_open"] is True
    assert event.new["pending"]["not_started"] == ["mei"]
    assert "Scheduled" in proctor.get(f"/proctor/exams/{exam_id}").text
    results = tao.get(f"/exams/{exam_id}/results").text
    assert (
        'id="not-released"' in results
        and 'id="results-link"' not in tao.get(f"/exams/{exam_id}").text
    )
    clock.advance(2 * 3600 + 1)
    results = tao.get(f"/exams/{exam_id}/results").text
    assert 'id="not-released"' not in results and 'id="final"' in results
    assert 'id="results-link"' in tao.get(f"/exams/{exam_id}").text
    # Withdrawn: audited, and the candidates see nothing again (nor may they appeal).
    exam_page = proctor.get(f"/proctor/exams/{exam_id}").text
    assert 'id="withdraw-release-button"' in exam_page
    withdrawn = proctor.post(
        f"/proctor/exams/{exam_id}/release/withdraw",
        data={"csrf_token": csrf_token(exam_page)},
        follow_redirects=False,
    )
    assert withdrawn.status_code == 303
    assert exam_row(app, exam_id).results_released_at is None
    [undo] = audit_trail(app, "exam.release_withdraw")
    assert undo.actor_id == people["pat"].id and undo.old["was_visible"] is True
    assert 'id="not-released"' in tao.get(f"/exams/{exam_id}/results").text
    appeal = tao.post(
        f"/exams/{exam_id}/appeals",
        data={"csrf_token": csrf_token(results), "attempt_id": str(attempt_id), "reason": "Why?"},
    )
    assert appeal.status_code == 400
    # A trainee cannot release or withdraw.
    assert tao.get(f"/proctor/exams/{exam_id}/release").status_code == 403
    assert (
        tao.post(
            f"/proctor/exams/{exam_id}/release/withdraw", data={"csrf_token": csrf_token(results)}
        ).status_code
        == 403
    )
    # In Chinese too.
    proctor.post("/language", data={"csrf_token": csrf_token(exam_page), "locale": "zh-CN"})
    assert "公布之前请注意" in proctor.get(f"/proctor/exams/{exam_id}/release").text


# --- the migration ------------------------------------------------------------------------


def migrated_with_data(engine: Engine) -> None:
    """An exam stored at the previous head, then the upgrade: it is kept, not exam-only."""
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (name, role, password_hash, active, created_at) "
                "VALUES ('pat', 'proctor', 'x', true, '2026-01-01 00:00:00+00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO exams (name, time_limit_s, opens_at, closes_at, rules, "
                "results_released_at, created_by, created_at, updated_at) VALUES "
                "('Old exam', 600, '2026-01-01 09:00:00+00:00', '2026-01-02 09:00:00+00:00', "
                "'{}', '2026-01-03 09:00:00+00:00', 1, '2026-01-01 00:00:00+00:00', "
                "'2026-01-01 00:00:00+00:00')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, exam_only, results_released_at FROM exams")
        ).all()
    assert [(name, bool(flag)) for name, flag, _ in rows] == [("Old exam", False)]
    assert rows[0][2] is not None


def limits_kept_through_0019(engine: Engine) -> None:
    """An exam's own limit survives the upgrade that lets an exam use its scenarios'
    limits instead, and the downgrade keeps the limit stored beside the flag."""
    upgrade(engine, "0018")
    columns = "name, time_limit_s, opens_at, closes_at, rules, exam_only, created_at, updated_at"
    values = (
        "900, '2026-01-01 09:00:00+00:00', '2026-01-02 09:00:00+00:00', '{}', false, "
        "'2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00'"
    )
    with engine.begin() as connection:
        connection.execute(text(f"INSERT INTO exams ({columns}) VALUES ('Timed', {values})"))
        connection.execute(
            text(
                "INSERT INTO users (name, role, password_hash, active, created_at) "
                "VALUES ('tao', 'trainee', 'x', true, '2026-01-01 00:00:00+00:00')"
            )
        )
        connection.execute(text("INSERT INTO exam_candidates (exam_id, user_id) VALUES (1, 1)"))
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO exams ({columns}, scenario_limits) VALUES ('Own', {values}, true)")
        )
        rows = connection.execute(
            text("SELECT name, time_limit_s, scenario_limits FROM exams ORDER BY id")
        ).all()
    assert [(n, t, bool(f)) for n, t, f in rows] == [("Timed", 900, False), ("Own", 900, True)]
    command.downgrade(alembic_config(engine), "0018")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, time_limit_s FROM exams ORDER BY id")).all()
        candidates = connection.execute(text("SELECT exam_id, user_id FROM exam_candidates")).all()
    assert [tuple(r) for r in rows] == [("Timed", 900), ("Own", 900)]
    assert [tuple(r) for r in candidates] == [(1, 1)]


def test_0019_keeps_exam_limits_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'limits.db'}")
    try:
        limits_kept_through_0019(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=needs_postgres)])
def test_0019_keeps_exam_limits_on_postgres(backend: str) -> None:
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            limits_kept_through_0019(engine)
        finally:
            engine.dispose()


def test_the_migration_keeps_existing_exams_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrated_with_data(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=needs_postgres)])
def test_the_migration_keeps_existing_exams_on_postgres(backend: str) -> None:
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            migrated_with_data(engine)
        finally:
            engine.dispose()
