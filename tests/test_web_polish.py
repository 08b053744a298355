"""Trainee pages and wording: the catalogue search, what a brief says will be practised (and
what it never says), the message box's character count, the exam chat's link to the results,
forbidden criteria worded as "kept clear" in the report, and the phone menu's markup."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from exam_support import (
    COLD,
    FakeClock,
    attempt_row,
    chat,
    frames_until,
    make_exam,
    service,
    start,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from web_support import add_user, csrf_token, login, start_attempt

from sandbox.scenarios.catalogue import matches_search, practised
from sandbox.storage.models import Attempt, User
from sandbox.storage.verdicts import write_verdicts

COLD_ID = "scenario-pharmacy-basics--cold-remedy-hypertension"
INSULIN_ID = "scenario-pharmacy-basics--late-insulin-delivery"
ZH_ID = "scenario-aesthetics-consult-zh--"


def _trainee(app: FastAPI, client: TestClient) -> TestClient:
    add_user(app, "tao")
    login(client, "tao")
    return client


def test_the_catalogue_finds_scenarios_by_words(app: FastAPI, client: TestClient) -> None:
    trainee = _trainee(app, client)
    page = trainee.get("/").text
    assert 'id="filter-q"' in page and 'type="search"' in page and 'maxlength="100"' in page
    assert COLD_ID in page and INSULIN_ID in page
    found = trainee.get("/", params={"q": "insulin"}).text
    assert INSULIN_ID in found and COLD_ID not in found and "1 scenario" in found
    # Every word must match, in any case, in title, brief, persona or pack.
    both = trainee.get("/", params={"q": "  BLOOD   pressure "}).text
    assert COLD_ID in both and INSULIN_ID not in both
    assert 'value="BLOOD   pressure"' in both  # the box keeps what was typed
    assert ZH_ID in trainee.get("/", params={"q": "瘦脸针"}).text
    none = trainee.get("/", params={"q": "insulin 瘦脸针"}).text
    assert 'id="catalogue-empty"' in none
    # htmx asks for the list alone; the filters combine with the words.
    block = trainee.get(
        "/", params={"q": "customer", "language": "en"}, headers={"HX-Request": "true"}
    )
    assert block.text.lstrip().startswith('<section id="scenario-list"')
    assert COLD_ID in block.text and ZH_ID not in block.text
    # An overlong query is cut to the box's limit, not refused.
    assert trainee.get("/", params={"q": "x" * 5000}).status_code == 200


def test_search_folds_case_and_width(app: FastAPI) -> None:
    library = app.state.sandbox.library
    pack, scenario = next(
        (p, s) for p, s in library.scenarios() if s.id == "cold-remedy-hypertension"
    )
    assert matches_search(pack, scenario, "ＢＬＯＯＤ")  # full-width letters from a CJK keyboard
    assert matches_search(pack, scenario, "")
    assert not matches_search(pack, scenario, "blood insulin")


def test_the_brief_names_the_skills_but_not_the_answer_key(
    app: FastAPI, client: TestClient
) -> None:
    trainee = _trainee(app, client)
    library = app.state.sandbox.library
    _pack, scenario = next(
        (p, s) for p, s in library.scenarios() if s.id == "cold-remedy-hypertension"
    )
    assert practised(scenario) == [
        "inquiry",
        "disclosure",
        "contraindication",
        "etiquette",
        "forbidden",
    ]
    page = trainee.get("/scenarios/pharmacy-basics/cold-remedy-hypertension").text
    section = page[page.index('id="practised"') :].split("</section>")[0]
    for skill in (
        "Asking the customer what you need to know",
        "Telling the customer what they need to know",
        "Noticing when a product is not safe for this customer",
        "Courtesy, tone and answering promptly",
        "Keeping clear of what must never be said or promised",
    ):
        assert skill in section, skill
    assert "Bringing the conversation to a good end" not in section  # no outcome criterion
    # Never a criterion's own words or its id (one-word ids such as "tone" are plain words).
    for criterion in scenario.rubric.criteria:
        if "-" in criterion.id:
            assert criterion.id not in page, criterion.id
        if criterion.description:
            assert criterion.description not in page, criterion.description
    assert "pseudoephedrine" not in section.lower()
    trainee.post("/language", data={"csrf_token": csrf_token(page), "locale": "zh-CN"})
    zh = trainee.get("/scenarios/pharmacy-basics/cold-remedy-hypertension").text
    assert "本场练习的能力" in zh and "向顾客了解必要的信息" in zh


def test_the_message_box_counts_characters_against_the_limit(
    app: FastAPI, client: TestClient
) -> None:
    trainee = _trainee(app, client)
    page = trainee.get("/scenarios/pharmacy-basics/cold-remedy-hypertension").text
    assert 'id="start-form"' in page
    attempt_id = start_attempt(trainee, "pharmacy-basics", "cold-remedy-hypertension")
    chat_page = trainee.get(f"/attempts/{attempt_id}").text
    limit = app.state.sandbox.settings.message_max_chars
    assert f'data-max="{limit}"' in chat_page
    assert 'id="message-count" class="char-count"' in chat_page
    assert f"Characters: 0 of {limit}" in chat_page
    assert f'data-text-count="Characters: {{used}} of {limit}"' in chat_page
    assert 'aria-describedby="message-hint message-count notice"' in chat_page


def test_an_exam_chat_ends_with_a_link_to_your_results(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people)
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    with chat(tao, attempt_id) as ws:
        ws.send_json({"type": "finish"})
        ended = "".join(frames_until(ws, lambda f: 'id="feedback-link"' in f))
    assert f'href="/exams/{exam_id}/results"' in ended and "Your results" in ended
    assert "/feedback" not in ended and "See feedback" not in ended
    assert 'data-ended="finished"' in ended


def test_a_timed_out_chat_is_marked_for_the_clock_to_end_at_zero(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, grace_s="0")
    tao = browsers("tao")
    attempt_id = start(tao, exam_id)
    clock.advance(200)  # past the 120 s limit; the timer task is told to look (as its sleep would)
    service(app).schedule()
    for _ in range(200):
        if attempt_row(app, attempt_id).ended:
            break
        time.sleep(0.02)
    with chat(tao, attempt_id) as ws:
        ws.send_json({"type": "hello", "last_seq": -1})
        ended = "".join(frames_until(ws, lambda f: 'id="feedback-link"' in f))
    assert 'data-ended="timeout"' in ended  # chat.js then shows 0:00 (test_browser_polish.py)


def test_the_facility_table_says_kept_clear_for_forbidden_criteria(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    pack_id, scenario_id = COLD.split("/")
    criteria = [
        {"id": "greeting", "kind": "etiquette", "status": "met", "weight": 1},
        {"id": "no-cure-promise", "kind": "forbidden", "status": "clear", "weight": 1},
    ]
    with Session(app.state.sandbox.engine) as session:
        for name in ("tao", "mei"):
            session.add(
                Attempt(
                    user_id=people[name].id or 0,
                    pack_id=pack_id,
                    pack_version=1,
                    scenario_id=scenario_id,
                    mode="exam",
                    time_limit_s=120,
                    started_at=clock.now,
                    exam_id=exam_id,
                    deadline_at=clock.now + timedelta(seconds=120),
                    ended_at=clock.now + timedelta(seconds=60),
                    end_reason="finished",
                    score=90,
                    band="excellent",
                    passed=True,
                    graded_at=clock.now,
                    grade={"score": 90, "criteria": criteria},
                )
            )
        session.flush()
        for attempt in session.exec(select(Attempt).where(Attempt.exam_id == exam_id)):
            assert attempt.id is not None
            write_verdicts(session, attempt.id, attempt.grade)  # as storage writes a grade
        session.commit()
    report = proctor.get(f"/proctor/exams/{exam_id}/report").text
    table = report[report.index('id="facility-table"') :].split("</table>")[0]
    assert "Met or kept clear" in table
    row = next(r for r in table.split("<tr") if "no-cure-promise" in r)
    assert '<span class="kept-clear">Kept clear of:</span>' in row and "2/2 kept clear" in row
    greeting = next(r for r in table.split("<tr") if "greeting" in r)
    assert "kept clear" not in greeting and "2/2" in greeting


def test_every_page_has_the_phone_menu_button(app: FastAPI, client: TestClient) -> None:
    trainee = _trainee(app, client)
    page = trainee.get("/history").text
    assert 'id="nav-toggle"' in page and 'aria-controls="site-nav"' in page
    assert 'aria-expanded="false"' in page and 'id="site-nav"' in page
    assert "/static/nav.js" in page
