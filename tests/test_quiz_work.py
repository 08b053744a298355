"""Quizzes as work and as reports that leave the product, over HTTP: a mentor assigns a
quiz (of a tag or a trade) with a due date, the trainee starts it from the catalogue and
completion counts once they hand it in; quiz and written-part sittings appear in the xAPI
downloads as attempted, answered, scored and passed/failed statements with each question's
result as an extension, valid against the statement schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from exam_support import FakeClock, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from question_support import answer, positions, write_bank
from sqlmodel import Session, select
from test_xapi import check
from web_support import csrf_token, make_settings

from sandbox.config import Settings
from sandbox.exams.xapi import QUIZ_ACTIVITY_TYPE, VERBS
from sandbox.storage import questions as store
from sandbox.storage.assignments import Assignment
from sandbox.storage.exams import Exam
from sandbox.storage.models import User

pytestmark = pytest.mark.backends("sqlite", "postgres")

Browsers = Callable[[str], TestClient]
BASE = "https://sandbox.example.org"
CRITERIA = f"{BASE}/xapi/extensions/criteria"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        questions=str(write_bank(tmp_path / "banks")),
        xapi_base_iri=BASE,
    )


def assign(client: TestClient, **data: Any) -> Any:
    token = csrf_token(client.get("/mentor/assignments").text)
    return client.post(
        "/mentor/assignments", data={"csrf_token": token, **data}, follow_redirects=False
    )


def take_quiz(browser: TestClient, tag: str, right: bool) -> int:
    """Start a quiz of one tag from the quiz page and answer every question; its id."""
    token = csrf_token(browser.get("/quiz").text)
    started = browser.post(
        "/quiz",
        data={"csrf_token": token, "mode": "tag", "tag": tag, "language": "en"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    url = started.headers["location"]
    for position in positions(browser.get(url).text).values():
        answer(browser, url, f"{url}/answer", position, "false" if right else "true")
    return int(url.rsplit("/", 1)[1])


def test_a_mentor_assigns_a_quiz_and_taking_it_completes_it(
    app: FastAPI, browsers: Browsers, people: dict[str, User]
) -> None:
    mentor = browsers("mo")
    page = mentor.get("/mentor/assignments").text
    assert 'value="quiz:tag:tw-other"' in page and 'value="quiz:trade:pharmacy"' in page
    due = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    response = assign(mentor, activity="quiz:tag:tw-other", trainees=[people["tao"].id], due_on=due)
    assert response.status_code == 303
    assert (
        assign(mentor, activity="quiz:tag:tw-core", trainees=[people["mei"].id]).status_code == 303
    )
    with Session(app.state.sandbox.engine) as session:
        made = {a.activity_ref: a for a in session.exec(select(Assignment)).all()}
    assert made["tag:tw-other"].activity_kind == "quiz" and made["tag:tw-other"].due_on
    assert "Quiz on tw-other" in mentor.get("/mentor/assignments").text

    # The trainee sees it first, and starts that very quiz from it.
    tao = browsers("tao")
    catalogue = tao.get("/").text
    item = catalogue.split(f'id="assigned-{made["tag:tw-other"].id}"', 1)[1].split("</li>", 1)[0]
    assert "Quiz on tw-other" in item and f"due {due}" in item
    assert 'name="mode" value="tag"' in item and 'name="tag" value="tw-other"' in item
    started = tao.post(
        "/quiz",
        data={
            "csrf_token": csrf_token(catalogue),
            "mode": "tag",
            "tag": "tw-other",
            "language": "en",
        },
        follow_redirects=False,
    )
    url = started.headers["location"]
    where = positions(tao.get(url).text)
    assert set(where) == {"tw-extra"}
    answer(tao, url, f"{url}/answer", where["tw-extra"], "false")  # right: 100%, handed in
    page = mentor.get("/mentor/assignments").text
    row = page.split(f'id="assignment-{made["tag:tw-other"].id}"', 1)[1].split("</tr>", 1)[0]
    assert "Done, passed" in row
    assert 'id="assigned-list"' not in tao.get("/").text

    # A quiz of another tag does not complete mei's.
    take_quiz(browsers("mei"), "tw-other", right=True)
    row = mentor.get("/mentor/assignments").text.split(f'id="assignment-{made["tag:tw-core"].id}"')[
        1
    ]
    assert "To do" in row.split("</tr>", 1)[0]


def test_a_quiz_assignment_names_a_quiz_that_exists(
    browsers: Browsers, people: dict[str, User]
) -> None:
    mentor = browsers("mo")
    for bad in ("quiz:tag:nope", "quiz:weak:all", "quiz:trade:", "quiz:"):
        response = assign(mentor, activity=bad, trainees=[people["tao"].id])
        assert response.status_code == 400 and 'id="error-activity"' in response.text


def _quiz_statements(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        s
        for s in found
        if s["object"]["definition"]["type"] == QUIZ_ACTIVITY_TYPE
        and "/quizzes/" in s["object"]["id"]
    ]


def test_quiz_sittings_are_xapi_statements_of_the_cohort(
    app: FastAPI,
    proctor: TestClient,
    browsers: Browsers,
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    make_exam(proctor, clock, people, cohort="Spring")  # tao and mei
    take_quiz(browsers("tao"), "tw-other", right=True)
    take_quiz(browsers("mei"), "tw-other", right=False)
    take_quiz(browsers("kim"), "tw-other", right=True)  # not of the cohort: not exported
    # An unfinished one says only that it was attempted.
    token = csrf_token(browsers("tao").get("/quiz").text)
    browsers("tao").post(
        "/quiz", data={"csrf_token": token, "mode": "tag", "tag": "tw-core", "language": "en"}
    )
    found = proctor.get("/proctor/cohorts/Spring/xapi.json").json()
    for statement in found:
        check(statement)
    quizzes = _quiz_statements(found)
    verbs = [
        (s["actor"]["name"], s["object"]["id"].rsplit("/", 1)[1], s["verb"]["display"]["en-US"])
        for s in quizzes
    ]
    assert verbs == [
        ("tao", "tw-other", "attempted"),
        ("tao", "tw-other", "answered"),
        ("tao", "tw-other", "scored"),
        ("tao", "tw-other", "passed"),
        ("mei", "tw-other", "attempted"),
        ("mei", "tw-other", "answered"),
        ("mei", "tw-other", "scored"),
        ("mei", "tw-other", "failed"),
        ("tao", "tw-core", "attempted"),
    ]
    scored = quizzes[2]
    assert scored["result"]["score"]["raw"] == 100.0
    assert scored["result"]["extensions"][CRITERIA] == [
        {
            "id": "tw-extra",
            "status": "met",
            "description": "A prescription-only medicine may be sold without a prescription.",
            "critical": False,
        }
    ]
    assert quizzes[6]["result"]["extensions"][CRITERIA][0]["status"] == "missed"
    assert quizzes[7]["verb"]["id"] == VERBS["failed"]
    assert quizzes[1]["result"]["response"] == "1"
    parent = scored["context"]["contextActivities"]["parent"][0]
    assert parent["id"] == f"{BASE}/cohorts/Spring"
    # The same ids when exported again (a store keeps one copy).
    again = _quiz_statements(proctor.get("/proctor/cohorts/Spring/xapi.json").json())
    assert [s["id"] for s in again] == [s["id"] for s in quizzes]


def test_a_written_part_is_in_the_exam_statements(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    bank = app.state.sandbox.questions.questions
    with Session(app.state.sandbox.engine) as session:
        exam = session.get(Exam, exam_id)
        assert exam is not None
        part = store.set_written_part(
            session,
            exam_id=exam_id,
            questions=["tw-extra", "tw-tf"],
            tags=[],
            difficulties=[],
            count=0,
            locale="en",
            trade=None,
            time_limit_s=600,
            grace_s=0,
        )
        tao = people["tao"]
        sitting = store.start_written(
            session, exam=exam, part=part, user_id=tao.id or 0, bank=bank, now=clock.now
        )
        rows = store.responses(session, sitting.id or 0)
        first = next(r for r in rows if r.question_id == "tw-extra")
        store.save_answer(
            session, sitting=sitting, position=first.position, raw="false", bank=bank, now=clock.now
        )
        store.submit(session, sitting=sitting, bank=bank, now=clock.now + timedelta(seconds=30))
        session.commit()
    found = proctor.get(f"/proctor/exams/{exam_id}/xapi.json").json()
    for statement in found:
        check(statement)
    written = [s for s in found if s["object"]["id"] == f"{BASE}/exams/{exam_id}/written"]
    assert [s["verb"]["display"]["en-US"] for s in written] == [
        "attempted",
        "answered",
        "scored",
        "failed",  # one of two right: 50, under the written pass line of 60
    ]
    results = {c["id"]: c["status"] for c in written[2]["result"]["extensions"][CRITERIA]}
    assert results == {"tw-extra": "met", "tw-tf": "missed"}
    assert written[1]["result"]["duration"] == "PT30S"
    assert (
        written[0]["context"]["contextActivities"]["parent"][0]["id"] == f"{BASE}/exams/{exam_id}"
    )
