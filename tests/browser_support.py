"""The scaffolding every real-browser test shares: `sandbox serve` over a seeded database,
headless Chromium, a browser context and logging in.

Each tests/test_browser_*.py file seeds its own database, then serves it with `serving`
and drives it with the `browser` fixture (import it into the test module), `new_context`
and `log_in`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from server_support import Server

PACKS = Path(__file__).resolve().parents[1].parent / "shared" / "packs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 800}
WAIT_MS = 30_000  # the longest any single wait may take on a loaded machine
# Every browser test module: `pytestmark = BROWSER_MARKS`.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@contextlib.contextmanager
def serving(folder: Path, database_url: str, var_dir: Path | str, **settings: str) -> Iterator[str]:
    """`sandbox serve` on a free local port over `database_url` with the shared packs;
    yields its address and stops it afterwards. The environment's SANDBOX_* are dropped;
    `settings` adds SANDBOX_<NAME> (say `reply_delay_s="0"`). A port taken before the
    server binds it is retried; the log is folder/server.log."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SANDBOX_")}
    env.update(
        {
            "SANDBOX_ENV": "development",
            "SANDBOX_DATABASE_URL": database_url,
            "SANDBOX_VAR_DIR": str(var_dir),
            "SANDBOX_PACKS": str(PACKS),
            "SANDBOX_BUILTIN_PACKS": "false",
            "SANDBOX_DEMO_USERS": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"SANDBOX_{key.upper()}": value for key, value in settings.items()})
    server = Server(folder, env)
    try:
        url = server.start()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_context(
    browser: Browser,
    base_url: str,
    *,
    bypass_csp: bool = False,
    viewport: dict[str, int] = DESKTOP,
    locale: str = "en-GB",
) -> BrowserContext:
    context = browser.new_context(
        base_url=base_url,
        bypass_csp=bypass_csp,
        viewport=viewport,  # type: ignore[arg-type]
        locale=locale,
        reduced_motion="reduce",
    )
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    return context


def log_in(page: Page, name: str, password: str = PASSWORD, *, ready: str | None = "#main") -> None:
    """Log in through the form; then wait until `ready` shows (or, if None, until the
    browser has left /login)."""
    page.goto("/login")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-submit")
    if ready is None:
        page.wait_for_url(lambda url: "/login" not in url)
    else:
        expect(page.locator(ready)).to_be_visible()
