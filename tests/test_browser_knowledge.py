"""A trainee searches the knowledge base from the practice chat in real headless Chromium,
against a real `sandbox serve` (on a phone-sized window), reads an article in the panel
without leaving the conversation, and their mentor sees the search. The knowledge page
and the chat with its panel open are audited with axe-core; a serious or critical
violation fails. Screenshots for the docs go to docs/screenshots/ with SANDBOX_SCREENSHOTS=1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_support import (
    BROWSER_MARKS,
    DESKTOP,
    PASSWORD,
    browser,
    new_context,
    serving,
)
from browser_support import log_in as log_in_as
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session
from test_browser_trainee import PACK, PHONE, SCENARIO, SYNCED, Auditor, PageWatch, screenshot

from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Role
from sandbox.storage.users import create_user

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

TRAINEE, MENTOR = "lin", "moss"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sandbox serve` with the bundled knowledge base, a trainee and their mentor."""
    folder = tmp_path_factory.mktemp("browser-knowledge")
    database_url = f"sqlite:///{folder / 'sandbox.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:
        mentor = create_user(session=session, name=MENTOR, role=Role.MENTOR, password=PASSWORD)
        create_user(
            session=session, name=TRAINEE, role=Role.TRAINEE, password=PASSWORD, mentor=mentor
        )
        session.commit()
    engine.dispose()
    with serving(folder, database_url, folder / "var", reply_delay_s="0") as url:
        yield url


def log_in(page: Page, name: str) -> None:
    log_in_as(page, name, ready="#logout-button")


def test_a_trainee_searches_the_knowledge_base_from_the_chat(browser: Browser, server: str) -> None:
    context = new_context(browser, server, viewport=PHONE)  # the app's own CSP applies
    auditor = Auditor(new_context(browser, server, bypass_csp=True, viewport=PHONE))
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, TRAINEE)
    assert auditor.context is not None
    auditor.context.add_cookies(context.cookies())  # type: ignore[arg-type]

    page.goto(f"/scenarios/{PACK}/{SCENARIO}")
    page.click("#start-button")
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    chat_url = page.url
    expect(page.locator(SYNCED)).to_contain_text("Connected")

    # The panel is folded on the phone; open it and search.
    panel = page.locator("#knowledge-panel")
    expect(panel).to_be_visible()
    page.click("#knowledge-panel summary")
    page.fill("#knowledge-panel-q", "decongestant blood pressure")
    page.click("#knowledge-panel-search")
    first = page.locator("#knowledge-results .knowledge-hit").first
    expect(first.locator(".hit-title")).to_have_text(
        "Decongestants: pseudoephedrine and phenylephrine"
    )
    expect(first.locator("mark").first).to_be_visible()
    screenshot(page, "knowledge-chat.png")

    # An article opens inside the panel: the conversation stays where it was, connected.
    first.locator(".hit-title").click()
    expect(page.locator("#panel-article h3")).to_have_text(
        "Decongestants: pseudoephedrine and phenylephrine"
    )
    expect(page.locator("#panel-article")).to_contain_text("High blood pressure")
    assert page.url == chat_url
    expect(page.locator(SYNCED)).to_contain_text("Connected")
    auditor.audit_url(chat_url, "chat with the knowledge panel", ready="#knowledge-panel")
    # On a wide screen the panel stands beside the conversation.
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    messages, side = page.locator("#messages").bounding_box(), panel.bounding_box()
    assert messages is not None and side is not None
    assert side["x"] >= messages["x"] + messages["width"]
    screenshot(page, "knowledge-chat-desktop.png")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]

    # Chinese words find the Chinese articles, on the knowledge page too.
    page.fill("#knowledge-panel-q", "华法林 布洛芬")
    page.click("#knowledge-panel-search")
    expect(page.locator("#knowledge-results mark").first).to_have_text(re.compile("华法林|布洛芬"))
    page.goto("/knowledge?q=cold+chain&locale=en")
    expect(page.locator(".knowledge-hit .hit-title").first).to_have_text("Cold-chain delivery")
    auditor.audit_url("/knowledge?q=cold+chain", "knowledge page", ready=".knowledge-hit")
    auditor.audit_url("/knowledge/articles/en/warfarin", "article", ready="#knowledge-article")
    assert auditor.serious() == [], auditor.summary()
    assert watch.problems == []

    # The mentor sees what the trainee looked up, and in which conversation.
    mentor_context = new_context(browser, server)
    mentor = mentor_context.new_page()
    log_in(mentor, MENTOR)
    mentor.goto("/mentor/searches")
    rows = mentor.locator("#searches-table tbody tr")
    expect(rows.filter(has_text="decongestant blood pressure")).to_have_count(1)
    expect(rows.filter(has_text="华法林 布洛芬").locator("a")).to_have_text(SCENARIO)
    screenshot(mentor, "knowledge-searches.png")
    for each in (context, auditor.context, mentor_context):
        each.close()
