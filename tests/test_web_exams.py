"""Exams through the pages: the proctor's form, access, written scores, results, retakes,
reports and CSV, and that a trainee never sees rubric content or another's attempts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from exam_support import (
    COLD,
    INSULIN,
    FakeClock,
    attempt_row,
    audit_trail,
    chat,
    exam_fields,
    exam_row,
    frames_until,
    make_exam,
    post_exam,
    say,
    start,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.websockets import WebSocketDisconnect
from web_support import SAME_ORIGIN, csrf_token

from sandbox.storage.exams import Exam
from sandbox.storage.models import Attempt, User
from sandbox.storage.verdicts import write_verdicts

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


# --- the proctor's form ------------------------------------------------------------------


def test_a_proctor_creates_and_edits_an_exam_and_both_are_audited(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    form = proctor.get("/proctor/exams/new")
    assert form.status_code == 200
    assert 'value="60"' in form.text and 'value="70"' in form.text  # the policies' defaults
    exam_id = make_exam(
        proctor,
        clock,
        people,
        scenario=[COLD, INSULIN],
        cohort="2026-A",
        on_timeout="grace",
        grace_s="45",
    )
    page = proctor.get(f"/proctor/exams/{exam_id}")
    assert page.status_code == 200 and "Pharmacy practical, cohort A" in page.text
    exam = exam_row(app, exam_id)
    assert exam.cohort == "2026-A" and exam.time_limit_s == 120
    rules = exam.exam_rules
    assert (rules.on_timeout, rules.grace_s) == ("grace", 45)
    assert (rules.written_weight, rules.practical_weight) == (0.4, 0.6)
    assert rules.bands == [(90, "excellent"), (70, "good"), (60, "pass")]
    created = audit_trail(app, "exam.create")
    assert [e.actor_id for e in created] == [people["pat"].id]
    assert created[0].new["scenarios"] == [COLD, INSULIN]
    assert created[0].new["candidates"] == ["mei", "tao"]

    edited = post_exam(
        proctor,
        exam_fields(clock, people, name="Renamed", time_limit_s="300", scenario=[COLD, INSULIN]),
        exam_id,
    )
    assert edited.status_code == 303
    update = audit_trail(app, "exam.update")
    assert len(update) == 1
    assert update[0].old["name"] == "Pharmacy practical, cohort A"
    assert update[0].new["name"] == "Renamed" and update[0].new["time_limit_s"] == 300
    assert exam_row(app, exam_id).name == "Renamed"
    # Saving without a change writes no audit event.
    post_exam(
        proctor,
        exam_fields(clock, people, name="Renamed", time_limit_s="300", scenario=[COLD, INSULIN]),
        exam_id,
    )
    assert len(audit_trail(app, "exam.update")) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"opens_at": "next tuesday"}, "opens_at", "Enter a date and time"),
        ({"closes_at": "2020-01-01T00:00"}, "closes_at", "must close after it opens"),
        ({"scenario": ["pharmacy-basics/no-such-scenario"]}, "scenario", "There is no scenario"),
        ({"scenario": []}, "scenario", "Choose at least one scenario"),
        ({"written_weight": "50"}, "practical_weight", "add up to 100%"),
        ({"band_pass": "95"}, "band_pass", "Band floors must go down"),
        ({"candidate": []}, "candidate", "Choose at least one trainee"),
        ({"candidate": ["99999"]}, "candidate", "does not exist"),
        ({"candidate": [], "cohort": "new-cohort"}, "candidate", "tick the trainees"),
        ({"time_limit_s": "abc"}, "time_limit_s", "Enter a number"),
        ({"time_limit_s": "5"}, "time_limit_s", "from 10 to 10800"),
        ({"written_pass": "101"}, "written_pass", "from 0 to 100"),
        ({"attempts_allowed": "1.5"}, "attempts_allowed", "from 1 to 10"),
        ({"on_timeout": "grace", "grace_s": "0"}, "grace_s", "from 1 to 600"),
        ({"name": ""}, "name", "Give the exam a name"),
        ({"cohort": "a/b"}, "cohort", "may not contain"),
    ],
)
def test_a_bad_exam_form_comes_back_with_the_problem_marked(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = post_exam(proctor, exam_fields(clock, people, **changes))
    assert response.status_code == 400
    assert message in response.text
    assert f'href="#field-{field}"' in response.text
    assert f'id="error-{field}"' in response.text
    with Session(app.state.sandbox.engine) as session:
        assert session.get(Exam, 1) is None
    assert audit_trail(app, "exam.create") == []


def test_the_form_keeps_what_was_typed(
    proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    response = post_exam(proctor, exam_fields(clock, people, name="Keep me", written_weight="50"))
    assert 'value="Keep me"' in response.text
    assert f'value="{people["tao"].id}" checked' in response.text
    assert f'value="{COLD}" checked' in response.text


def test_only_proctors_and_admins_run_exams(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people)
    pages = [
        "/proctor/exams",
        "/proctor/exams/new",
        f"/proctor/exams/{exam_id}",
        f"/proctor/exams/{exam_id}/edit",
        f"/proctor/exams/{exam_id}/report",
        f"/proctor/exams/{exam_id}/grades.csv",
        f"/proctor/exams/{exam_id}/monitor",
    ]
    for name in ("tao", "mo"):
        for url in pages:
            assert browsers(name).get(url).status_code == 403, (name, url)
    for url in pages:
        assert browsers("boss").get(url).status_code == 200, url
    with TestClient(app) as anonymous:
        login_page = anonymous.get("/proctor/exams", follow_redirects=False)
        assert login_page.status_code == 303 and "/login" in login_page.headers["location"]
    # A state change needs the form's CSRF token, and no GET changes anything.
    forged = proctor.post(f"/proctor/exams/{exam_id}/release", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    # GET shows the confirmation of a release; only its confirmed POST releases.
    assert proctor.get(f"/proctor/exams/{exam_id}/release").status_code == 200
    assert exam_row(app, exam_id).results_released_at is None


def test_an_exam_without_a_limit_gives_each_conversation_its_scenario_s_own(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    # The format: a scenario's time_limit_s holds "in practice and exams alike"; the proctor
    # may set an exam's own limit (above: 120 s), and a blank field leaves the scenario's.
    assert 'name="time_limit_s" type="number"' in proctor.get("/proctor/exams/new").text
    exam_id = make_exam(proctor, clock, people, time_limit_s="", on_timeout="grace", grace_s="30")
    assert exam_row(app, exam_id).limit_s is None and exam_row(app, exam_id).scenario_limits
    assert "Each scenario&#39;s own limit" in proctor.get(f"/proctor/exams/{exam_id}").text
    tao = browsers("tao")
    assert "the time its scenario sets" in tao.get(f"/exams/{exam_id}").text
    attempt = attempt_row(app, start(tao, exam_id))
    # cold-remedy-hypertension says time_limit_s: 600; the grace comes after it.
    assert (attempt.time_limit_s, attempt.grace_s) == (630, 30)


# --- the trainee's exam ------------------------------------------------------------------


def test_a_trainee_sees_their_exams_and_takes_one(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, scenario=[COLD, INSULIN], attempts_allowed="2")
    tao = browsers("tao")
    listing = tao.get("/exams")
    assert f'id="exam-{exam_id}"' in listing.text and "Open" in listing.text
    assert "2 scenarios, 4 attempts left" in listing.text
    page = tao.get(f"/exams/{exam_id}").text
    assert "Attempts left: 2 of 2" in page and "There are no hints in an exam." in page
    attempt_id = start(tao, exam_id)
    attempt = attempt_row(app, attempt_id)
    assert attempt.mode == "exam" and attempt.exam_id == exam_id
    assert attempt.time_limit_s == 120
    # Another scenario waits until this conversation is handed in; resuming is fine, and
    # asking for another scenario leads back to the conversation in progress.
    assert start(tao, exam_id) == attempt_id
    assert (
        "Finish the conversation you have in progress first." in tao.get(f"/exams/{exam_id}").text
    )
    assert start(tao, exam_id, INSULIN) == attempt_id
    # A trainee who is not a candidate sees nothing of the exam.
    kim = browsers("kim")
    assert f'id="exam-{exam_id}"' not in kim.get("/exams").text
    assert kim.get(f"/exams/{exam_id}").status_code == 403
    assert kim.get(f"/exams/{exam_id}/results").status_code == 403


def test_the_window_decides_when_a_scenario_may_start(
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
        opens_at=(clock.now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        closes_at=(clock.now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    )
    tao = browsers("tao")
    page = tao.get(f"/exams/{exam_id}").text
    assert "Not open yet" in page and "The exam is not open yet." in page
    response = tao.post(
        f"/exams/{exam_id}/attempts",
        data={"csrf_token": csrf_token(page), "scenario": COLD},
        follow_redirects=False,
    )
    assert (
        response.status_code == 303
        and "refused=exam.refused.not_open" in response.headers["location"]
    )
    clock.advance(3 * 3600)
    assert "The exam window has closed." in tao.get(f"/exams/{exam_id}").text
    with Session(app.state.sandbox.engine) as session:
        assert session.get(Attempt, 1) is None


def test_no_trainee_sees_rubric_content_during_an_exam(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, time_limit_s="120")
    _, scenario = app.state.sandbox.library.find(*COLD.split("/"))
    secrets = [c.description for c in scenario.rubric.criteria if c.description]
    secrets += [f"criterion-{c.id}" for c in scenario.rubric.criteria]
    tao = browsers("tao")
    seen: list[str] = [tao.get("/exams").text, tao.get(f"/exams/{exam_id}").text]
    attempt_id = start(tao, exam_id)
    seen.append(tao.get(f"/attempts/{attempt_id}").text)
    with chat(tao, attempt_id) as ws:
        ws.send_json({"type": "hint"})
        hint = ws.receive_text()
        assert "There are no hints" in hint or 'id="notice"' in hint
        assert 'id="hints"' not in hint
        seen.append(hint)
        seen.append(say(ws, "Hello, do you take any other medication?", "s-1"))
        seen.append(say(ws, "Decongestants can raise your blood pressure.", "s-2"))
        ws.send_json({"type": "finish"})
        seen += frames_until(ws, lambda f: 'id="feedback-link"' in f)
    # The link after the end leads to the results page, never to the rubric feedback.
    feedback = tao.get(f"/attempts/{attempt_id}/feedback", follow_redirects=False)
    assert feedback.headers["location"] == f"/exams/{exam_id}/results"
    seen.append(tao.get(f"/exams/{exam_id}/results").text)
    assert "The results are not released yet." in seen[-1]
    score = attempt_row(app, attempt_id).score
    assert score is not None and f">{score:.1f}<" not in seen[-1]
    # Progress pages show practice only: no exam score before the release.
    seen += [tao.get("/history").text, tao.get("/").text]
    release(proctor, exam_id)
    assert [e.actor_id for e in audit_trail(app, "exam.release")] == [people["pat"].id]
    results = tao.get(f"/exams/{exam_id}/results").text
    assert f">{score:.1f}<" in results  # released: score, band and passed only
    seen.append(results)
    for text in seen:
        for secret in secrets:
            assert secret not in text, secret
    # Another trainee cannot open the conversation, its socket or its feedback.
    mei = browsers("mei")
    assert mei.get(f"/attempts/{attempt_id}").status_code == 403
    assert mei.get(f"/attempts/{attempt_id}/feedback").status_code == 403
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        mei.websocket_connect(f"/attempts/{attempt_id}/ws", headers=SAME_ORIGIN),
    ):
        pass
    assert closed.value.code == 1008
    # Staff still read the whole feedback: the mentor of the trainee does.
    assert "criterion-ask-medication" in browsers("mo").get(f"/attempts/{attempt_id}/feedback").text


def release(proctor: TestClient, exam_id: int) -> None:
    page = proctor.get(f"/proctor/exams/{exam_id}")
    response = proctor.post(
        f"/proctor/exams/{exam_id}/release",
        data={"csrf_token": csrf_token(page.text), "confirm": "1"},
        follow_redirects=False,
    )
    assert response.status_code == 303


# --- written scores ----------------------------------------------------------------------


def _import(
    proctor: TestClient,
    exam_id: int,
    text: str | None = None,
    upload: bytes | None = None,
    retake: bool = False,
) -> Any:
    page = proctor.get(f"/proctor/exams/{exam_id}")
    data = {"csrf_token": csrf_token(page.text), "csv_text": text or ""}
    if retake:
        data["retake"] = "1"
    files = {"csv_file": ("scores.csv", upload or b"", "text/csv")}
    return proctor.post(
        f"/proctor/exams/{exam_id}/written/import", data=data, files=files, follow_redirects=False
    )


def test_a_bad_csv_reports_every_bad_row_and_imports_nothing(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    bad = "trainee,score\ntao,88\nghost,70\nmei,120\ntao,90\nmei,abc\n"
    response = _import(proctor, exam_id, bad)
    assert response.status_code == 400
    assert "Nothing was imported: 4 problems." in response.text
    for line in (
        "line 3: unknown trainee &#39;ghost&#39;",
        "line 4: score 120 is out of range",
        "line 5: duplicate: &#39;tao&#39; is already on line 2",
        "line 6: score &#39;abc&#39; is not a number",
    ):
        assert line in response.text, line
    assert "tao,88" in response.text  # the text comes back to be corrected
    assert audit_trail(app, "written.import") == []
    assert "Pending" in proctor.get(f"/proctor/exams/{exam_id}").text
    for bad_file, problem in (
        (b"\xff\xfe\x00bad", "neither UTF-8 nor GBK"),
        (b"name,points\ntao,1\n", "header must name the columns"),
        (b"trainee,score\n", "no scores"),
    ):
        response = _import(proctor, exam_id, upload=bad_file)
        assert response.status_code == 400 and problem in response.text


def test_written_scores_are_imported_or_entered_and_audited(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    good = "\ufefftrainee,score\ntao,88\nmei,59.5\n".encode()
    assert _import(proctor, exam_id, upload=good).status_code == 303
    event = audit_trail(app, "written.import")[-1]
    assert event.new == {"scores": {"tao": 88.0, "mei": 59.5}, "retake": False}
    assert event.actor_id == people["pat"].id
    page = proctor.get(f"/proctor/exams/{exam_id}")
    response = proctor.post(
        f"/proctor/exams/{exam_id}/written",
        data={"csrf_token": csrf_token(page.text), "user_id": str(people["mei"].id), "score": "61"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    update = audit_trail(app, "written.update")[-1]
    assert update.old == {"mei": 59.5} and update.new == {"mei": 61.0, "retake": False}
    for score, user in (
        ("101", people["mei"].id),
        ("x", people["mei"].id),
        ("50", people["kim"].id),
    ):
        response = proctor.post(
            f"/proctor/exams/{exam_id}/written",
            data={"csrf_token": csrf_token(page.text), "user_id": str(user), "score": score},
        )
        assert response.status_code == 400 and 'id="page-error"' in response.text


def test_a_written_score_must_be_a_plain_decimal_typed_or_imported(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    """float() reads "1_0" as 10, "1e1" as 10 and Arabic-Indic digits as digits: none of
    them is how a score is written, so each is refused where it was entered."""
    exam_id = make_exam(proctor, clock, people)
    page = proctor.get(f"/proctor/exams/{exam_id}")
    for raw in ("1_0", "7_5.5", "1e1", "\u0661\u0660", "1_0 "):
        response = proctor.post(
            f"/proctor/exams/{exam_id}/written",
            data={
                "csrf_token": csrf_token(page.text),
                "user_id": str(people["tao"].id),
                "score": raw,
            },
        )
        assert response.status_code == 400, raw
        error = re.search(r'id="page-error"[^>]*>([^<]*)<', response.text)
        assert error is not None, raw
        assert "The written score of tao must be a plain decimal number" in error.group(1)
    response = _import(proctor, exam_id, "trainee,score\ntao,1_0\nmei,82.5\nkim,1e2\n")
    assert response.status_code == 400
    assert "line 2: score &#39;1_0&#39; is not a plain decimal number" in response.text
    assert "line 4: unknown trainee &#39;kim&#39;; score &#39;1e2&#39; is not a plain" in (
        response.text
    )
    assert audit_trail(app, "written.update") == [] and audit_trail(app, "written.import") == []
    # Plain decimals still go in.
    assert _import(proctor, exam_id, "trainee,score\ntao,75\nmei,82.5\n").status_code == 303
    assert audit_trail(app, "written.import")[-1].new == {
        "scores": {"tao": 75.0, "mei": 82.5},
        "retake": False,
    }


# --- results, retakes, reports -----------------------------------------------------------


def _graded(
    app: FastAPI,
    exam_id: int,
    user: User,
    scenario: str,
    score: float,
    clock: FakeClock,
    retake: bool = False,
    criteria: list[dict[str, Any]] | None = None,
) -> int:
    """A graded exam attempt, stored as the chat would have stored it."""
    pack_id, scenario_id = scenario.split("/")
    with Session(app.state.sandbox.engine) as session:
        attempt = Attempt(
            user_id=user.id or 0,
            pack_id=pack_id,
            pack_version=1,
            scenario_id=scenario_id,
            mode="exam",
            time_limit_s=120,
            started_at=clock.now,
            exam_id=exam_id,
            retake=retake,
            deadline_at=clock.now + timedelta(seconds=120),
            ended_at=clock.now + timedelta(seconds=60),
            end_reason="finished",
            score=score,
            band="good",
            passed=score >= 70,
            graded_at=clock.now,
            grade={
                "scenario": scenario,
                "score": score,
                "band": "good",
                "passed": score >= 70,
                "criteria": criteria or [],
                "critical_missed": [],
                "critical_violated": [],
                "ignored_messages": [],
            },
        )
        session.add(attempt)
        session.flush()
        assert attempt.id is not None
        write_verdicts(session, attempt.id, attempt.grade)  # as storage writes a grade
        session.commit()
        return attempt.id


def _written(proctor: TestClient, exam_id: int, rows: str, retake: bool = False) -> None:
    assert _import(proctor, exam_id, f"trainee,score\n{rows}", retake=retake).status_code == 303


def _row(proctor: TestClient, exam_id: int, user: User) -> str:
    page = proctor.get(f"/proctor/exams/{exam_id}").text
    match = re.search(rf'<tr id="candidate-{user.id}">(.*?)</tr>', page, re.S)
    assert match, page
    return re.sub(r"\s+", " ", match.group(1))


def test_results_need_both_pass_lines_and_use_the_weights_and_bands(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people, scenario=[COLD, INSULIN])
    tao, mei = people["tao"], people["mei"]
    # tao: practical (80 + 100) / 2 = 90, written 55: final 0.4*55 + 0.6*90 = 76 (good) but
    # the written line is missed, so failed.
    _graded(app, exam_id, tao, COLD, 80, clock)
    _graded(app, exam_id, tao, INSULIN, 100, clock)
    # mei: practical (65 + 70) / 2 = 67.5, written 100: final 80.5, practical line missed.
    _graded(app, exam_id, mei, COLD, 65, clock)
    _graded(app, exam_id, mei, INSULIN, 70, clock)
    assert "Pending" in _row(proctor, exam_id, tao)  # the written part is missing
    _written(proctor, exam_id, "tao,55\nmei,100\n")
    row = _row(proctor, exam_id, tao)
    assert "90.0" in row and "76.0" in row and "Good" in row and "Failed" in row
    row = _row(proctor, exam_id, mei)
    assert "67.5" in row and "80.5" in row and "Good" in row and "Failed" in row
    _written(proctor, exam_id, "tao,95\nmei,100\n")
    row = _row(proctor, exam_id, tao)  # 0.4*95 + 0.6*90 = 92: excellent, passed
    assert "92.0" in row and "Excellent" in row and "Passed" in row


def test_a_failed_candidate_gets_one_retake_on_the_failed_scenarios_within_the_window(
    app: FastAPI,
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people, scenario=[COLD, INSULIN], retake_days="7")
    tao = people["tao"]
    _graded(app, exam_id, tao, COLD, 90, clock)
    _graded(app, exam_id, tao, INSULIN, 40, clock)
    _written(proctor, exam_id, "tao,80\nmei,80\n")
    assert "May be granted" in _row(proctor, exam_id, tao)
    page = proctor.get(f"/proctor/exams/{exam_id}")
    grant = proctor.post(
        f"/proctor/exams/{exam_id}/retakes",
        data={"csrf_token": csrf_token(page.text), "user_id": str(tao.id)},
        follow_redirects=False,
    )
    assert grant.status_code == 303
    event = audit_trail(app, "retake.grant")[-1]
    assert event.new["scenarios"] == [INSULIN] and event.new["written"] is False
    again = proctor.post(
        f"/proctor/exams/{exam_id}/retakes",
        data={"csrf_token": csrf_token(page.text), "user_id": str(tao.id)},
    )
    assert again.status_code == 400  # one retake only
    # The trainee may retake the failed scenario only, even after the window closed.
    browser = browsers("tao")
    clock.advance(2 * 86400)
    exam_page = browser.get(f"/exams/{exam_id}").text
    assert "You have a retake" in exam_page
    assert f'id="scenario-{COLD.replace("/", "--")}"' not in exam_page
    retake_id = start(browser, exam_id, INSULIN)
    assert attempt_row(app, retake_id).retake is True
    with chat(browser, retake_id) as ws:
        ws.send_json({"type": "finish"})
        frames_until(ws, lambda f: 'id="feedback-link"' in f)
    # Failing the retake means retraining.
    row = _row(proctor, exam_id, tao)
    assert "Retraining" in row and "Failed" in row


def test_the_retake_window_is_counted_from_the_result(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people, retake_days="7")
    mei = people["mei"]
    _graded(app, exam_id, mei, COLD, 50, clock)
    _written(proctor, exam_id, "mei,80\n")
    assert "May be granted" in _row(proctor, exam_id, mei)
    clock.advance(7 * 86400)  # the result was decided when the conversation ended, at +60 s
    assert "May be granted" in _row(proctor, exam_id, mei)
    clock.advance(61)
    row = _row(proctor, exam_id, mei)
    assert "Window passed" in row and "Grant retake" not in row
    page = proctor.get(f"/proctor/exams/{exam_id}")
    late = proctor.post(
        f"/proctor/exams/{exam_id}/retakes",
        data={"csrf_token": csrf_token(page.text), "user_id": str(mei.id)},
    )
    assert late.status_code == 400


def test_a_candidate_who_never_came_fails_once_the_window_closes(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    _written(proctor, exam_id, "tao,90\nmei,90\n")
    assert "Pending" in _row(proctor, exam_id, people["mei"])
    clock.advance(2 * 86400)
    row = _row(proctor, exam_id, people["mei"])
    assert "0.0" in row and "Failed" in row


CRITERIA = [
    {"id": "greeting", "kind": "required", "status": "met", "weight": 1, "evidence": []},
    {"id": "ask-allergies", "kind": "required", "status": "missed", "weight": 1, "evidence": []},
]


def test_the_report_shows_pass_rate_histogram_facility_and_exports_csv(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people, cohort="2026-A")
    _graded(app, exam_id, people["tao"], COLD, 95, clock, criteria=CRITERIA)
    mei_criteria = [dict(CRITERIA[0], status="missed"), CRITERIA[1]]
    _graded(app, exam_id, people["mei"], COLD, 50, clock, criteria=mei_criteria)
    _written(proctor, exam_id, "tao,90\nmei,=cmd()\n".replace("=cmd()", "70"))
    report = proctor.get(f"/proctor/exams/{exam_id}/report").text
    assert 'id="pass-rate-value">50.0%' in report
    assert "Below the target of 90.0%" in report
    assert report.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert 'aria-labelledby="final-title final-desc"' in report
    assert 'id="h-title"' not in report  # each histogram has ids of its own
    facility = report[report.index('id="facility-table"') :]
    # Hardest first: allergies met by nobody, then the greeting by one of two.
    assert facility.index("Asks about allergies") < facility.index("Greets the customer")
    assert "0/2" in facility and "1/2" in facility
    response = proctor.get(f"/proctor/exams/{exam_id}/grades.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    by_name = {row["trainee"]: row for row in rows}
    assert by_name["tao"]["final"] == "93.0" and by_name["tao"]["passed"] == "yes"
    assert by_name["mei"]["practical"] == "50.0" and by_name["mei"]["passed"] == "no"
    assert by_name["tao"][f"score {COLD}"] == "95.0"
    cohort = proctor.get("/proctor/cohorts/2026-A/report")
    assert cohort.status_code == 200 and 'id="pass-rate-value">50.0%' in cohort.text
    assert proctor.get("/proctor/cohorts/2026-A/grades.csv").text.count("\n") == 3
    assert proctor.get("/proctor/cohorts/nobody/report").status_code == 404


def test_csv_cells_that_look_like_formulas_are_defused(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people, name="=HYPERLINK(1)")
    text = proctor.get(f"/proctor/exams/{exam_id}/grades.csv").text
    assert "'=HYPERLINK(1)" in text


def test_exam_pages_speak_chinese(
    proctor: TestClient,
    browsers: Callable[[str], TestClient],
    clock: FakeClock,
    people: dict[str, User],
) -> None:
    exam_id = make_exam(proctor, clock, people)
    zh = {"Accept-Language": "zh-CN"}
    assert "新建考试" in proctor.get("/proctor/exams", headers=zh).text
    assert "实时监控" in proctor.get(f"/proctor/exams/{exam_id}/monitor", headers=zh).text
    assert "通过率" in proctor.get(f"/proctor/exams/{exam_id}/report", headers=zh).text
    tao = browsers("tao")
    assert "我的考试" in tao.get("/exams", headers=zh).text


def test_every_exam_message_exists_in_both_languages() -> None:
    from sandbox.web.i18n import CATALOGUE

    assert set(CATALOGUE["en"]) == set(CATALOGUE["zh-CN"])
    dynamic = [
        f"{prefix}.{name}"
        for prefix, names in {
            "window": ["upcoming", "open", "closed"],
            "progress": ["not_started", "in_progress", "partial", "finished"],
            "result": ["pending", "passed", "failed"],
            "retake": ["not_needed", "eligible", "expired", "passed", "retraining", "pending"],
            "appeal_status": ["open", "changed", "kept"],
        }.items()
        for name in names
    ]
    assert [key for key in dynamic if key not in CATALOGUE["en"]] == []
