"""Script and markup payloads stay inert in a real browser (Debian's chromium, headless).

A pack in a temporary folder carries `<script>`, `<img onerror>` and attribute-breaking
markup in its title, brief, persona name and lines and rubric; the trainee says the same
payloads in the chat, the mentor writes them in comments and a case note, the exam's name
and the appeal's reason carry them. Every page each role can open is then loaded from a
real `sandbox serve`:

- with the page's Content-Security-Policy *bypassed*, so that only escaping stands between
  the payloads and the page: no dialog opens, no injected element exists, no payload's
  global is set;
- with the policy in force, as users get it: no dialog, and no policy violation reported
  (the pages need no inline script, so the policy can forbid it outright).

Nothing asserts how long anything took; waits are generous for a loaded 2-core machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from browser_support import BROWSER_MARKS, WAIT_MS, browser
from playwright.sync_api import Browser, BrowserContext, Page, expect
from security_support import (
    INJECTED_IDS,
    PAYLOAD_PACK,
    PAYLOAD_SCENARIO,
    PAYLOADS,
    World,
    build_world,
    endpoints,
    fill,
    write_payload_pack,
)
from server_support import Server, server_env
from web_support import PASSWORD, SHARED_PACKS, make_settings

from sandbox.web.app import create_app

CHAT_LINES = [f"hello {payload} any allergies?" for payload in PAYLOADS]
# Role -> whose pages the walk loads (the other roles' pages are walked in-process).
WALKED_ROLES = ("trainee", "mentor", "proctor", "admin")

__all__ = ["browser"]

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, World]]:
    """A database full of payloads (built in-process), then served by `sandbox serve`."""
    folder = tmp_path_factory.mktemp("xss")
    packs = os.pathsep.join([str(SHARED_PACKS), str(write_payload_pack(folder / "packs"))])
    app = create_app(make_settings(folder, packs=packs))
    world = build_world(app, pack=PAYLOAD_PACK, scenario=PAYLOAD_SCENARIO, lines=CHAT_LINES)
    world.close()
    app.state.sandbox.engine.dispose()
    server = Server(folder, server_env(folder, packs=packs))
    server.start()
    try:
        yield server, world
    finally:
        server.stop()


class Watch:
    """Dialogs that opened and CSP violations reported, on every page of a context."""

    def __init__(self, context: BrowserContext) -> None:
        self.dialogs: list[str] = []
        self.violations: list[str] = []
        context.on("page", self.attach)

    def attach(self, page: Page) -> None:
        def on_dialog(dialog: object) -> None:
            self.dialogs.append(f"{page.url}: {dialog.message}")  # type: ignore[attr-defined]
            dialog.dismiss()  # type: ignore[attr-defined]

        def on_console(message: object) -> None:
            text = message.text  # type: ignore[attr-defined]
            if "Content Security Policy" in text or "Content-Security-Policy" in text:
                self.violations.append(f"{page.url}: {text[:200]}")

        page.on("dialog", on_dialog)
        page.on("console", on_console)


def signed_in(
    browser: Browser, base_url: str, name: str, *, bypass_csp: bool
) -> tuple[BrowserContext, Page, Watch]:
    context = browser.new_context(base_url=base_url, bypass_csp=bypass_csp, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    watch = Watch(context)
    page = context.new_page()
    page.goto("/login")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    return context, page, watch


def injected(page: Page) -> list[str]:
    """Ids of payload elements that made it into the DOM as elements."""
    return [
        element_id for element_id in INJECTED_IDS if page.locator(f"[id='{element_id}']").count()
    ]


def walk_urls(world: World) -> list[str]:
    urls = []
    for endpoint in endpoints(world.app):
        if endpoint.method != "GET" or endpoint.path.startswith("/static"):
            continue
        if (
            endpoint.path.endswith((".csv", ".json", ".xlsx", "/download"))
            or endpoint.path == "/healthz"
        ):
            continue  # downloads and JSON: no document to run anything in
        urls.append(fill(endpoint.path, world.samples))
    return urls


def play_payloads(page: Page) -> None:
    """Start the payload scenario, ask for a hint (a criterion's coaching line), say every payload."""
    page.goto(f"/scenarios/{PAYLOAD_PACK}/{PAYLOAD_SCENARIO}")
    expect(page.locator("#brief-title")).to_contain_text("Title <script")
    page.click("#start-button")
    expect(page.locator('#connection[data-synced="true"]')).to_be_visible()
    page.click("#hint-button")  # before the lines below cover what it would list
    expect(page.locator("#hints")).to_contain_text("zqxdescription <script")
    for line in CHAT_LINES:
        page.fill("#message-input", line)
        page.click("#send-button")
        # The input is cleared only once the server has stored the message.
        expect(page.locator("#message-input")).to_have_value("")
        expect(page.locator("#messages .msg-trainee").last).to_contain_text(line)


def test_payloads_stay_text_when_only_escaping_protects(
    prepared: tuple[Server, World], browser: Browser
) -> None:
    server, world = prepared
    problems: list[str] = []
    urls = walk_urls(world)
    for role in WALKED_ROLES:
        context, page, watch = signed_in(browser, server.url, world.names[role], bypass_csp=True)
        try:
            if role == "mentor":
                # The trainee sits an exam on the payload scenario and may not practise it
                # (web/practice.py); the mentor may, and the chat page is the same.
                play_payloads(page)
                problems += [f"mentor chat: {i}" for i in injected(page)]
            for url in urls:
                page.goto(url)
                page.wait_for_load_state("load")
                problems += [f"{role} {url}: element #{i}" for i in injected(page)]
                if page.evaluate("() => window.__xss !== undefined"):
                    problems.append(f"{role} {url}: a payload ran")
            problems += watch.dialogs
        finally:
            context.close()
    assert problems == []


def test_payloads_stay_text_under_the_policy_and_no_page_needs_inline_code(
    prepared: tuple[Server, World], browser: Browser
) -> None:
    server, world = prepared
    watches: list[Watch] = []
    # The other trainee plays (the mentor's practice is still open from the test above).
    context, page, watch = signed_in(
        browser, server.url, world.names["other_trainee"], bypass_csp=False
    )
    watches.append(watch)
    try:
        play_payloads(page)
        # The payloads are on screen, as text.
        expect(page.locator("#messages")).to_contain_text("hello <script")
        expect(page.locator("#chat-title")).to_contain_text("<img")
        assert injected(page) == []
    finally:
        context.close()
    for role in WALKED_ROLES:
        context, page, watch = signed_in(browser, server.url, world.names[role], bypass_csp=False)
        watches.append(watch)
        try:
            for url in walk_urls(world):
                page.goto(url)
                page.wait_for_load_state("load")
                assert injected(page) == [], url
        finally:
            context.close()
    assert [dialog for watch in watches for dialog in watch.dialogs] == []
    assert [violation for watch in watches for violation in watch.violations] == []
