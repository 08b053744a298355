"""The polished pages in real headless Chromium against a real `sandbox serve`, at 1280 px and
at phone size, in English and Chinese, each audited with axe-core: the catalogue search, the
brief's skills, the message box's count, the per-scenario progress charts (the attempt under
the pointer), the phone menu, the history as cards on a phone, the proctor's candidates table
within 1280 px, Chinese buttons on one line, the regrade selects, the report, and the exam
clock ending at 0:00. Screenshots go to docs/screenshots/ (SANDBOX_SCREENSHOTS=1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from browser_support import (
    BROWSER_MARKS,
    DESKTOP,
    PASSWORD,
    WAIT_MS,
    browser,
    new_context,
    serving,
)
from browser_support import log_in as log_in_as
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select
from test_browser_trainee import PHONE, Auditor, PageWatch, screenshot

from sandbox.exams.policy import ExamRules
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.exams import create_exam
from sandbox.storage.models import Attempt, Role, utcnow
from sandbox.storage.users import create_user
from sandbox.storage.verdicts import write_verdicts

PROCTOR, MENTOR, TRAINEE = "pat", "mo", "tao"
OTHERS = [f"candidate-{n:02d}-with-a-long-name" for n in range(1, 7)]
COLD = ("pharmacy-basics", "cold-remedy-hypertension")
INSULIN = ("pharmacy-basics", "late-insulin-delivery")
CRITERIA = [
    {"id": "greeting", "kind": "etiquette", "status": "met", "description": "Greets"},
    {"id": "ask-allergies", "kind": "inquiry", "status": "missed", "description": "Allergies"},
    {"id": "no-cure-promise", "kind": "forbidden", "status": "clear", "description": "Cure"},
]

__all__ = ["browser"]

pytestmark = BROWSER_MARKS


def _attempt(
    user_id: int, scenario: tuple[str, str], started: datetime, score: float, **more: Any
) -> Attempt:
    return Attempt(
        user_id=user_id,
        pack_id=scenario[0],
        pack_version=1,
        scenario_id=scenario[1],
        time_limit_s=600,
        started_at=started,
        ended_at=started + timedelta(minutes=4),
        end_reason="finished",
        score=score,
        band="good" if score >= 70 else "fail",
        passed=score >= 70,
        graded_at=started + timedelta(minutes=4),
        grade={"score": score, "criteria": CRITERIA},
        **more,
    )


def _seed(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            ids: dict[str, int] = {}
            for name, role in [
                (PROCTOR, Role.PROCTOR),
                (MENTOR, Role.MENTOR),
                (TRAINEE, Role.TRAINEE),
                *[(other, Role.TRAINEE) for other in OTHERS],
            ]:
                user = create_user(session=session, name=name, role=role, password=PASSWORD)
                session.flush()
                assert user.id is not None
                ids[name] = user.id
            now = utcnow()
            # Practice: three tries at the cold remedy over a week, two at the insulin delivery.
            for days, score in ((9, 45.0), (5, 68.0), (1, 88.5)):
                session.add(_attempt(ids[TRAINEE], COLD, now - timedelta(days=days), score))
            for days, score in ((4, 72.0), (2, 64.0)):
                session.add(_attempt(ids[TRAINEE], INSULIN, now - timedelta(days=days), score))
            exam = create_exam(
                session=session,
                name="Pharmacy practical, cohort 2026-A",
                time_limit_s=600,
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=1),
                rules=ExamRules(),
                scenarios=[COLD, INSULIN],
                candidate_ids=[ids[name] for name in OTHERS],
                cohort="2026-A",
                created_by=ids[PROCTOR],
            )
            session.flush()
            assert exam.id is not None
            ids["exam"] = exam.id
            for n, name in enumerate(OTHERS):
                for scenario in (COLD, INSULIN):
                    session.add(
                        _attempt(
                            ids[name],
                            scenario,
                            now - timedelta(hours=3),
                            38.0 + n * 11,
                            mode="exam",
                            exam_id=exam.id,
                        )
                    )
            short = create_exam(
                session=session,
                name="Quick",
                time_limit_s=4,
                opens_at=now - timedelta(minutes=1),
                closes_at=now + timedelta(hours=1),
                rules=ExamRules(),
                scenarios=[COLD],
                candidate_ids=[ids[TRAINEE]],
                cohort=None,
                created_by=ids[PROCTOR],
            )
            session.flush()
            assert short.id is not None
            ids["short"] = short.id
            for attempt in session.exec(select(Attempt)):  # as storage writes each grade
                assert attempt.id is not None
                write_verdicts(session, attempt.id, attempt.grade)
            session.commit()
            return ids
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    folder = tmp_path_factory.mktemp("polish-browser")
    database_url = f"sqlite:///{folder / 'sandbox.db'}"
    ids = _seed(database_url)
    with serving(
        folder, database_url, folder / "var", reply_delay_s="0", message_max_chars="40"
    ) as url:
        yield url, ids


def log_in(page: Page, name: str) -> None:
    log_in_as(page, name, ready=None)


WIDE = """() => {
  const limit = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= limit) return [];
  return [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > limit + 1 && !el.closest(".table-wrap *"))
    .slice(0, 8)
    .map((el) => el.tagName + (el.id ? "#" + el.id : "") + "." + el.className + " " +
      Math.round(el.getBoundingClientRect().right));
}"""


def page_overflows(page: Page) -> list[str]:
    """What makes the page itself scroll sideways (a table may scroll inside its box)."""
    found: list[str] = page.evaluate(WIDE)
    return found


# Each visible button whose label has no space: its text must stand on one line.
BROKEN_BUTTONS = """() => {
  const broken = [];
  for (const el of document.querySelectorAll("button, a.button")) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(el);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (tops.size > 1 && !/\\s/.test(el.textContent.trim())) broken.push(el.textContent.trim());
  }
  return broken;
}"""

# Each select's widest option against the select's own width (its text box, less the arrow).
CUT_SELECTS = """() => {
  const canvas = document.createElement("canvas").getContext("2d");
  const cut = [];
  for (const select of document.querySelectorAll("select")) {
    if (!select.offsetParent) continue;
    const style = getComputedStyle(select);
    canvas.font = style.font;
    const widest = Math.max(...[...select.options].map((o) => canvas.measureText(o.text).width));
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
    if (widest > room) cut.push(select.id + ": " + Math.round(widest) + " > " + Math.round(room));
  }
  return cut;
}"""


@pytest.mark.parametrize(("locale", "suffix"), [("en-GB", ""), ("zh-CN", "-zh")])
def test_the_trainee_pages_at_1280_and_on_a_phone(
    browser: Browser, served: tuple[str, dict[str, int]], locale: str, suffix: str
) -> None:
    url, _ = served
    for size, tag in ((DESKTOP, "1280"), (PHONE, "phone")):
        context = new_context(browser, url, bypass_csp=True, viewport=size, locale=locale)
        page = context.new_page()
        watch = PageWatch(page)
        auditor = Auditor()
        log_in(page, TRAINEE)
        if locale == "zh-CN":
            page.select_option("#language-select", "zh-CN")
            page.locator("#language-form button").click()
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        # The catalogue: typing in the search narrows the list as one types (htmx).
        page.goto("/")
        cards = page.locator("#scenario-list .card")
        expect(cards.first).to_be_visible()
        page.fill("#filter-q", "insulin")
        expect(cards).to_have_count(1)
        expect(page.locator("#scenario-pharmacy-basics--late-insulin-delivery")).to_be_visible()
        assert "q=insulin" in page.url
        wide = page_overflows(page)
        assert wide == [], "\n".join(wide)
        auditor.audit(page, f"catalogue {tag}")
        screenshot(page, f"catalogue-search-{tag}{suffix}.png")
        # The brief says what is practised.
        page.goto("/scenarios/pharmacy-basics/cold-remedy-hypertension")
        expect(page.locator("#practised li")).to_have_count(5)
        auditor.audit(page, f"brief {tag}")
        screenshot(page, f"brief-{tag}{suffix}.png")
        # The history: a chart per scenario, dates, legend, the attempt under the pointer.
        page.goto("/history")
        charts = page.locator(".progress-chart")
        expect(charts).to_have_count(2)
        expect(page.locator("#chart-legend li")).to_have_count(3)
        first = charts.first
        expect(first.locator("text.date")).to_have_count(2)
        point = first.locator("a.point-link").last
        point.hover()
        readout = first.locator(".chart-readout")
        expect(readout).to_contain_text("88.5")
        expect(readout).to_contain_text("UTC")
        wide = page_overflows(page)
        assert wide == [], "\n".join(wide)
        if size is PHONE:
            # The table becomes one card per scenario, each value with its label.
            row = page.locator("#history-table tbody tr").first
            box = row.bounding_box()
            assert box is not None and box["width"] <= PHONE["width"]
            assert page.locator("#history-table thead").bounding_box()["height"] <= 2  # type: ignore[index]
            label = row.locator("td").first.evaluate(
                "td => getComputedStyle(td, '::before').content"
            )
            assert label.strip('"') in ("Best", "最好成绩", "最佳") or len(label) > 2
            # The phone menu: links folded behind "Menu" until it is opened.
            toggle = page.locator("#nav-toggle")
            expect(toggle).to_be_visible()
            expect(page.locator("#nav-history")).to_be_hidden()
            toggle.click()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            expect(page.locator("#nav-history")).to_be_visible()
            auditor.audit(page, f"menu open {tag}")
            screenshot(page, f"menu-{tag}{suffix}.png")
            page.keyboard.press("Escape")
            expect(page.locator("#nav-history")).to_be_hidden()
        else:
            expect(page.locator("#nav-toggle")).to_be_hidden()
            expect(page.locator("#nav-history")).to_be_visible()
        auditor.audit(page, f"history {tag}")
        screenshot(page, f"history-{tag}{suffix}.png")
        # The chat: the count follows the typing and warns past the limit (40 here).
        page.goto("/scenarios/pharmacy-basics/late-insulin-delivery")
        page.click("#start-button")
        expect(page.locator('#connection[data-synced="true"]')).to_be_attached()
        count = page.locator("#message-count")
        page.fill("#message-input", "Hello")
        expect(count).to_contain_text("5")
        page.fill("#message-input", "x" * 45)
        expect(count).to_have_class("char-count over")
        expect(count).to_contain_text("5")  # 5 over the limit
        assert count.get_attribute("aria-live") == "polite"
        page.fill("#message-input", "您好" * 3)
        expect(count).to_contain_text("6")
        auditor.audit(page, f"chat {tag}")
        screenshot(page, f"chat-count-{tag}{suffix}.png")
        assert page.evaluate(BROKEN_BUTTONS) == []
        assert watch.problems == []
        serious = auditor.serious()
        assert not serious, "axe:\n" + "\n".join(serious)
        context.close()


@pytest.mark.parametrize(("locale", "suffix"), [("en-GB", ""), ("zh-CN", "-zh")])
def test_the_proctor_and_mentor_pages_fit(
    browser: Browser, served: tuple[str, dict[str, int]], locale: str, suffix: str
) -> None:
    url, ids = served
    for size, tag in ((DESKTOP, "1280"), (PHONE, "phone")):
        context = new_context(browser, url, bypass_csp=True, viewport=size, locale=locale)
        page = context.new_page()
        watch = PageWatch(page)
        auditor = Auditor()
        log_in(page, PROCTOR)
        if locale == "zh-CN":
            page.select_option("#language-select", "zh-CN")
            page.locator("#language-form button").click()
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.goto(f"/proctor/exams/{ids['exam']}")
        table = page.locator("#results-table")
        expect(table).to_be_visible()
        wide = page_overflows(page)
        assert wide == [], "\n".join(wide)
        if size is DESKTOP:
            # The whole table fits at 1280 px, with its headers wrapped.
            wrap = page.locator("#results-table").locator("xpath=..")
            fits = wrap.evaluate("w => w.scrollWidth <= w.clientWidth")
            assert fits, "the candidates table scrolls at 1280 px"
        assert page.evaluate(BROKEN_BUTTONS) == []
        auditor.audit(page, f"proctor exam {tag}")
        screenshot(page, f"proctor-candidates-{tag}{suffix}.png")
        page.goto(f"/proctor/exams/{ids['exam']}/report")
        expect(page.locator("#facility-table .kept-clear").first).to_be_visible()
        wide = page_overflows(page)
        assert wide == [], "\n".join(wide)
        # Histogram axis labels are at least 10 px tall as drawn.
        heights = page.locator("#final-histogram svg text").evaluate_all(
            "els => els.map((e) => e.getBoundingClientRect().height)"
        )
        assert heights and min(heights) >= 10, heights
        auditor.audit(page, f"report {tag}")
        screenshot(page, f"report-{tag}{suffix}.png")
        assert watch.problems == []
        serious = auditor.serious()
        assert not serious, "axe:\n" + "\n".join(serious)
        context.close()
    # The mentor's regrade choices are not cut off.
    for size, tag in ((DESKTOP, "1280"), (PHONE, "phone")):
        context = new_context(browser, url, bypass_csp=True, viewport=size, locale=locale)
        page = context.new_page()
        auditor = Auditor()
        log_in(page, MENTOR)
        page.goto("/mentor/regrade")
        expect(page.locator("#regrade-pack")).to_be_visible()
        if size is DESKTOP:  # a phone shows the whole text in its own picker
            assert page.evaluate(CUT_SELECTS) == []
        wide = page_overflows(page)
        assert wide == [], "\n".join(wide)
        auditor.audit(page, f"regrade {tag}")
        screenshot(page, f"regrade-{tag}{suffix}.png")
        serious = auditor.serious()
        assert not serious, "axe:\n" + "\n".join(serious)
        context.close()


def test_the_exam_clock_ends_at_zero(browser: Browser, served: tuple[str, dict[str, int]]) -> None:
    url, ids = served
    context = new_context(browser, url)
    page = context.new_page()
    log_in(page, TRAINEE)
    page.goto(f"/exams/{ids['short']}")
    page.locator("button.start-exam").first.click()
    expect(page.locator('#connection[data-synced="true"]')).to_be_attached()
    ended = page.locator("#chat-controls[data-ended]")
    expect(ended).to_have_attribute("data-ended", "timeout", timeout=WAIT_MS)
    expect(page.locator("#clock")).to_have_text("0:00")
    link = page.locator("#feedback-link")
    expect(link).to_have_attribute("href", f"/exams/{ids['short']}/results")
    expect(link).to_have_text(re.compile("^(Your results|你的成绩)$"))  # tao's language is kept
    context.close()
