"""The mentor's review page in real headless Chromium, against a real `sandbox serve`.

A mentor opens a trainee's failed attempt, replays it with the keyboard (play, pause, step,
speed), overrides a verdict with a reason, and the page shows the new score beside the
automatic one. The attempt list, review, regrade and case pages are audited with axe-core
(serious or critical violations fail). The page runs under the app's Content-Security-
Policy: any script error or CSP refusal fails the test. The screenshot of the review page
in docs/screenshots/review.png is refreshed when SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlparse

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
from playwright.sync_api import Browser, Page, expect
from review_support import GOOD, REASSURANCE, graded_attempt
from sqlmodel import Session, select
from test_browser_trainee import Auditor, PageWatch, screenshot
from web_support import add_user, make_settings

from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.reviews import add_comment, mark_case
from sandbox.web.app import create_app

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

WIDE = {"width": 1440, "height": 1000}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """`sandbox serve` on a free port over a database with a mentor, a trainee and attempts."""
    folder = tmp_path_factory.mktemp("browser-mentor")
    settings = make_settings(folder, packs=str(PACKS))
    app = create_app(settings)
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    ids = {
        "good": graded_attempt(app, "tao", GOOD, gap_s=9.5),
        "failed": graded_attempt(
            app, "tao", [*REASSURANCE, "Anything else? Take care!"], gap_s=14.0
        ),
    }
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        mei = session.exec(select(User).where(User.name == "mei")).one()
        failed = session.get(Attempt, ids["failed"])
        good = session.get(Attempt, ids["good"])
        assert failed is not None and good is not None
        add_comment(
            session=session,
            attempt=failed,
            author=mei,
            message_seq=3,
            message_count=7,
            text="This is the moment to warn: pseudoephedrine raises blood pressure.",
        )
        add_comment(
            session=session,
            attempt=failed,
            author=mei,
            text="Good opening question. Next time warn before you reassure.",
        )
        mark_case(
            session=session,
            attempt=good,
            author=mei,
            example="good",
            tags="contraindication, model-answer",
            note="Asks, warns, offers a safer option.",
        )
        session.commit()
    app.state.sandbox.engine.dispose()

    with serving(folder, settings.database_url, settings.var_dir) as url:
        yield url, ids


def shown_rows(page: Page) -> int:
    return page.locator("#review-transcript > li:not([hidden])").count()


def test_a_mentor_replays_overrides_and_the_page_is_accessible(
    browser: Browser, seeded: tuple[str, dict[str, int]]
) -> None:
    url, ids = seeded
    context = new_context(browser, url, viewport=WIDE)
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, "mei")
    page.click("#nav-review")
    expect(page.locator("#attempts-table")).to_be_visible()
    page.click(f"#attempt-{ids['failed']} a")
    expect(page.locator("#review-title")).to_contain_text("high blood pressure")

    rows = page.locator("#review-transcript > li").count()
    assert rows >= 6
    player = page.locator("#replay-player")
    expect(player).to_be_visible()  # the script took the player out of hiding
    expect(page.locator("#replay-status")).to_contain_text(f"All {rows} messages shown")

    # Keyboard only: focus Play, Space starts the replay from the opening line.
    page.locator("#replay-speed").select_option("2")
    page.locator("#replay-play").focus()
    page.keyboard.press("Space")
    expect(page.locator("#replay-status")).to_contain_text(f"Message 1 of {rows}")
    assert shown_rows(page) == 1
    expect(page.locator("#replay-play")).to_have_attribute("aria-pressed", "true")
    # At 2x the first gap (14 s) takes 7 s, then the next lines appear by themselves (the
    # reply, stored at the same second, a moment later); the gap after that is 7 s again.
    expect(page.locator("#replay-status")).to_contain_text(
        re.compile(rf"Message [23] of {rows}"), timeout=30_000
    )
    page.keyboard.press("Space")  # pause
    expect(page.locator("#replay-play")).to_have_attribute("aria-pressed", "false")
    paused_at = shown_rows(page)
    page.keyboard.press("ArrowRight")
    assert shown_rows(page) == paused_at + 1
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert shown_rows(page) == paused_at - 1
    expect(page.locator("#review-transcript > li.replay-current")).to_have_count(1)
    page.keyboard.press("End")
    assert shown_rows(page) == rows

    # Override the missed warning, with a reason; the automatic score stays beside it.
    automatic = page.locator("#score").inner_text()
    criterion = page.locator("#criterion-decongestant-warning")
    criterion.locator("summary").click()
    criterion.locator("select").select_option("met")
    criterion.locator("textarea").fill("Warned by phone right after the chat, noted in the ticket.")
    criterion.locator("button[type=submit]").click()
    expect(page.locator("#automatic-score")).to_contain_text(automatic)
    assert page.locator("#score").inner_text() != automatic
    expect(page.locator("#override-table")).to_contain_text("Warned by phone")
    expect(page.locator("#criterion-decongestant-warning")).to_contain_text("automatic: Missed")

    page.goto(f"/mentor/attempts/{ids['failed']}")
    expect(player).to_be_visible()
    page.set_viewport_size({"width": 1440, "height": 1500})
    page.locator("#review-title").scroll_into_view_if_needed()
    screenshot(page, "review.png")

    # The regrade's dry run is a background job: its page polls, then reloads with the plan.
    page.goto("/mentor/regrade")
    page.locator("#regrade-pack").select_option("pharmacy-basics")
    page.locator("#regrade-dry-run").click()
    expect(page.locator("#job-title")).to_be_visible()
    expect(page.locator("#regrade-plan")).to_be_visible(timeout=120_000)
    expect(page.locator("#job-state")).to_have_attribute("data-state", "done")
    job_page = urlparse(page.url).path
    assert re.fullmatch(r"/jobs/\d+", job_page), job_page
    assert watch.problems == []

    audit_context = new_context(browser, url, bypass_csp=True, viewport=DESKTOP)
    audit_context.add_cookies(context.cookies())  # type: ignore[arg-type]
    auditor = Auditor(audit_context)
    auditor.audit_url("/mentor/attempts", "attempts", "#attempts-table")
    auditor.audit_url(f"/mentor/attempts/{ids['failed']}", "review", "#replay-player:not([hidden])")
    auditor.audit_url(
        "/mentor/attempts?date_from=nonsense", "attempts with an error", "#filter-errors"
    )
    auditor.audit_url("/mentor/regrade", "regrade", "#regrade-jobs")
    auditor.audit_url(job_page, "regrade dry run (a job)", "#regrade-plan")
    auditor.audit_url("/jobs", "jobs", "#jobs-table")
    auditor.audit_url("/cases", "case library", "#case-list")
    page.goto("/cases")
    case_link = page.locator("#case-list h2 a").first.get_attribute("href")
    assert case_link and re.match(r"^/cases/\d+$", case_link)
    auditor.audit_url(case_link, "case", "#replay-player:not([hidden])")
    assert auditor.serious() == [], auditor.summary()
    audit_context.close()
    context.close()
