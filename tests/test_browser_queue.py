"""The review queue in real headless Chromium, against a real `sandbox serve`.

A mentor sees the count of flagged attempts in the navigation, opens the queue (the exam
attempt first), confirms every flagged verdict with the keyboard alone, is taken to the next
attempt, overrides its flagged verdict by keyboard with a reason, finds the queue empty and
reads the calibration report.
The pages run under the app's Content-Security-Policy (a script error or CSP refusal fails)
and are audited with axe-core. The screenshots docs/screenshots/queue.png and calibration.png are refreshed when
SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import (
    BROWSER_MARKS,
    DESKTOP,
    PACKS,
    browser,
    log_in,
    new_context,
    serving,
)
from playwright.sync_api import Browser, expect
from queue_support import NEGATED, an_exam, flagged_attempt
from test_browser_trainee import Auditor, PageWatch, screenshot
from web_support import add_user, make_settings

from sandbox.storage.models import Role
from sandbox.web.app import create_app

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

WIDE = {"width": 1440, "height": 1100}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """`sandbox serve` on a free port over a database with two flagged attempts."""
    folder = tmp_path_factory.mktemp("browser-queue")
    settings = make_settings(folder, packs=str(PACKS))
    app = create_app(settings)
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    now = datetime.now(UTC)
    exam = an_exam(app)
    ids = {
        "practice": flagged_attempt(app, "tao", NEGATED, started_at=now),
        "exam": flagged_attempt(
            app,
            "tao",
            [*NEGATED, "Anything else? Take care!"],
            exam_id=exam,
            started_at=now - timedelta(hours=2),
        ),
    }
    app.state.sandbox.engine.dispose()
    with serving(folder, settings.database_url, settings.var_dir) as url:
        yield url, ids


def test_a_mentor_works_through_the_queue_by_keyboard(
    browser: Browser, seeded: tuple[str, dict[str, int]]
) -> None:
    url, ids = seeded
    context = new_context(browser, url, viewport=WIDE)
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, "mei")
    page.goto("/mentor/attempts")
    expect(page.locator("#queue-count")).to_have_text("2")
    page.click("#mentor-nav-queue")
    rows = page.locator("#queue-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("id", f"queue-row-{ids['exam']}")  # exam first
    rows.first.locator("a").click()

    # The first undecided verdict has the focus; c confirms it, until none is left and
    # the page moves on to the next attempt of the queue.
    cards = page.locator(".flag-card")
    count = cards.count()
    assert count >= 1
    expect(page.locator(".flag-card .reason").first).to_be_visible()  # the explanation
    expect(page.locator("#review-transcript")).to_be_visible()  # the evidence beside it
    page.set_viewport_size({"width": 1440, "height": 1400})
    screenshot(page, "queue.png")
    for done in range(count):
        expect(page.locator(".flag-card:focus")).to_have_count(1)
        page.keyboard.press("c")
        if done < count - 1:
            expect(page.locator(".flag-card.is-decided")).to_have_count(done + 1)
    expect(page).to_have_url(f"{url}/mentor/queue/{ids['practice']}")
    expect(page.locator("#queue-count")).to_have_text("1")

    # On the practice attempt: o goes to the override, the reason is typed, Enter saves.
    first = page.locator(".flag-card").first
    criterion = first.get_attribute("data-criterion")
    flags_here = page.locator(".flag-card").count()
    page.keyboard.press("o")
    expect(first.locator(".override-status")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.type("Read the whole line: the warning is there.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    for done in range(1, flags_here):  # any other flagged verdicts here: confirm them
        expect(page.locator(".flag-card.is-decided")).to_have_count(done)
        page.keyboard.press("c")
    expect(page).to_have_url(f"{url}/mentor/queue?done=1")
    expect(page.locator("#queue-empty")).to_be_visible()
    expect(page.locator("#queue-count")).to_have_count(0)
    page.goto("/mentor/queue?status=reviewed")
    expect(page.locator("#queue-table tbody tr")).to_have_count(2)
    page.goto(f"/mentor/queue/{ids['practice']}")
    expect(page.locator(f"#decision-{criterion}")).to_contain_text("Overridden")
    # The calibration report now counts both attempts' verdicts.
    page.click("#mentor-nav-calibration")
    expect(page.locator("#flagged-row")).to_be_visible()
    expect(page.locator("#reviewer-mei")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 1300})
    screenshot(page, "calibration.png")
    assert watch.problems == []

    audit_context = new_context(browser, url, bypass_csp=True, viewport=DESKTOP)
    audit_context.add_cookies(context.cookies())  # type: ignore[arg-type]
    auditor = Auditor(audit_context)
    auditor.audit_url("/mentor/queue?status=all", "queue", "#queue-table")
    auditor.audit_url(f"/mentor/queue/{ids['exam']}", "queue item", ".flag-card")
    auditor.audit_url("/mentor/queue?mode=never", "queue with an error", "#filter-errors")
    auditor.audit_url("/mentor/calibration", "calibration", "#criteria-table")
    assert auditor.serious() == [], auditor.summary()
    audit_context.close()
    context.close()
