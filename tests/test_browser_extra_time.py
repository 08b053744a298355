"""Extra time during an exam, in real browsers against `sandbox serve`: while the exam
runs, the proctor gives one candidate five more minutes; that candidate's conversation
then starts with the longer clock, another candidate's with the exam's limit; extra time
given while a candidate's conversation is open moves the clock on their page at once,
without a reload. The exam page with the extra-time form passes axe in English and Chinese.

Policy: any script error or CSP refusal fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import BROWSER_MARKS, DESKTOP, browser, log_in, new_context
from fastapi import FastAPI
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select
from test_browser_admin import serve
from test_browser_trainee import SYNCED, Auditor, PageWatch
from web_support import add_user

from sandbox.exams.policy import ExamRules
from sandbox.storage.exams import create_exam
from sandbox.storage.models import Role, User

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

COLD = ("pharmacy-basics", "cold-remedy-hypertension")


def seed(app: FastAPI) -> None:
    """An exam open now, two minutes per conversation, for tao and mei."""
    add_user(app, "pat", Role.PROCTOR)
    tao = add_user(app, "tao", Role.TRAINEE)
    mei = add_user(app, "mei", Role.TRAINEE)
    now = datetime.now(UTC)
    with Session(app.state.sandbox.engine) as session:
        pat = session.exec(select(User).where(User.name == "pat")).one()
        create_exam(
            session=session,
            name="Spring practical",
            time_limit_s=120,
            opens_at=now - timedelta(minutes=5),
            closes_at=now + timedelta(hours=3),
            rules=ExamRules(),
            scenarios=[COLD],
            candidate_ids=[tao.id or 0, mei.id or 0],
            cohort=None,
            created_by=pat.id,
        )
        session.commit()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serve(tmp_path_factory.mktemp("browser-extra"), seed) as found:
        yield found


def clock_seconds(text: str) -> int:
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + int(seconds)


def test_extra_time_set_during_the_exam_lengthens_the_candidates_clock(
    browser: Browser, served: tuple[str, str]
) -> None:
    url, _ = served
    proctor = new_context(browser, url, viewport=DESKTOP).new_page()
    watch = PageWatch(proctor)
    log_in(proctor, "pat")
    expect(proctor.locator("#work-running")).to_contain_text("Spring practical")
    proctor.click("#work-running a[href='/proctor/exams']")
    proctor.click("#exam-table a")
    proctor.select_option("#extra-candidate", label="tao")
    proctor.fill("#extra-minutes", "5")
    proctor.click("#extra-submit")
    expect(proctor.locator("#extra-list")).to_contain_text("tao: 5 more minutes per conversation")

    seconds = {}
    for name in ("tao", "mei"):
        page = new_context(browser, url).new_page()
        log_in(page, name)
        page.goto("/exams")
        page.locator("a", has_text="Spring practical").first.click()
        page.locator("button.start-exam").first.click()
        expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
        expect(page.locator(SYNCED)).to_contain_text("Connected")
        seconds[name] = clock_seconds(page.locator("#clock").inner_text())
        page.context.close()
    assert 110 <= seconds["mei"] <= 120
    assert 410 <= seconds["tao"] <= 420
    assert watch.problems == []


def test_extra_time_given_during_a_conversation_moves_the_open_page_clock(
    browser: Browser, served: tuple[str, str]
) -> None:
    url, _ = served
    candidate = new_context(browser, url).new_page()
    candidate_watch = PageWatch(candidate)
    log_in(candidate, "mei")
    candidate.goto("/exams")
    candidate.locator("a", has_text="Spring practical").first.click()
    candidate.locator("button.start-exam").first.click()  # starts, or resumes hers
    expect(candidate).to_have_url(re.compile(r"/attempts/\d+$"))
    expect(candidate.locator(SYNCED)).to_contain_text("Connected")
    before = clock_seconds(candidate.locator("#clock").inner_text())
    assert before <= 120

    proctor = new_context(browser, url, viewport=DESKTOP).new_page()
    watch = PageWatch(proctor)
    log_in(proctor, "pat")
    proctor.goto("/proctor/exams")
    proctor.click("#exam-table a")
    proctor.select_option("#extra-candidate", label="mei")
    proctor.fill("#extra-minutes", "3")
    proctor.click("#extra-submit")
    expect(proctor.locator("#extra-list")).to_contain_text("mei: 3 more minutes")

    # No reload: the socket brings the new clock and says why.
    expect(candidate.locator("#notice")).to_contain_text("gave you 3 more minutes")
    after = clock_seconds(candidate.locator("#clock").inner_text())
    assert before + 170 <= after <= before + 180
    assert candidate_watch.problems == [] and watch.problems == []


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_the_exam_page_with_extra_time_passes_axe(
    browser: Browser, served: tuple[str, str], locale: str
) -> None:
    url, _ = served
    context = new_context(browser, url, bypass_csp=True, locale=locale)
    page = context.new_page()
    log_in(page, "pat")
    page.goto("/proctor/exams")
    page.click("#exam-table a")
    page.fill("#extra-minutes", "90")
    page.evaluate("document.getElementById('extra-form').noValidate = true")
    page.click("#extra-submit")
    expect(page.locator("#extra-error")).to_be_visible()
    auditor = Auditor(context)
    auditor.audit(page, f"{locale} exam page, extra time refused")
    assert auditor.serious() == [], auditor.summary()
