"""A mentor assigns work and a trainee completes it, in real browsers against `sandbox
serve`: the mentor lands on their work queue, assigns a scenario with a due date, the
trainee sees it above the catalogue, practises it, and the mentor sees it done. The new
pages (work queue, assignments, the catalogue with assignments) pass axe in English and
Chinese.

Policy: any script error or CSP refusal fails the test. Screenshots of the assignments
page at 1280 px and of the trainee's catalogue at phone size go to docs/screenshots/ when
SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import BROWSER_MARKS, DESKTOP, browser, log_in, new_context
from fastapi import FastAPI
from playwright.sync_api import Browser, expect
from test_browser_admin import serve
from test_browser_trainee import PACK, PHONE, SCENARIO, SYNCED, Auditor, PageWatch, screenshot
from web_support import add_user

from sandbox.storage.models import Role

__all__ = ["browser"]

pytestmark = BROWSER_MARKS


def seed(app: FastAPI) -> None:
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    add_user(app, "mei", Role.TRAINEE, mentor="mo")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serve(tmp_path_factory.mktemp("browser-assign"), seed) as found:
        yield found


def test_a_mentor_assigns_and_a_trainee_completes(
    browser: Browser, served: tuple[str, str]
) -> None:
    url, _ = served
    mentor = new_context(browser, url, viewport=DESKTOP).new_page()
    watch = PageWatch(mentor)
    log_in(mentor, "mo")
    expect(mentor).to_have_url(re.compile(r"/work$"))
    expect(mentor.locator("#work-assignments")).to_contain_text("0 assignments to do")
    mentor.click("#work-mentor a[href='/mentor/assignments']")
    due = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    mentor.select_option("#assign-activity", f"{PACK}/{SCENARIO}")
    mentor.check("input[name=trainees] >> nth=0")  # mei
    mentor.check("input[name=trainees] >> nth=1")  # tao
    mentor.fill("#assign-due", due)
    mentor.click("#assign-submit")
    expect(mentor.locator("#notice")).to_contain_text("Assigned")
    expect(mentor.locator("#assignment-table tbody tr")).to_have_count(2)

    trainee = new_context(browser, url, viewport=PHONE).new_page()
    trainee_watch = PageWatch(trainee)
    log_in(trainee, "tao")
    assigned = trainee.locator("#assigned-list li")
    expect(assigned).to_have_count(1)
    expect(assigned).to_contain_text(f"due {due}")
    screenshot(trainee, "assigned-phone.png")
    assigned.get_by_role("link").click()
    expect(trainee.locator("#brief-title")).to_be_visible()
    trainee.click("#start-button")
    expect(trainee.locator(SYNCED)).to_contain_text("Connected")
    trainee.fill("#message-input", "Hello, do you have high blood pressure or take any medicines?")
    expect(trainee.locator("#message-count")).to_have_text(re.compile(r"^Characters: 61 of \d+$"))
    trainee.click("#send-button")
    expect(trainee.locator("#msg-2")).to_be_attached()
    expect(trainee.locator("#message-count")).to_have_text(re.compile(r"^Characters: 0 of \d+$"))
    trainee.once("dialog", lambda dialog: dialog.accept())
    trainee.click("#finish-button")
    expect(trainee.locator("#feedback-link")).to_be_visible()
    trainee.click("#feedback-link")
    expect(trainee.locator("#score")).to_be_visible()
    trainee.goto("/")
    expect(trainee.locator("#assigned-list")).to_have_count(0)
    expect(trainee.locator("#assigned-summary")).to_have_text("1 assignment done")

    mentor.reload()
    rows = mentor.locator("#assignment-table tbody tr")
    expect(rows.filter(has_text="tao")).to_contain_text("Done")
    expect(rows.filter(has_text="mei")).to_contain_text("To do")
    screenshot(mentor, "assignments.png")
    mentor.goto("/work")
    expect(mentor.locator("#work-recent")).to_contain_text("tao")
    assert watch.problems == [] and trainee_watch.problems == []


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_work_and_assignment_pages_pass_axe(
    browser: Browser, served: tuple[str, str], locale: str
) -> None:
    url, _ = served
    for name, pages in (("mo", ["/work", "/mentor/assignments"]), ("mei", ["/"])):
        context = new_context(browser, url, bypass_csp=True, locale=locale)
        page = context.new_page()
        log_in(page, name)
        auditor = Auditor(context)
        for path in pages:
            auditor.audit_url(path, f"{locale} {path}")
        if name == "mo":
            page.goto("/mentor/assignments")
            page.check("input[name=trainees] >> nth=0")  # mei: her catalogue lists it
            page.click("#assign-submit")
            expect(page.locator("#notice")).to_be_visible()
            page.fill("#assign-due", "2020-01-01")
            page.click("#assign-submit")
            expect(page.locator("#assign-errors")).to_be_visible()
            auditor.audit(page, f"{locale} assignment errors")
        else:
            expect(page.locator("#assigned-title")).to_be_visible()
        assert auditor.serious() == [], auditor.summary()
        context.close()
