"""Second marking and release in real headless Chromium, against a real `sandbox serve`.

A proctor chooses the failed exam conversations for second marking; another mentor marks
one blind, disagreeing on a verdict; the proctor settles it and releases the results, and
the candidate sees their grade. The pages run under the app's Content-Security-Policy and
are audited with axe-core. docs/screenshots/second-marking.png is refreshed when
SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from sqlmodel import Session
from test_browser_trainee import Auditor, PageWatch, screenshot
from web_support import add_user, make_settings

from sandbox.storage.models import Attempt, Role
from sandbox.web.app import create_app

__all__ = ["browser"]

#: The first mark (the grader's, nobody reviewed it) by criterion, filled by `seeded`: the
#: second reviewer in the test agrees with it except on the decongestant warning.
FIRST: dict[str, str] = {}

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    folder = tmp_path_factory.mktemp("browser-second")
    settings = make_settings(folder, packs=str(PACKS))
    app = create_app(settings)
    add_user(app, "pat", Role.PROCTOR)
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "ann", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    exam = an_exam(app, "Spring practical", candidates=("tao",))
    ids = {"exam": exam, "attempt": flagged_attempt(app, "tao", NEGATED, exam_id=exam)}
    with Session(app.state.sandbox.engine) as session:
        attempt = session.get(Attempt, ids["attempt"])
        assert attempt is not None and attempt.grade is not None
        FIRST.update({c["id"]: c["status"] for c in attempt.grade["criteria"]})
    app.state.sandbox.engine.dispose()
    with serving(folder, settings.database_url, settings.var_dir) as url:
        yield url, ids


def test_a_proctor_runs_second_marking_and_releases(
    browser: Browser, seeded: tuple[str, dict[str, int]]
) -> None:
    url, ids = seeded
    exam = ids["exam"]
    proctor_context = new_context(browser, url, viewport={"width": 1280, "height": 1200})
    pat = proctor_context.new_page()
    watch = PageWatch(pat)
    log_in(pat, "pat")
    pat.goto(f"/proctor/exams/{exam}")
    pat.click("#second-marking-link")
    pat.check("#rule-failed")
    pat.click("#second-choose-submit")
    card = pat.locator(".card").first
    expect(card).to_contain_text("tao")
    expect(card).to_contain_text("waiting for the second mark")

    # Another mentor marks blind: no verdict is shown, every criterion is chosen by hand.
    marker_context = new_context(browser, url, viewport=DESKTOP)
    ann = marker_context.new_page()
    marker_watch = PageWatch(ann)
    log_in(ann, "ann")
    ann.goto("/mentor/second")
    ann.locator("#second-list a").first.click()
    expect(ann.locator("#second-mark-form")).to_be_visible()
    expect(ann.locator("#review-transcript")).not_to_contain_text("tao")
    assert ann.locator("#second-mark-form select").count() == len(FIRST)
    for criterion, status in FIRST.items():
        wanted = "met" if criterion == "decongestant-warning" else status
        ann.select_option(f"#second-status-{criterion}", value=wanted)
    ann.click("#second-mark-submit")
    expect(ann.locator("#second-list-empty")).to_be_visible()

    # The proctor sees both marks side by side and settles.
    pat.reload()
    expect(card).to_contain_text("to settle")
    expect(pat.locator("table.disagreements tbody tr")).to_have_count(1)
    screenshot(pat, "second-marking.png")
    settle_select = pat.locator("select[id$='-decongestant-warning']")
    settle_select.select_option(index=1)  # take the second mark
    pat.locator("textarea[name=reason]").first.fill("The warning is in message 4, read whole.")
    pat.locator(".settle-form button[type=submit]").first.click()
    expect(pat.locator(".card").first).to_contain_text("settled")

    # Release: nothing is under review any more; the candidate sees a grade.
    pat.goto(f"/proctor/exams/{exam}/release")
    expect(pat.locator("#pending-under-review")).to_have_count(0)
    pat.click("#confirm-release")
    candidate_context = new_context(browser, url, viewport=DESKTOP)
    tao = candidate_context.new_page()
    log_in(tao, "tao")
    tao.goto(f"/exams/{exam}/results")
    expect(tao.locator(".attempt-score")).to_be_visible()
    assert watch.problems == [] and marker_watch.problems == []

    audit_context = new_context(browser, url, bypass_csp=True, viewport=DESKTOP)
    audit_context.add_cookies(proctor_context.cookies())  # type: ignore[arg-type]
    auditor = Auditor(audit_context)
    auditor.audit_url(f"/proctor/exams/{exam}/second-marking", "second marking", "#second-choose")
    assert auditor.serious() == [], auditor.summary()
    for context in (audit_context, candidate_context, marker_context, proctor_context):
        context.close()
