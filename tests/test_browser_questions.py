"""Quizzes and the written part of an exam in real headless Chromium, against a real
`sandbox serve` with the tests' own question bank.

A trainee takes a quiz (feedback and explanation at once), then the written part of an exam:
the page's script saves each answer as it is given, a reload in the middle shows them all
again, and the trainee hands the paper in. A mentor marks the short answer without seeing
whose it is, the model answer beside it; the proctor reads the item statistics. The pages
are audited with axe-core; screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import (
    BROWSER_MARKS,
    PASSWORD,
    browser,
    new_context,
    serving,
)
from browser_support import log_in as log_in_as
from playwright.sync_api import Browser, Page, expect
from question_support import write_bank
from sqlmodel import Session
from test_browser_trainee import Auditor, PageWatch, screenshot

from sandbox.exams.policy import ExamRules
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.exams import create_exam
from sandbox.storage.models import Role
from sandbox.storage.users import create_user

PROCTOR, MENTOR, TRAINEE = "pat", "mo", "tao"
EXAM = "Written and practical, cohort A"

__all__ = ["browser"]

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`sandbox serve` on a free port: temp SQLite, the shared packs, the test bank, a
    proctor, a mentor and their trainee, and an open exam of which the trainee is a candidate."""
    folder = tmp_path_factory.mktemp("questions-browser")
    database_url = f"sqlite:///{folder / 'sandbox.db'}"
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        upgrade(engine)
        with Session(engine) as session:
            proctor = create_user(
                session=session, name=PROCTOR, role=Role.PROCTOR, password=PASSWORD
            )
            mentor = create_user(session=session, name=MENTOR, role=Role.MENTOR, password=PASSWORD)
            trainee = create_user(
                session=session, name=TRAINEE, role=Role.TRAINEE, password=PASSWORD, mentor=mentor
            )
            exam = create_exam(
                session=session,
                name=EXAM,
                time_limit_s=300,
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(hours=3),
                rules=ExamRules(),
                scenarios=[("pharmacy-basics", "cold-remedy-hypertension")],
                candidate_ids=[trainee.id or 0],
                cohort=None,
                created_by=proctor.id,
            )
            session.commit()
            exam_id = exam.id or 0
    finally:
        engine.dispose()
    with serving(
        folder,
        database_url,
        folder / "var",
        questions=str(write_bank(folder / "banks")),
        reply_delay_s="0",
    ) as url:
        yield url, exam_id


def log_in(page: Page, name: str) -> None:
    log_in_as(page, name, ready="#nav-quiz")


def card(page: Page, question_id: str) -> object:
    return page.locator(f"li.question[data-question='{question_id}']")


def test_quiz_written_part_marking_and_item_statistics(
    browser: Browser, server: tuple[str, int]
) -> None:
    url, exam_id = server
    proctor_context = new_context(browser, url)
    trainee_context = new_context(browser, url)
    mentor_context = new_context(browser, url)
    auditor = Auditor(new_context(browser, url, bypass_csp=True))
    proctor, trainee, mentor = (
        c.new_page() for c in (proctor_context, trainee_context, mentor_context)
    )
    watches = [PageWatch(p) for p in (proctor, trainee, mentor)]
    assert auditor.context is not None

    # The proctor gives the exam a written part of fixed questions.
    log_in(proctor, PROCTOR)
    proctor.goto(f"/proctor/exams/{exam_id}/written-part")
    proctor.fill("textarea[name=questions]", "tw-single tw-tf tw-manual")
    proctor.fill("input[name=minutes]", "10")
    proctor.click("#save-written-part")
    expect(proctor.locator("#saved")).to_be_visible()

    # The trainee takes a quiz on a topic: each answer is checked at once.
    log_in(trainee, TRAINEE)
    trainee.click("#nav-quiz")
    trainee.check("input[name=mode][value=tag]")
    trainee.select_option("select[name=tag]", "tw-core")
    trainee.click("#start-quiz")
    expect(trainee).to_have_url(re.compile(r"/quiz/\d+$"))
    tf = trainee.locator("li.question[data-question='tw-tf']")
    tf.get_by_label("True").check()
    tf.locator("button.save-answer").click()
    tf = trainee.locator("li.question[data-question='tw-tf']")
    expect(tf.locator(".feedback.wrong")).to_contain_text("NSAIDs raise the bleeding risk")
    single = trainee.locator("li.question[data-question='tw-single']")
    single.get_by_label("Pseudoephedrine").check()
    single.locator("button.save-answer").click()
    single = trainee.locator("li.question[data-question='tw-single']")
    expect(single.locator(".feedback.right")).to_contain_text("Right.")
    single.scroll_into_view_if_needed()
    screenshot(trainee, "quiz.png")
    auditor.context.add_cookies(trainee_context.cookies())  # type: ignore[arg-type]
    auditor.audit_url(trainee.url, "quiz")
    trainee.click("#nav-history")
    expect(trainee.locator("#mastery-tw-core")).to_contain_text("1/2")

    # The written part: answers saved as they are given, a reload in the middle.
    trainee.click("#nav-exams")
    trainee.get_by_role("link", name=EXAM).click()
    trainee.click("#start-written")
    expect(trainee).to_have_url(re.compile(rf"/exams/{exam_id}/written$"))
    expect(trainee.locator("#time-left")).to_contain_text("Time left: 9 min")
    written_single = trainee.locator("li.question[data-question='tw-single']")
    with trainee.expect_response(lambda r: r.url.endswith("/written/answer") and r.status == 204):
        written_single.get_by_label("Pseudoephedrine").check()
    expect(trainee.locator("#autosave-state")).to_have_text("Saved.")
    manual = trainee.locator("li.question[data-question='tw-manual'] textarea")
    with trainee.expect_response(lambda r: r.url.endswith("/written/answer") and r.status == 204):
        manual.fill("Do not use the warm insulin; send a cold-chain replacement.")
    trainee.reload()
    written_single = trainee.locator("li.question[data-question='tw-single']")
    expect(written_single.get_by_label("Pseudoephedrine")).to_be_checked()
    expect(trainee.locator("li.question[data-question='tw-manual'] textarea")).to_have_value(
        "Do not use the warm insulin; send a cold-chain replacement."
    )
    with trainee.expect_response(lambda r: r.url.endswith("/written/answer") and r.status == 204):
        trainee.locator("li.question[data-question='tw-tf']").get_by_label("False").check()
    screenshot(trainee, "written.png")
    auditor.context.add_cookies(trainee_context.cookies())  # type: ignore[arg-type]
    auditor.audit_url(trainee.url, "written part")
    trainee.click("#submit-written-button")
    expect(trainee.locator("#written-submitted")).to_contain_text("Handed in at")

    # The mentor marks the short answer: no name, the model answer beside it.
    log_in(mentor, MENTOR)
    mentor.click("#nav-marking")
    item = mentor.locator("#marking-list li").first
    expect(item.locator(".candidate-answer")).to_contain_text("cold-chain replacement")
    expect(item.locator(".model-answer")).to_contain_text("arrange a cold-chain replacement")
    assert TRAINEE not in mentor.locator("#marking-list").inner_text()
    item.locator("input[name=score]").fill("2")
    screenshot(mentor, "marking.png")
    auditor.context.add_cookies(mentor_context.cookies())  # type: ignore[arg-type]
    auditor.audit_url("/mentor/marking", "marking")
    item.locator("button.mark-button").click()
    expect(mentor.locator("#marking-empty")).to_be_visible()
    mentor.click("#nav-trainee-quizzes")
    expect(mentor.locator("#trainee-quizzes")).to_contain_text(TRAINEE)

    # The proctor reads the item statistics, and the written score is in the results.
    proctor.goto(f"/proctor/exams/{exam_id}")
    expect(proctor.get_by_label(f"Written score of {TRAINEE}")).to_have_value("100.0")
    proctor.click("#items-link")
    expect(proctor.locator("#items-table")).to_contain_text("tw-manual")
    expect(proctor.locator("#item-tw-tf")).to_contain_text("1.00")
    screenshot(proctor, "item-statistics.png")
    auditor.context.add_cookies(proctor_context.cookies())  # type: ignore[arg-type]
    auditor.audit_url(f"/proctor/exams/{exam_id}/items", "item statistics")

    assert [p for w in watches for p in w.problems] == []
    assert auditor.serious() == [], auditor.summary()
    for context in (proctor_context, trainee_context, mentor_context, auditor.context):
        context.close()
