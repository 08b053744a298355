"""Peer review in real browsers against `sandbox serve`: a mentor opens a trainee's graded
practice conversation to their cohort, a peer reads it with names masked and rates it
against the rubric, the author reads the ratings with the reviewer masked. The new pages
pass axe in English and Chinese.

Policy: any script error or CSP refusal fails the test. Screenshots of the peer's review
page at 1280 px and at phone size go to docs/screenshots/ when SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_support import BROWSER_MARKS, DESKTOP, browser, log_in, new_context
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect
from review_support import GOOD, graded_attempt
from sqlmodel import Session
from test_browser_admin import serve
from test_browser_trainee import PHONE, Auditor, PageWatch, screenshot
from web_support import add_user

from sandbox.storage.exams import CohortMember
from sandbox.storage.models import Role

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

#: The trainee introduces himself in the chat: peers must not read the name.
LINES = ["Hello, my name is Tao Chen. " + GOOD[0], *GOOD[1:]]
SEEDED: dict[str, int] = {}


def seed(app: FastAPI) -> None:
    add_user(app, "mo", Role.MENTOR)
    people = [add_user(app, name, Role.TRAINEE, mentor="mo") for name in ("tao", "mei", "kim")]
    with Session(app.state.sandbox.engine) as session:
        for person in people:
            session.add(CohortMember(cohort="Spring", user_id=person.id or 0))
        session.commit()
    SEEDED["attempt"] = graded_attempt(app, "tao", LINES)
    SEEDED["kim_attempt"] = graded_attempt(app, "kim", GOOD)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serve(tmp_path_factory.mktemp("browser-peer"), seed) as found:
        yield found


def share(page: Page, attempt_id: int) -> None:
    """The mentor opens the attempt to Spring from its review page."""
    page.goto(f"/mentor/attempts/{attempt_id}")
    page.click("#peer-share-link")
    page.select_option("#share-cohort", "Spring")
    page.click("#share-submit")
    expect(page.locator("#notice")).to_contain_text("open to the cohort")


def test_a_peer_rates_a_masked_transcript_and_the_author_reads_it(
    browser: Browser, served: tuple[str, str]
) -> None:
    url, _ = served
    mentor = new_context(browser, url, viewport=DESKTOP).new_page()
    mentor_watch = PageWatch(mentor)
    log_in(mentor, "mo")
    share(mentor, SEEDED["attempt"])
    expect(mentor.locator("#share-list li")).to_have_count(1)

    peer = new_context(browser, url, viewport=DESKTOP).new_page()
    watch = PageWatch(peer)
    log_in(peer, "mei")
    peer.click("#nav-peer")
    item = peer.locator("#peer-list li")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Trainee A")
    item.get_by_role("link").click()
    expect(peer.locator("#peer-author")).to_have_text("Trainee A")
    transcript = peer.locator("#review-transcript")
    expect(transcript).to_contain_text("[name]")
    expect(transcript).not_to_contain_text("Tao")
    fieldsets = peer.locator("fieldset.peer-criterion")
    count = fieldsets.count()
    assert count >= 4
    # Saving with nothing rated marks the first criterion and keeps the comment.
    peer.fill("#peer-comment", "You asked about other medicines before suggesting anything.")
    peer.click("#peer-submit")
    expect(peer.locator("#peer-errors")).to_be_visible()
    expect(peer.locator("#peer-comment")).to_have_value(re.compile("other medicines"))
    for index in range(count):
        level = "partly" if index == 0 else "met"
        fieldsets.nth(index).locator(f"input[value={level}]").check()
    peer.evaluate("window.scrollTo(0, 0)")
    screenshot(peer, "peer-review-1280.png")
    peer.click("#peer-submit")
    expect(peer.locator("#peer-done")).to_be_visible()
    peer.goto("/peer-reviews")
    expect(peer.locator("#peer-list li")).to_contain_text("Reviewed")

    # At phone size: kim's view of the same transcript, before rating it.
    phone = new_context(browser, url, viewport=PHONE).new_page()
    phone_watch = PageWatch(phone)
    log_in(phone, "kim")
    phone.goto("/peer-reviews")
    phone.locator("#peer-list li a").click()
    expect(phone.locator("#peer-form")).to_be_visible()
    screenshot(phone, "peer-review-phone.png")

    author = new_context(browser, url, viewport=DESKTOP).new_page()
    author_watch = PageWatch(author)
    log_in(author, "tao")
    author.goto("/peer-reviews")
    author.locator("#peer-mine-list li a").click()
    ratings = author.locator("#peer-ratings")
    expect(ratings).to_contain_text("Reviewer 1")
    expect(ratings).to_contain_text("Partly")
    expect(ratings).not_to_contain_text("mei")
    expect(author.locator("#peer-comments")).to_contain_text("other medicines")
    assert (
        watch.problems + mentor_watch.problems + phone_watch.problems + author_watch.problems
    ) == []


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_peer_review_pages_pass_axe(browser: Browser, served: tuple[str, str], locale: str) -> None:
    url, _ = served
    mentor_context = new_context(browser, url, bypass_csp=True, locale=locale)
    mentor = mentor_context.new_page()
    log_in(mentor, "mo")
    auditor = Auditor(mentor_context)
    attempt = SEEDED["kim_attempt"]
    auditor.audit_url(f"/mentor/attempts/{attempt}/peer-review", f"{locale} share page")
    mentor.goto(f"/mentor/attempts/{attempt}/peer-review")
    mentor.click("#share-submit")
    expect(mentor.locator("#notice")).to_be_visible()
    share_link = mentor.locator("#share-list a").first.get_attribute("href") or ""
    auditor.audit_url("/peer-reviews", f"{locale} mentor's list")
    auditor.audit_url(share_link, f"{locale} mentor's view")
    for name in ("tao", "kim"):  # a peer's form; the author's ratings
        context = new_context(browser, url, bypass_csp=True, locale=locale)
        page = context.new_page()
        log_in(page, name)
        audit = Auditor(context)
        audit.audit_url("/peer-reviews", f"{locale} {name} list")
        page.goto(share_link)
        if name == "tao":
            page.fill("#peer-comment", "Clear and kind.")
            page.click("#peer-submit")  # nothing rated: the errors are marked
            expect(page.locator("#peer-errors")).to_be_visible()
        audit.audit(page, f"{locale} {name} review page")
        auditor.found.update(audit.found)
        context.close()
    assert auditor.serious() == [], auditor.summary()
    mentor_context.close()
