"""Quizzes and the written part of an exam through the pages, on the real app and database:
draws from a recorded seed, autosave, resume, deadline and grace, automatic submission,
blind marking, the 40/60 result and item statistics."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from exam_support import FakeClock, audit_trail, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from question_support import answer, positions, write_bank
from sqlmodel import Session
from web_support import csrf_token, make_settings

from sandbox.config import Settings
from sandbox.storage import questions as store
from sandbox.storage.exams import Exam, ExamRetake, written_scores
from sandbox.storage.models import User
from sandbox.storage.standings import standing_of

pytestmark = pytest.mark.backends("sqlite", "postgres")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path, database_url=database_url, questions=str(write_bank(tmp_path / "banks"))
    )


def _post(client: TestClient, page: str, url: str, data: dict[str, Any]) -> Any:
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def _sitting(app: FastAPI, sitting_id: int) -> store.QuestionSitting:
    with Session(app.state.sandbox.engine) as session:
        found = session.get(store.QuestionSitting, sitting_id)
        assert found is not None
        return found


# --- quizzes --------------------------------------------------------------------------------


def test_a_quiz_gives_feedback_at_once_and_shows_in_progress_and_to_the_mentor(
    app: FastAPI, clock: FakeClock, browsers: Callable[[str], TestClient], people: dict[str, User]
) -> None:
    tao = browsers("tao")
    started = _post(tao, "/quiz", "/quiz", {"mode": "tag", "tag": "tw-core", "language": "en"})
    assert started.status_code == 303
    quiz_url = started.headers["location"]
    quiz_id = int(quiz_url.rsplit("/", 1)[1])
    page = tao.get(quiz_url).text
    where = positions(page)
    assert set(where) == {"tw-single", "tw-tf", "tw-multi", "tw-short", "tw-manual"}
    action = f"{quiz_url}/answer"
    # A wrong answer: marked at once, with the right answer and the explanation.
    answer(tao, quiz_url, action, where["tw-tf"], "true")
    page = tao.get(quiz_url).text
    card = page.split(f'id="q-{where["tw-tf"]}"')[1].split("</li>")[0]
    assert "Not right." in card and "The answer: False" in card
    assert "NSAIDs raise the bleeding risk with warfarin." in card
    # A quiz answer is final.
    again = answer(tao, quiz_url, action, where["tw-tf"], "false")
    assert again.headers["location"].endswith("?refused=answered")
    answer(tao, quiz_url, action, where["tw-short"], "No more than four grams a day")
    answer(tao, quiz_url, action, where["tw-single"], "0")
    answer(tao, quiz_url, action, where["tw-multi"], ["0", "1"])
    empty = answer(tao, quiz_url, action, where["tw-manual"], "")
    assert empty.headers["location"].endswith("?refused=no_answer")
    assert _sitting(app, quiz_id).submitted_at is None
    answer(tao, quiz_url, action, where["tw-manual"], "Do not use it and send a new one")
    done = _sitting(app, quiz_id)
    assert done.submitted_at is not None  # every question answered: handed in
    # the manual answer shows the model answer; it waits for nobody in a quiz
    page = tao.get(quiz_url).text
    assert "Compare your answer with the model answer." in page
    history = tao.get("/history").text
    assert 'id="quiz-history"' in history and 'id="mastery-tw-core"' in history
    mastery = re.search(r'id="mastery-tw-core">.*?<td>(\d+)/(\d+)</td>', history, re.S)
    assert mastery and mastery.groups() == ("3", "4")  # tf wrong; manual not counted
    # Weak spots: the missed question comes back.
    weak = _post(tao, "/quiz", "/quiz", {"mode": "weak", "language": "en"})
    weak_page = tao.get(weak.headers["location"]).text
    assert set(positions(weak_page)) == {"tw-tf"}
    # The mentor sees the trainee's quizzes; another trainee sees none of them.
    mentor_page = browsers("mo").get("/mentor/quizzes").text
    assert "tao" in mentor_page and 'id="trainee-quizzes"' in mentor_page
    weak_line = mentor_page.split('id="weak-tao">')[1].split("</li>")[0]
    assert "tw-core" not in weak_line  # 3 of 4 right: not weak
    assert "none below 60%" in weak_line
    assert browsers("kim").get(quiz_url).status_code == 403
    # Chinese interface: the same page in the other language.
    kim = browsers("kim")
    none = _post(kim, "/quiz", "/quiz", {"mode": "weak", "language": "en"})
    assert none.headers["location"] == "/quiz?refused=weak_none"
    zh = kim.get("/quiz?refused=weak_none", headers={"Accept-Language": "zh-CN"}).text
    assert "你还没有答错过题目" in zh and "开始小测验" in zh


# --- the written part -------------------------------------------------------------------------


def _written_exam(
    proctor: TestClient, clock: FakeClock, people: dict[str, User], **part: str
) -> int:
    exam_id = make_exam(proctor, clock, people)
    fields = {
        "questions": "",
        "count": "5",
        "tags": "tw-core",
        "minutes": "10",
        "grace_s": "30",
        "locale": "en",
        "seed": "4242",
    }
    fields.update(part)
    url = f"/proctor/exams/{exam_id}/written-part"
    saved = _post(proctor, url, url, fields)
    assert saved.headers["location"].endswith("?saved=1"), saved.text
    return exam_id


def test_a_closed_book_written_part_keeps_the_knowledge_base_shut_until_handed_in(
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    browsers: Callable[[str], TestClient],
) -> None:
    exam_id = _written_exam(proctor, clock, people)  # closed-book: the default
    tao = browsers("tao")
    assert tao.get("/knowledge?q=warfarin").status_code == 200
    _post(tao, f"/exams/{exam_id}", f"/exams/{exam_id}/written", {})
    refused = tao.get("/knowledge?q=warfarin")
    assert refused.status_code == 403 and "closed-book exam" in refused.text
    url = f"/exams/{exam_id}/written"
    _post(tao, url, f"{url}/submit", {})
    assert tao.get("/knowledge?q=warfarin").status_code == 200


def test_the_written_part_autosaves_resumes_and_is_handed_in_at_the_deadline(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    browsers: Callable[[str], TestClient],
) -> None:
    exam_id = _written_exam(proctor, clock, people)
    tao = browsers("tao")
    exam_page = tao.get(f"/exams/{exam_id}").text
    assert 'id="start-written"' in exam_page
    started = _post(tao, f"/exams/{exam_id}", f"/exams/{exam_id}/written", {})
    assert started.headers["location"] == f"/exams/{exam_id}/written"
    url = f"/exams/{exam_id}/written"
    action = f"{url}/answer"
    where = positions(tao.get(url).text)
    assert set(where) == {"tw-single", "tw-tf", "tw-multi", "tw-short", "tw-manual"}
    # The draw is the one the recorded seed gives (reproduced without the database's help).
    with Session(app.state.sandbox.engine) as session:
        part = store.written_part(session, exam_id)
        sitting = store.written_sitting(session, exam_id, people["tao"].id or 0)
        assert part is not None and sitting is not None
        stored = [r.question_id for r in store.responses(session, sitting.id or 0)]
        orders = [r.option_order for r in store.responses(session, sitting.id or 0)]
    ids, seed = store.paper_for(part, people["tao"].id or 0, app.state.sandbox.questions.questions)
    assert (stored, seed) == (ids, sitting.seed) and part.seed == 4242
    bank = app.state.sandbox.questions.questions
    from sandbox.questions.scoring import option_order

    assert orders == [option_order(bank[i], seed) if bank[i].options else None for i in ids]
    # Autosave: each answer as it is given (the script's request), then a changed mind.
    assert answer(tao, url, action, where["tw-tf"], "true", script=True).status_code == 204
    assert answer(tao, url, action, where["tw-tf"], "false", script=True).status_code == 204
    assert answer(tao, url, action, where["tw-single"], "0", script=True).status_code == 204
    assert (
        answer(tao, url, action, where["tw-manual"], "Do not use it.", script=True).status_code
        == 204
    )
    # Resume: a reload (or another browser of the same user) shows what was saved.
    page = tao.get(url).text
    card = page.split(f'id="q-{where["tw-tf"]}"')[1].split("</li>")[0]
    assert 'value="false" checked' in card
    assert "Do not use it.</textarea>" in page
    # Nothing is shown as right or wrong during the exam.
    assert "Not right." not in page and "Right." not in page
    # Starting again resumes the same paper.
    _post(tao, f"/exams/{exam_id}", f"/exams/{exam_id}/written", {})
    assert positions(tao.get(url).text) == where
    # The deadline: answers are taken up to the end of the grace, not a second later.
    deadline = sitting.deadline_at
    token = csrf_token(tao.get(url).text)  # the open page's token, as the script holds it

    def autosave(position: int, values: list[str]) -> Any:
        data = {"csrf_token": token, "position": str(position), "answer": values}
        return tao.post(action, data=data, headers={"X-Autosave": "1"})

    clock.now = deadline + timedelta(seconds=30)
    assert autosave(where["tw-short"], ["4 g"]).status_code == 204
    clock.now = deadline + timedelta(seconds=31)
    late = autosave(where["tw-multi"], ["0", "1"])
    assert late.status_code == 409 and late.text == "time_up"
    # The server hands the paper in (the page's sweep, as the timer's), objective items marked.
    page = tao.get(url).text
    assert 'id="written-submitted"' in page and "at the deadline" in page
    done = _sitting(app, sitting.id or 0)
    assert done.submit_reason == "deadline" and done.score is None  # the manual item waits
    # A mentor marks the short answer: no candidate name, the model answer beside it.
    mo = browsers("mo")
    marking = mo.get("/mentor/marking").text
    assert "Do not use it.</p>" in marking
    assert "Do not use it; arrange a cold-chain replacement." in marking
    assert "tao" not in marking.split('id="marking-list"')[1]
    response_id = int(re.search(r'id="mark-(\d+)"', marking).group(1))  # type: ignore[union-attr]
    too_much = _post(mo, "/mentor/marking", f"/mentor/marking/{response_id}", {"score": "3"})
    assert too_much.headers["location"].endswith("refused=bad_mark")
    _post(mo, "/mentor/marking", f"/mentor/marking/{response_id}", {"score": "1.5"})
    done = _sitting(app, sitting.id or 0)
    # tf right (1), single right (1), short right (1), multi unanswered (0), manual 1.5 of 2
    assert (done.score, done.max_score) == (4.5, 6.0)
    assert done.percent == 75.0
    # Every step is in the audit log: the part's set-up, the mark, the paper's score.
    assert audit_trail(app, "written_part.update")[-1].new["seed"] == 4242
    assert audit_trail(app, "written.mark")[-1].new == {"score": 1.5}
    assert audit_trail(app, "written.paper")[-1].new == {
        "user_id": people["tao"].id,
        "score": 75.0,
        "retake": False,
    }
    # The written score feeds the 40/60 result, as a typed one does.
    with Session(app.state.sandbox.engine) as session:
        exam = session.get(Exam, exam_id)
        user = session.get(User, people["tao"].id)
        assert exam is not None and user is not None
        standing = standing_of(session=session, exam=exam, user=user, now=clock.now)
    assert standing.result.written == 75.0
    overview = proctor.get(f"/proctor/exams/{exam_id}").text
    assert "75" in overview
    # A typed score still replaces it (exams held on paper).
    typed = _post(
        proctor,
        f"/proctor/exams/{exam_id}",
        f"/proctor/exams/{exam_id}/written",
        {"user_id": str(people["tao"].id), "score": "80"},
    )
    assert typed.status_code == 303
    with Session(app.state.sandbox.engine) as session:
        exam = session.get(Exam, exam_id)
        user = session.get(User, people["tao"].id)
        assert exam is not None and user is not None
        assert (
            standing_of(session=session, exam=exam, user=user, now=clock.now).result.written == 80
        )


def test_handing_in_early_and_answers_after_that_are_refused(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    browsers: Callable[[str], TestClient],
) -> None:
    exam_id = _written_exam(proctor, clock, people, questions="tw-single tw-tf", count="0")
    mei = browsers("mei")
    _post(mei, f"/exams/{exam_id}", f"/exams/{exam_id}/written", {})
    url = f"/exams/{exam_id}/written"
    where = positions(mei.get(url).text)
    assert list(where) == ["tw-single", "tw-tf"]  # fixed questions, in their order
    answer(mei, url, f"{url}/answer", where["tw-single"], "0")
    _post(mei, url, f"{url}/submit", {})
    refused = answer(mei, url, f"{url}/answer", where["tw-tf"], "false")
    assert refused.headers["location"].endswith("?refused=submitted")
    with Session(app.state.sandbox.engine) as session:
        sitting = store.written_sitting(session, exam_id, people["mei"].id or 0)
        assert sitting is not None and sitting.percent == 50.0
    # A retake of the written part, once granted, is a paper of its own (the same draw).
    exam_page = mei.get(f"/exams/{exam_id}").text
    assert 'id="written-done"' in exam_page and 'id="start-written"' not in exam_page
    with Session(app.state.sandbox.engine) as session:
        session.add(
            ExamRetake(
                exam_id=exam_id,
                user_id=people["mei"].id or 0,
                scenarios=[],
                written=True,
                expires_at=clock.now + timedelta(days=7),
            )
        )
        session.commit()
    assert 'id="start-written"' in mei.get(f"/exams/{exam_id}").text
    _post(mei, f"/exams/{exam_id}", f"/exams/{exam_id}/written", {})
    retake_page = mei.get(url).text
    assert 'id="written-submitted"' not in retake_page
    answer(mei, url, f"{url}/answer", where["tw-tf"], "false")
    _post(mei, url, f"{url}/submit", {})
    with Session(app.state.sandbox.engine) as session:
        retake = store.written_sitting(session, exam_id, people["mei"].id or 0, retake=True)
        assert retake is not None and retake.percent == 50.0
        scores = written_scores(session=session, exam_id=exam_id)
    assert scores[(people["mei"].id or 0, True)].score == 50.0
    assert scores[(people["mei"].id or 0, False)].score == 50.0
    # Not a candidate: no paper.
    assert browsers("kim").get(url).status_code == 404
    # The proctor reads the item statistics and their CSV.
    items = proctor.get(f"/proctor/exams/{exam_id}/items").text
    assert 'id="item-tw-single"' in items and 'id="item-tw-tf"' in items
    csv_text = proctor.get(f"/proctor/exams/{exam_id}/items.csv").text
    assert csv_text.splitlines()[0] == "item,n,facility,discrimination,choices,flags"
    assert "tw-tf,1,0.000,,none=1.000,hard" in csv_text
    assert browsers("tao").get(f"/proctor/exams/{exam_id}/items").status_code == 403
    # The exam report sums them up and links to them.
    report = proctor.get(f"/proctor/exams/{exam_id}/report").text
    assert 'id="written-items"' in report
    assert "Poor items: 2 of 2." in report  # one too easy, one too hard


def test_a_written_part_must_be_valid(
    proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    url = f"/proctor/exams/{exam_id}/written-part"
    for fields, error in [
        ({"questions": "no-such-question", "minutes": "10"}, "written_part.error.unknown"),
        ({"questions": "", "count": "0", "minutes": "10"}, "written_part.error.nothing"),
        ({"questions": "tw-tf", "minutes": "0"}, "written_part.error.number"),
        ({"questions": "tw-tf", "minutes": "ten"}, "written_part.error.number"),
    ]:
        response = _post(proctor, url, url, fields)
        assert response.headers["location"].endswith(f"?error={error}")
        assert "form-error" in proctor.get(response.headers["location"]).text


@pytest.fixture
def fast_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper timer looks every 50 ms (set before the app's lifespan starts it)."""
    from sandbox.web.routes import questions as routes

    monkeypatch.setattr(routes, "PAPER_SWEEP_S", 0.05)


def test_the_server_hands_a_paper_in_at_the_deadline_with_nobody_looking(
    fast_sweep: None,
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    browsers: Callable[[str], TestClient],
) -> None:
    import time

    exam_id = _written_exam(proctor, clock, people, questions="tw-tf", count="0", grace_s="0")
    tao = browsers("tao")
    _post(tao, f"/exams/{exam_id}", f"/exams/{exam_id}/written", {})
    with Session(app.state.sandbox.engine) as session:
        sitting = store.written_sitting(session, exam_id, people["tao"].id or 0)
        assert sitting is not None
    clock.now = sitting.deadline_at
    time.sleep(0.3)
    assert _sitting(app, sitting.id or 0).submitted_at is None  # at the deadline: still open
    clock.now = sitting.deadline_at + timedelta(seconds=1)
    for _ in range(100):  # the timer's next sweeps, no page opened
        if _sitting(app, sitting.id or 0).submitted_at is not None:
            break
        time.sleep(0.05)
    done = _sitting(app, sitting.id or 0)
    assert done.submit_reason == "deadline" and done.percent == 0.0


def test_every_new_page_speaks_both_languages(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    browsers: Callable[[str], TestClient],
) -> None:
    exam_id = _written_exam(proctor, clock, people, questions="tw-manual", count="0")
    tao = browsers("tao")
    quiz = _post(tao, "/quiz", "/quiz", {"mode": "trade", "trade": "pharmacy", "language": "en"})
    _post(tao, f"/exams/{exam_id}", f"/exams/{exam_id}/written", {})
    url = f"/exams/{exam_id}/written"
    answer(tao, url, f"{url}/answer", 0, "Throw it away.")
    _post(tao, url, f"{url}/submit", {})
    pages = [
        (tao, "/quiz", "小测验", "Quiz"),
        (tao, quiz.headers["location"], "剩余时间", "Time left"),
        (tao, url, "交卷", "Handed in"),
        (tao, f"/exams/{exam_id}", "笔试部分", "Written part"),
        (tao, "/history", "小测验", "Quizzes"),
        (browsers("mo"), "/mentor/marking", "参考答案", "Model answer"),
        (browsers("mo"), "/mentor/quizzes", "学员小测验", "Trainees"),
        (proctor, f"/proctor/exams/{exam_id}/written-part", "随机抽题", "Random draw"),
        (proctor, f"/proctor/exams/{exam_id}/items", "题目分析", "Item statistics"),
    ]
    for client, path, chinese, english in pages:
        zh = client.get(path, headers={"Accept-Language": "zh-CN"})
        en = client.get(path, headers={"Accept-Language": "en"})
        assert zh.status_code == en.status_code == 200, path
        assert chinese in zh.text and english in en.text, path
        for text in (zh.text, en.text):  # no key shown in place of its text
            assert not re.search(r">\s*(quiz|written|marking|items|written_part)\.[a-z_]+", text)
