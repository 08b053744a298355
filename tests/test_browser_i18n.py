"""The gettext catalogues in real headless Chromium, against a real `sandbox serve`: a count
swapped in by htmx reads "1 scenario" and "共 1 个情景" (plural forms, in the viewer's
locale), and the exam form's time-zone note, whose field the page's script fills in, reads
whole in Chinese."""

from __future__ import annotations

import re

import pytest
import test_browser_exam
from browser_support import BROWSER_MARKS, WAIT_MS, browser, new_context
from playwright.sync_api import Browser, expect
from test_browser_exam import PROCTOR, TRAINEE, ZONE, log_in
from test_browser_trainee import PageWatch

# The exam test's `sandbox serve` (a proctor and a trainee, the shared packs), one per module.
server = test_browser_exam.server

__all__ = ["browser"]

pytestmark = BROWSER_MARKS


@pytest.mark.parametrize(
    ("locale", "one", "many"),
    [("en-GB", "1 scenario", r"^\d+ scenarios$"), ("zh-CN", "共 1 个情景", r"^共 \d+ 个情景$")],
)
def test_the_filtered_count_has_its_plural_form(
    browser: Browser, server: str, locale: str, one: str, many: str
) -> None:
    context = new_context(browser, server, locale=locale)
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, TRAINEE)
    page.goto("/")
    count = page.locator("#scenario-list .count")
    expect(count).to_have_text(re.compile(many))
    assert page.locator("#scenario-list .card").count() > 1
    page.select_option("#filter-language", "zh-CN")  # htmx swaps the list in
    expect(count).to_have_text(one)
    expect(page.locator("#scenario-list .card")).to_have_count(1)
    assert watch.problems == []
    context.close()


def test_the_exam_form_notes_the_time_zone_in_chinese(browser: Browser, server: str) -> None:
    context = browser.new_context(base_url=server, timezone_id=ZONE, locale="zh-CN")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, PROCTOR)
    page.goto("/proctor/exams/new")
    expect(page.locator("#zone-note")).to_have_text(f"时间为您所在的时区（{ZONE}）。")
    assert watch.problems == []
    context.close()
