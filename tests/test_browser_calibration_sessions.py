"""A calibration session in real headless Chromium, against a real `sandbox serve`.

A proctor builds a calibration set from two settled conversations; a mentor grades them
blind (no verdict, no reviewer's decision on the page) and then sees their agreement with
the settled grades and where they differed; the calibration report lists the session. The
pages run under the app's Content-Security-Policy and are audited with axe-core.
docs/screenshots/calibration-set.png, calibration-session.png and calibration-result.png
(1280 px) are refreshed when SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from browser_support import BROWSER_MARKS, PACKS, browser, log_in, new_context, serving
from playwright.sync_api import Browser, expect
from queue_support import NEGATED, flagged_attempt
from review_support import GOOD
from sqlmodel import Session, select
from test_browser_trainee import Auditor, PageWatch, screenshot
from web_support import add_user, make_settings

from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.reviews import override_criterion
from sandbox.web.app import create_app

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

WIDE = {"width": 1280, "height": 1000}
REASON = "Warned in other words: the spray is saline."
#: The settled statuses by attempt, filled by `seeded`.
SETTLED: dict[int, dict[str, str]] = {}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[int]]]:
    folder = tmp_path_factory.mktemp("browser-calibration")
    settings = make_settings(folder, packs=str(PACKS))
    app = create_app(settings)
    add_user(app, "pat", Role.PROCTOR)
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "ann", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    ids = [flagged_attempt(app, "tao", NEGATED), flagged_attempt(app, "tao", GOOD)]
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        mo = session.exec(select(User).where(User.name == "mo")).one()
        negated = session.get(Attempt, ids[0])
        assert negated is not None and negated.grade is not None
        missed = next(c["id"] for c in negated.grade["criteria"] if c["status"] == "missed")
        override_criterion(
            session=session,
            attempt=negated,
            author=mo,
            criterion_id=missed,
            status="met",
            reason=REASON,
        )
        for attempt_id in ids:
            attempt = session.get(Attempt, attempt_id)
            assert attempt is not None and attempt.grade is not None
            attempt.reviewed_at = datetime.now(UTC)
            session.add(attempt)
            SETTLED[attempt_id] = {c["id"]: c["status"] for c in attempt.grade["criteria"]}
        session.commit()
    app.state.sandbox.engine.dispose()
    with serving(folder, settings.database_url, settings.var_dir) as url:
        yield url, ids


def test_a_mentor_takes_a_calibration_session(
    browser: Browser, seeded: tuple[str, list[int]]
) -> None:
    url, ids = seeded
    proctor_context = new_context(browser, url, viewport=WIDE)
    pat = proctor_context.new_page()
    watch = PageWatch(pat)
    log_in(pat, "pat")
    pat.goto("/proctor/exams")
    pat.click("#calibration-sets-link")
    pat.fill("#set-name", "Cold remedies, week 1")
    for attempt_id in ids:
        pat.check(f"#take-{attempt_id}")
    screenshot(pat, "calibration-set.png")
    pat.click("#set-submit")
    expect(pat.locator("#set-made")).to_be_visible()
    expect(pat.locator("#set-list")).to_contain_text("Cold remedies, week 1")

    mentor_context = new_context(browser, url, viewport=WIDE)
    ann = mentor_context.new_page()
    mentor_watch = PageWatch(ann)
    log_in(ann, "ann")
    ann.goto("/mentor/calibration")
    ann.click("#calibration-sessions-link")
    ann.locator("#session-sets button").first.click()
    # Blind: the transcript and the rubric, no verdict, no decision, no name.
    expect(ann.locator("#calitem-form")).to_be_visible()
    expect(ann.locator("#review-transcript .marks")).to_have_count(0)
    expect(ann.locator("main")).not_to_contain_text(REASON)
    expect(ann.locator("main")).not_to_contain_text("tao")
    # The set keeps the order of the build form (newest first): the page says which it is.
    shown_first = ids[0] if NEGATED[1] in ann.locator("#review-transcript").inner_text() else ids[1]
    order = [shown_first, ids[1] if shown_first == ids[0] else ids[0]]
    first = SETTLED[order[0]]
    assert ann.locator("#calitem-form select").count() == len(first)
    differ = next(c for c, s in first.items() if s == "met" and c != "tone")
    for criterion, status in first.items():
        wanted = "missed" if criterion == differ else status
        ann.select_option(f"#calitem-status-{criterion}", value=wanted)
    screenshot(ann, "calibration-session.png")
    ann.click("#calitem-submit")
    expect(ann.locator("#calitem-title")).to_contain_text("2")
    for criterion, status in SETTLED[order[1]].items():
        ann.select_option(f"#calitem-status-{criterion}", value=status)
    ann.click("#calitem-submit")

    # The results: agreement, kappa, and the criterion where ann differed, with evidence.
    expect(ann.locator("#calresult-title")).to_be_visible()
    total = len(first) + len(SETTLED[order[1]])
    expect(ann.locator("#calresult-verdicts")).to_have_text(str(total))
    expect(ann.locator("#calresult-agreement")).to_have_text(f"{100 * (total - 1) / total:.1f}%")
    expect(ann.locator(f"#differ-1-{differ}")).to_be_visible()
    screenshot(ann, "calibration-result.png")
    ann.goto("/mentor/calibration")
    expect(ann.locator("#sessions-table")).to_contain_text("Cold remedies, week 1")
    assert watch.problems == [] and mentor_watch.problems == []

    audit_context = new_context(browser, url, bypass_csp=True, viewport=WIDE)
    audit_context.add_cookies(mentor_context.cookies())  # type: ignore[arg-type]
    auditor = Auditor(audit_context)
    auditor.audit_url("/mentor/calibration/sessions", "sessions", "#sessions-title")
    auditor.audit_url("/mentor/calibration", "calibration report", "#calibration-sessions")
    auditor.audit_url("/mentor/calibration/sessions/1", "results", "#calresult-title")
    assert auditor.serious() == [], auditor.summary()
    proctor_audit = new_context(browser, url, bypass_csp=True, viewport=WIDE)
    proctor_audit.add_cookies(proctor_context.cookies())  # type: ignore[arg-type]
    sets_auditor = Auditor(proctor_audit)
    sets_auditor.audit_url("/proctor/calibration-sets", "calibration sets", "#set-form")
    assert sets_auditor.serious() == [], sets_auditor.summary()
    for context in (audit_context, proctor_audit, mentor_context, proctor_context):
        context.close()
