"""A timed exam in real headless Chromium, against a real `sandbox serve`.

A proctor (in Shanghai's time zone, so the form's local times are converted) creates an exam
of one scenario with a 20-second clock through the form; the trainee starts it and writes;
the proctor's live monitor shows them in progress with their message count, then finished
with a score once the server's clock ends the conversation; the proctor enters the written
score and releases the results; the trainee's results page shows the grade. The exam pages
are audited with axe-core. Screenshots of the monitor and the report go to docs/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from browser_support import (
    BROWSER_MARKS,
    PASSWORD,
    WAIT_MS,
    browser,
    new_context,
    serving,
)
from browser_support import log_in as log_in_as
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session
from test_browser_trainee import Auditor, PageWatch, screenshot

from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Role
from sandbox.storage.users import create_user

PROCTOR, TRAINEE, ABSENT = "pat", "tao", "mei"
SCENARIO = "pharmacy-basics/cold-remedy-hypertension"
ZONE = "Asia/Shanghai"
LIMIT_S = 20

__all__ = ["browser"]

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sandbox serve` on a free port: temp SQLite, the shared packs, a proctor and a trainee."""
    folder = tmp_path_factory.mktemp("exam-browser")
    database_url = f"sqlite:///{folder / 'sandbox.db'}"
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            create_user(session=session, name=PROCTOR, role=Role.PROCTOR, password=PASSWORD)
            create_user(session=session, name=TRAINEE, role=Role.TRAINEE, password=PASSWORD)
            create_user(session=session, name=ABSENT, role=Role.TRAINEE, password=PASSWORD)
            session.commit()
    finally:
        engine.dispose()
    with serving(folder, database_url, folder / "var", reply_delay_s="0") as url:
        yield url


def log_in(page: Page, name: str) -> None:
    log_in_as(page, name, ready="#nav-exams")


def local_field(moment: datetime) -> str:
    """A datetime-local value as a proctor in ZONE types it."""
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


def test_a_proctor_runs_a_timed_exam_and_the_trainee_sees_the_grade(
    browser: Browser, server: str
) -> None:
    proctor_context = browser.new_context(
        base_url=server, timezone_id=ZONE, locale="en-GB", viewport={"width": 1280, "height": 860}
    )
    proctor_context.set_default_timeout(WAIT_MS)
    trainee_context = new_context(browser, server)
    auditor = Auditor(new_context(browser, server, bypass_csp=True))
    proctor = proctor_context.new_page()
    trainee = trainee_context.new_page()
    watches = [PageWatch(proctor), PageWatch(trainee)]

    # The proctor makes the exam through the form (times typed in Shanghai time).
    log_in(proctor, PROCTOR)
    assert auditor.context is not None
    auditor.context.add_cookies(proctor_context.cookies())  # type: ignore[arg-type]
    proctor.click("#nav-proctor")
    proctor.click("#new-exam")
    expect(proctor.locator("#zone-note")).to_contain_text(ZONE)
    auditor.audit_url("/proctor/exams/new", "exam form")
    now = datetime.now(ZoneInfo("UTC"))
    proctor.fill("#field-name", "Practical exam, cohort A")
    proctor.check(f"input[name=scenario][value='{SCENARIO}']")
    proctor.fill("#field-time_limit_s", str(LIMIT_S))
    proctor.fill("#field-opens_at", local_field(now - timedelta(minutes=5)))
    proctor.fill("#field-closes_at", local_field(now + timedelta(hours=2)))
    proctor.fill("#field-cohort", "2026-A")
    proctor.get_by_label(TRAINEE, exact=True).check()
    proctor.get_by_label(ABSENT, exact=True).check()
    proctor.click("#save-exam")
    expect(proctor.locator("#exam-title")).to_have_text("Practical exam, cohort A")
    expect(proctor.locator("#window-state")).to_have_text("Open")
    exam_url = proctor.url
    exam_id = int(exam_url.rstrip("/").rsplit("/", 1)[1])
    auditor.audit_url(exam_url, "exam overview")

    # The monitor: the trainee has not started.
    proctor.click("#monitor-link")
    row = proctor.locator("#monitor-rows tr").filter(has_text=TRAINEE)
    expect(proctor.locator('#monitor-connection[data-synced="true"]')).to_have_text("Live")
    expect(row).to_contain_text("Not started")
    absent = proctor.locator("#monitor-rows tr").filter(has_text=ABSENT)

    # The trainee starts the exam and writes.
    log_in(trainee, TRAINEE)
    trainee.click("#nav-exams")
    trainee.get_by_role("link", name="Practical exam, cohort A").click()
    expect(trainee.locator("#exam-title")).to_have_text("Practical exam, cohort A")
    trainee.locator("button.start-exam").click()
    expect(trainee).to_have_url(re.compile(r"/attempts/\d+$"))
    expect(trainee.locator('#connection[data-synced="true"]')).to_be_attached()
    expect(trainee.locator("#exam-note")).to_be_visible()
    expect(trainee.locator("#hint-button")).to_have_count(0)
    expect(row).to_contain_text("In progress")
    trainee.fill("#message-input", "Hello, do you take any other medication?")
    trainee.click("#send-button")
    expect(trainee.locator("#msg-2")).to_contain_text("amlodipine")
    expect(row.locator(".messages-count")).to_have_text("1")
    expect(row.locator(".time-left")).to_have_text(re.compile(r"^0:[01]\d$"))
    expect(absent).to_contain_text("Not started")
    proctor.locator("header.site-header").scroll_into_view_if_needed()
    screenshot(proctor, "monitor.png")
    auditor.audit_url(
        f"/proctor/exams/{exam_id}/monitor",
        "monitor",
        ready='#monitor-connection[data-synced="true"]',
    )

    # The server's clock ends the conversation; the page and the monitor both show it.
    expect(trainee.locator("#end-reason")).to_contain_text(
        "Time ran out", timeout=WAIT_MS + LIMIT_S * 1000
    )
    expect(row).to_contain_text("Finished")
    expect(row.locator(".practical")).to_have_text(re.compile(r"^\d+\.\d$"))
    practical = row.locator(".practical").inner_text()

    # Before the release the trainee sees no score; the feedback link leads to the results.
    trainee.click("#feedback-link")
    expect(trainee.locator("#not-released")).to_be_visible()
    assert practical not in trainee.locator("main").inner_text()

    # The proctor enters the written score and releases the results.
    proctor.goto(exam_url)
    proctor.fill(f"#results-table tr:has-text('{TRAINEE}') input[name=score]", "82")
    proctor.locator(f"#results-table tr:has-text('{TRAINEE}') button").first.click()
    expect(proctor.locator("#results-table")).to_contain_text(practical)
    # The release is confirmed on a page that lists what is still pending.
    proctor.click("#release-button")
    expect(proctor.locator("#release-pending")).to_be_visible()
    proctor.click("#confirm-release")
    expect(proctor.locator("#release-state")).to_contain_text("Shown to the candidates")

    trainee.reload()
    expect(trainee.locator("#practical")).to_have_text(practical)
    expect(trainee.locator("#written")).to_have_text("82.0")
    final = round(0.4 * 82 + 0.6 * float(practical), 1)
    expect(trainee.locator("#final")).to_have_text(f"{final:.1f}")
    expect(trainee.locator("#band")).not_to_have_text("–")
    expect(trainee.locator("#outcome")).to_have_text(re.compile("Passed|Failed"))
    page_text = trainee.locator("main").inner_text()
    assert "Asks about allergies" not in page_text  # no rubric content, even now
    auditor.context.add_cookies(trainee_context.cookies())  # type: ignore[arg-type]
    auditor.audit_url(f"/exams/{exam_id}/results", "results")

    # The report: pass rate, histograms, facility; a screenshot for the docs.
    proctor.click("#report-link")
    expect(proctor.locator("#pass-rate-value")).to_have_text(re.compile(r"^(0|100)\.0%$"))
    expect(proctor.locator("#facility-table")).to_be_visible()
    screenshot(proctor, "report.png")
    auditor.context.add_cookies(proctor_context.cookies())  # type: ignore[arg-type]
    auditor.audit_url(f"/proctor/exams/{exam_id}/report", "report")

    assert [p for w in watches for p in w.problems] == []
    assert auditor.serious() == [], auditor.summary()
    for context in (proctor_context, trainee_context, auditor.context):
        context.close()
