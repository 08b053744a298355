"""A trainee's whole path in real headless Chromium, against a real `sandbox serve`.

Log in, filter the catalogue, read a brief, play `pharmacy-basics/cold-remedy-hypertension`
with its pack's own `model answer` lines (reloading the page half way), read the score on the
feedback page, see it in the history. Every page is audited with axe-core in English and in
Chinese; a serious or critical violation fails. A second path uses the keyboard alone.

The pages are driven in a browser context that keeps the app's Content-Security-Policy, so
the chat is tested as trainees get it; axe needs to evaluate scripts, so the English audit
runs in a second context (same session cookie) made with `bypass_csp=True`.

Waits are generous (a loaded 2-core CI machine); nothing asserts how long anything took.
Screenshots for the docs go to docs/screenshots/ when SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    BROWSER_MARKS,
    DESKTOP,
    PACKS,
    PASSWORD,
    browser,
    new_context,
    serving,
)
from browser_support import log_in as log_in_as
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session

from sandbox.scenarios.loader import load_pack
from sandbox.scenarios.models import Example, Scenario
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Role
from sandbox.storage.users import create_user

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "sandbox" / "web" / "static" / "vendor" / "axe.min.js"
# The committed screenshots are refreshed on request (SANDBOX_SCREENSHOTS=1); otherwise a
# run still takes them, into a temporary folder, so the tree stays clean.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("SANDBOX_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "sandbox-screenshots"
)

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"
ZH_PACK = "aesthetics-consult-zh"
ZH_SCENARIO = "botox-breastfeeding"
# One trainee per test, so that each test starts from an empty history.
PLAYER, KEYBOARD_USER, ZH_USER = "ada", "kim", "mei"

PHONE = {"width": 390, "height": 844}
SYNCED = '#connection[data-synced="true"]'

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

# Runs in the page (in a context that bypasses the CSP): every violation, briefly.
AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " +
        (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 240)),
  }));
}"""


# --- the server ---------------------------------------------------------------------------


def create_trainees(database_url: str, names: tuple[str, ...]) -> None:
    """Migrate the database and add the trainees through the storage API."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            for name in names:
                create_user(session=session, name=name, role=Role.TRAINEE, password=PASSWORD)
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sandbox serve` on a free local port: temp SQLite, the shared packs, no reply delay."""
    folder = tmp_path_factory.mktemp("browser")
    database_url = f"sqlite:///{folder / 'sandbox.db'}"
    create_trainees(database_url, (PLAYER, KEYBOARD_USER, ZH_USER))
    with serving(folder, database_url, folder / "var", reply_delay_s="0") as url:
        yield url


# --- the browser --------------------------------------------------------------------------


class PageWatch:
    """Uncaught script errors and CSP refusals on a page: there should be none."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")


class Auditor:
    """Runs axe-core on pages and keeps what it found, per page."""

    def __init__(self, context: BrowserContext | None = None) -> None:
        self.context = context  # bypasses the CSP; used for pages opened by URL
        self.found: dict[str, list[dict[str, Any]]] = {}

    def audit(self, page: Page, label: str) -> None:
        """Audit the page as it stands; its context must bypass the CSP."""
        expect(page.locator("main#main")).to_be_attached()
        page.add_script_tag(path=str(AXE))
        self.found[label] = page.evaluate(AXE_RUN)

    def audit_url(self, url: str, label: str, ready: str | None = None) -> None:
        """Open `url` in the audit context, wait for `ready`, audit, close it again."""
        assert self.context is not None
        page = self.context.new_page()
        try:
            page.goto(url)
            if ready:
                expect(page.locator(ready).first).to_be_attached()
            self.audit(page, label)
        finally:
            page.close()

    def serious(self) -> list[str]:
        return [
            f"{label}: [{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
            for label, violations in self.found.items()
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]

    def summary(self) -> str:
        lines = []
        for label, violations in self.found.items():
            listed = ", ".join(f"{v['id']} ({v['impact']})" for v in violations) or "none"
            lines.append(f"{label}: {listed}")
        return "\n".join(lines)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), animations="disabled", caret="hide")


# --- the trainee's actions ----------------------------------------------------------------


def log_in(page: Page, name: str) -> None:
    log_in_as(page, name, ready="#scenario-list")


def model_answer() -> tuple[Scenario, Example]:
    pack = load_pack(PACKS / f"{PACK}.yaml")
    scenario = pack.scenario(SCENARIO)
    example = next(e for e in scenario.examples if e.name == "model answer")
    return scenario, example


def message_count(page: Page) -> int:
    return page.locator("#messages [data-seq]").count()


def say(page: Page, text: str, *, press_enter: bool = False, ends: bool = False) -> list[str]:
    """Send one line; wait for it to be stored and answered; return the persona's replies.

    `ends`: the line ends the conversation, so the input gives way to the feedback link.
    """
    seq = message_count(page)
    box = page.locator("#message-input")
    box.fill(text)
    if press_enter:
        box.press("Enter")
    else:
        page.click("#send-button")
    expect(page.locator(f"#msg-{seq} .msg-text")).to_have_text(text)
    expect(page.locator(f"#msg-{seq}")).to_have_class(re.compile(r"\bmsg-trainee\b"))
    # A turn's persona replies arrive in one frame, after the trainee's line and its ack.
    expect(page.locator(f"#msg-{seq + 1}")).to_have_class(re.compile(r"\bmsg-persona\b"))
    if ends:
        expect(page.locator("#feedback-link")).to_be_visible()
    else:
        expect(box).to_have_value("")
    replies = page.locator("#messages .msg-persona")
    return [
        replies.nth(i).locator(".msg-text").inner_text()
        for i in range(replies.count())
        if int(replies.nth(i).get_attribute("data-seq") or -1) > seq
    ]


def transcript(page: Page, box: str = "#messages") -> list[tuple[int, str, str]]:
    """(seq, role, text) of every message shown, in page order."""
    rows = []
    items = page.locator(f"{box} article.msg")
    for i in range(items.count()):
        item = items.nth(i)
        classes = item.get_attribute("class") or ""
        role = "trainee" if "msg-trainee" in classes.split() else "persona"
        seq = int(item.get_attribute("data-seq") or -1)
        rows.append((seq, role, item.locator(".msg-text").inner_text()))
    return rows


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus."""
    target = page.locator(f"{selector}:focus")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.count() == 1:
            return
    pytest.fail(f"{selector} never got the focus in {limit} presses of Tab")


def cards(page: Page) -> list[str]:
    items = page.locator("#scenario-list li.card")
    return [items.nth(i).get_attribute("id") or "" for i in range(items.count())]


# --- the tests ----------------------------------------------------------------------------


def test_trainee_plays_to_a_pass_across_a_reload(browser: Browser, server: str) -> None:
    scenario, example = model_answer()
    lines = [line.text for line in example.trainee]
    assert example.expect.persona_says and example.expect.met
    context = new_context(browser, server)  # the app's own CSP applies here
    auditor = Auditor(new_context(browser, server, bypass_csp=True))
    page = context.new_page()
    watch = PageWatch(page)

    auditor.audit_url("/login", "login")
    log_in(page, PLAYER)
    assert auditor.context is not None
    auditor.context.add_cookies(context.cookies())  # type: ignore[arg-type]

    # The catalogue: both shared packs, then filtered to English and to medium.
    card = page.locator(f"#scenario-{PACK}--{SCENARIO}")
    zh_card = page.locator(f"#scenario-{ZH_PACK}--{ZH_SCENARIO}")
    expect(card).to_be_visible()
    expect(zh_card).to_be_visible()
    page.select_option("#filter-language", "en")
    expect(zh_card).to_have_count(0)
    expect(page).to_have_url(re.compile(r"language=en"))
    assert cards(page) and all(c.startswith(f"scenario-{PACK}--") for c in cards(page))
    expect(card).to_contain_text("Not tried yet")
    screenshot(page, "catalogue.png")
    page.select_option("#filter-difficulty", "medium")
    expect(page).to_have_url(re.compile(r"difficulty=medium"))
    expect(page.locator("#scenario-list .difficulty-hard")).to_have_count(0)
    expect(card).to_be_visible()
    auditor.audit_url(page.url, "catalogue", ready=f"#scenario-{PACK}--{SCENARIO}")

    # The brief, then the chat on a phone-sized window.
    card.get_by_role("link").click()
    expect(page.locator("#brief-title")).to_have_text(scenario.title)
    auditor.audit_url(page.url, "brief")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.click("#start-button")
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    expect(page.locator(SYNCED)).to_contain_text("Connected")
    expect(page.locator("#msg-0 .msg-text")).to_have_text(scenario.opening)

    half = len(lines) // 2
    replies: list[str] = []
    for line in lines[:half]:
        replies += say(page, line)
    before = transcript(page)
    assert len(before) == 1 + half + len(replies)

    # A reload in the middle: the same conversation, each message once, then it goes on.
    page.reload()
    expect(page.locator(SYNCED)).to_contain_text("Connected")
    assert transcript(page) == before
    auditor.audit_url(page.url, "chat", ready=SYNCED)

    replies += say(page, lines[half], press_enter=True)
    page.locator("header.site-header").scroll_into_view_if_needed()
    screenshot(page, "chat.png")
    for number, line in enumerate(lines[half + 1 :], start=half + 2):
        replies += say(page, line, ends=number == len(lines))
    feedback_link = page.locator("#feedback-link")
    expect(feedback_link).to_be_visible()
    expect(page.locator("#end-reason")).to_contain_text("The customer ended the conversation")

    final = transcript(page)
    assert final[: len(before)] == before
    assert [seq for seq, _, _ in final] == list(range(len(final)))
    assert [text for _, role, text in final if role == "trainee"] == lines
    persona_texts = [text for _, role, text in final if role == "persona"]
    assert persona_texts == [scenario.opening, *replies]
    for phrase in example.expect.persona_says:
        assert any(phrase in text for text in persona_texts), phrase

    # Feedback on a desktop window: 100, passed, every criterion the pack expects met.
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    feedback_link.click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+/feedback$"))
    expect(page.locator("#score")).to_have_text("100.0")
    expect(page.locator("#passed")).to_have_text("Passed")
    expect(page.locator("#summary")).to_have_class(re.compile(r"\bpassed\b"))
    for criterion in example.expect.met:
        expect(page.locator(f"#criterion-{criterion}")).to_have_class(re.compile(r"\bstatus-met\b"))
    expect(page.locator("#criteria .status-violated, #criteria .status-missed")).to_have_count(0)
    assert [text for _, _, text in transcript(page, "#transcript")] == [t for _, _, t in final]
    screenshot(page, "feedback.png")
    auditor.audit_url(page.url, "feedback")

    # History and catalogue know the result.
    page.click("#nav-history")
    row = page.locator(f"#history-{PACK}--{SCENARIO}")
    expect(row).to_contain_text("100.0")
    expect(page.locator("#progress-charts svg").first).to_be_visible()
    auditor.audit_url(page.url, "history", ready="#history-table")
    page.click("#nav-catalogue")
    expect(card).to_contain_text("100.0")

    print("\naxe, English:\n" + auditor.summary())
    assert watch.problems == []
    serious = auditor.serious()
    assert not serious, "axe found serious or critical violations:\n" + "\n".join(serious)
    context.close()
    auditor.context.close()


def test_every_page_passes_the_audit_in_chinese(browser: Browser, server: str) -> None:
    context = new_context(browser, server, bypass_csp=True)
    auditor = Auditor()
    page = context.new_page()
    page.goto("/login")
    page.select_option("#language-select", "zh-CN")
    page.click("#language-form button[type=submit]")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#login-submit")).to_have_text("登录")
    auditor.audit(page, "login zh-CN")

    page.fill("#login-name", ZH_USER)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#scenario-list")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.select_option("#filter-language", "zh-CN")
    expect(page.locator(f"#scenario-{PACK}--{SCENARIO}")).to_have_count(0)
    auditor.audit(page, "catalogue zh-CN")

    page.locator(f"#scenario-{ZH_PACK}--{ZH_SCENARIO}").get_by_role("link").click()
    expect(page.locator("#start-button")).to_be_visible()
    auditor.audit(page, "brief zh-CN")
    page.click("#start-button")
    expect(page.locator(SYNCED)).to_contain_text("已连接")
    expect(page.locator("#msg-0")).to_have_class(re.compile(r"\bmsg-persona\b"))
    say(page, "您好，欢迎咨询！请问您最近身体状况怎么样？")
    auditor.audit(page, "chat zh-CN")
    say(page, "好的，祝您生活愉快，再见。", ends=True)
    page.click("#feedback-link")
    expect(page.locator("#score")).to_be_visible()
    auditor.audit(page, "feedback zh-CN")
    page.click("#nav-history")
    expect(page.locator(f"#history-{ZH_PACK}--{ZH_SCENARIO}")).to_be_visible()
    auditor.audit(page, "history zh-CN")

    print("\naxe, zh-CN:\n" + auditor.summary())
    serious = auditor.serious()
    assert not serious, "axe found serious or critical violations:\n" + "\n".join(serious)
    context.close()


def test_keyboard_alone_logs_in_and_chats(browser: Browser, server: str) -> None:
    context = new_context(browser, server)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto("/login")

    # The first Tab reaches the skip link; it leads into the main content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    tab_to(page, "#login-name")
    page.keyboard.type(KEYBOARD_USER)
    page.keyboard.press("Tab")
    expect(page.locator("#login-password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#scenario-list")).to_be_visible()

    tab_to(page, f'#scenario-{PACK}--{SCENARIO} a[href="/scenarios/{PACK}/{SCENARIO}"]')
    page.keyboard.press("Enter")
    expect(page.locator("#start-button")).to_be_visible()
    tab_to(page, "#start-button")
    page.keyboard.press("Enter")
    expect(page.locator(SYNCED)).to_contain_text("Connected")

    tab_to(page, "#message-input")
    line = "Hello, thanks for contacting us. Are you taking any other medication?"
    page.keyboard.type(line)
    page.keyboard.press("Enter")
    expect(page.locator("#msg-1 .msg-text")).to_have_text(line)
    # Persona messages land in the live region screen readers announce.
    live = page.locator("#messages")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_have_attribute("role", "log")
    reply = page.locator('[aria-live="polite"] > #msg-2')
    expect(reply).to_have_class(re.compile(r"\bmsg-persona\b"))
    expect(reply).to_contain_text("amlodipine")
    expect(page.locator("#message-input")).to_have_value("")
    expect(page.locator("#message-input")).to_be_focused()

    # Finish by keyboard too: it asks to confirm, then offers the feedback.
    page.once("dialog", lambda dialog: dialog.accept())
    tab_to(page, "#finish-button")
    page.keyboard.press("Enter")
    expect(page.locator("#feedback-link")).to_be_visible()
    tab_to(page, "#feedback-link")
    page.keyboard.press("Enter")
    expect(page.locator("#score")).to_be_visible()
    expect(page.locator("#end-reason")).to_have_text("You finished the conversation.")

    assert watch.problems == []
    context.close()
