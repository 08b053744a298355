"""The admin area in a real browser, against `sandbox serve`: an admin finds a trainee,
gives them a mentor, resets a password, deactivates an account, creates a user, imports a
GBK CSV with semicolons from Chinese Excel, makes a cohort and reads the pack health page.
Every admin page is audited with axe-core in English and Chinese.

Policy: any script error or CSP refusal fails the test. Screenshots of the users page at
1280 px and phone size go to docs/screenshots/ when SANDBOX_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

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
from fastapi import FastAPI
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select
from test_browser_trainee import PHONE, Auditor, PageWatch, screenshot
from web_support import add_user, make_settings

from sandbox.storage.models import Role, User
from sandbox.web.app import create_app

__all__ = ["browser"]

pytestmark = BROWSER_MARKS


@contextlib.contextmanager
def serve(folder: Path, seed: Callable[[FastAPI], None]) -> Iterator[tuple[str, str]]:
    """`sandbox serve` on a free port over a new database that `seed` fills first; yields
    the server's address and the database's URL."""
    settings = make_settings(folder, packs=str(PACKS))
    app = create_app(settings)
    seed(app)
    app.state.sandbox.engine.dispose()
    with serving(folder, settings.database_url, settings.var_dir) as url:
        yield url, settings.database_url


def seed_people(app: FastAPI) -> None:
    """An admin, a mentor and three trainees without a mentor."""
    add_user(app, "boss", Role.ADMIN)
    add_user(app, "mo", Role.MENTOR)
    for name in ("tao", "mei", "kim"):
        add_user(app, name, Role.TRAINEE)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serve(tmp_path_factory.mktemp("browser-admin"), seed_people) as found:
        yield found


def user_id(database_url: str, name: str) -> int:
    from sandbox.storage.database import make_engine

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.name == name)).one()
            assert user.id is not None
            return user.id
    finally:
        engine.dispose()


def test_an_admin_runs_the_programme_in_the_browser(
    browser: Browser, served: tuple[str, str], tmp_path: Path
) -> None:
    url, database_url = served
    context = new_context(browser, url, viewport=DESKTOP)
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, "boss")
    page.click("#nav-admin")
    expect(page.locator("#user-table")).to_be_visible()

    # Find tao and give them a mentor.
    page.fill("#search-q", "ta")
    page.click("#user-search button[type=submit]")
    expect(page.locator("#user-count")).to_have_text("1 user")
    page.click("#user-table a:text('tao')")
    expect(page.locator("#user-title")).to_have_text("tao")
    page.select_option("#mentor-select", "mo")
    page.click("#mentor-submit")
    expect(page.locator("#notice")).to_contain_text("Mentor changed")
    expect(page.locator("#user-mentor")).to_have_text("mo")

    # Reset tao's password: shown once, and it signs tao in.
    page.click("#reset-password")
    temporary = page.locator("#temporary-password-value").inner_text()
    assert len(temporary) == 12
    trainee = new_context(browser, url).new_page()
    log_in(trainee, "tao", temporary)
    expect(trainee.locator(".who")).to_contain_text("tao")

    # Deactivate tao: their open page is signed out at the next request.
    page.click("#deactivate")
    expect(page.locator("#notice")).to_contain_text("signed out everywhere")
    trainee.goto("/history")
    expect(trainee.locator("#login-name")).to_be_visible()
    page.click("#reactivate")
    expect(page.locator("#user-status")).to_have_text("Active")

    # Create a user: a temporary password on the next page.
    page.click("#admin-nav-users")
    page.fill("#create-name", "lin")
    page.select_option("#create-role", "trainee")
    page.select_option("#create-mentor", "mo")
    page.click("#create-submit")
    expect(page.locator("#temporary-password")).to_be_visible()
    expect(page.locator("#user-mentor")).to_have_text("mo")

    # Import a file saved by Chinese Excel: GBK, semicolons.
    table = tmp_path / "学员.csv"
    table.write_bytes(
        "name;role;password;mentor\nzhou;trainee;密码足够长的口令;mo\nkim;;;mo\nbad name;;;\n".encode(
            "gbk"
        )
    )
    page.click("#admin-nav-users")
    page.set_input_files("#import-file", str(table))
    page.click("#import-submit")
    expect(page.locator("#import-summary")).to_contain_text("1 created · 1 updated")
    expect(page.locator("#import-line-4")).to_contain_text("学员.csv:4: name 'bad name'")

    # A cohort of two.
    page.click("#admin-nav-cohorts")
    page.fill("#cohort-name", "Spring 27")
    page.check(f"input[name=members][value='{user_id(database_url, 'zhou')}']")
    page.check(f"input[name=members][value='{user_id(database_url, 'kim')}']")
    page.click("#cohort-submit")
    expect(page.locator("#cohort-title")).to_have_text("Spring 27")
    expect(page.locator("#member-count")).to_have_text("2 members")

    page.click("#admin-nav-packs")
    expect(page.locator("#pack-table tbody tr").first).to_be_visible()
    assert watch.problems == []

    page.click("#admin-nav-users")
    screenshot(page, "admin-users.png")
    phone = new_context(browser, url, viewport=PHONE).new_page()
    log_in(phone, "boss")
    phone.goto("/admin")
    screenshot(phone, "admin-users-phone.png")


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_admin_pages_pass_axe(browser: Browser, served: tuple[str, str], locale: str) -> None:
    url, database_url = served
    context = new_context(browser, url, bypass_csp=True, locale=locale)
    page = context.new_page()
    log_in(page, "boss")
    auditor = Auditor(context)
    mei = user_id(database_url, "mei")
    pages = {
        "users": "/admin",
        "user": f"/admin/users/{mei}",
        "cohorts": "/admin/cohorts",
        "packs": "/admin/packs",
    }
    for label, path in pages.items():
        auditor.audit_url(path, f"{locale} {label}")
    # A form answered with its errors, and an import report.
    page.goto("/admin")
    page.fill("#create-name", "mei")
    page.click("#create-submit")
    expect(page.locator("#error-name")).to_be_visible()
    auditor.audit(page, f"{locale} create error")
    page.goto("/admin/cohorts")
    page.fill("#cohort-name", f"Axe {locale}")
    page.check(f"input[name=members][value='{mei}']")
    page.click("#cohort-submit")
    expect(page.locator("#cohort-title")).to_be_visible()
    auditor.audit(page, f"{locale} cohort")
    if locale == "zh-CN":
        expect(page.locator("#admin-nav-cohorts")).to_have_text("学员组")
    assert auditor.serious() == [], auditor.summary()
