"""In real headless Chromium: a chat page whose session ends, and a monitor page whose proctor
is demoted, say so and stop, against a real `sandbox serve` re-checking sockets often."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from browser_support import BROWSER_MARKS, browser, new_context
from browser_support import log_in as log_in_as
from playwright.sync_api import Browser, Page, expect
from server_support import Server, server_env
from sqlmodel import Session
from test_browser_trainee import PageWatch
from web_support import PASSWORD, SHARED_PACKS

from sandbox.exams.policy import ExamRules
from sandbox.storage.database import make_engine
from sandbox.storage.exams import create_exam
from sandbox.storage.models import Role, utcnow
from sandbox.storage.users import create_user

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

PACK, SCENARIO = "pharmacy-basics", "cold-remedy-hypertension"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    """`sandbox serve` re-checking sockets every half second; a trainee, a proctor, an exam."""
    folder = tmp_path_factory.mktemp("sockets")
    served = Server(folder, server_env(folder, packs=str(SHARED_PACKS), socket_recheck_s="0.5"))
    served.start()
    engine = make_engine(f"sqlite:///{folder / 'sandbox.db'}")
    with Session(engine) as session:
        create_user(session=session, name="tao", role=Role.TRAINEE, password=PASSWORD)
        pat = create_user(session=session, name="pat", role=Role.PROCTOR, password=PASSWORD)
        now = utcnow()
        exam = create_exam(
            session=session,
            name="Watched",
            time_limit_s=600,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(hours=1),
            rules=ExamRules(),
            scenarios=[(PACK, SCENARIO)],
            candidate_ids=[],
            cohort=None,
            created_by=pat.id,
        )
        session.commit()
        assert exam.id is not None
        exam_id = exam.id
    engine.dispose()
    try:
        yield served, exam_id
    finally:
        served.stop()


def log_in(page: Page, name: str) -> None:
    log_in_as(page, name, ready="#logout-button")


def test_a_signed_out_chat_page_says_so(server: tuple[Server, int], browser: Browser) -> None:
    served, _ = server
    context = new_context(browser, served.url)
    try:
        chat = context.new_page()
        watch = PageWatch(chat)
        log_in(chat, "tao")
        chat.goto(f"/scenarios/{PACK}/{SCENARIO}")
        chat.click("#start-button")
        expect(chat.locator('#connection[data-synced="true"]')).to_be_attached()
        other_tab = context.new_page()
        other_tab.goto("/")
        other_tab.click("#logout-button")
        expect(other_tab).to_have_url(f"{served.url}/login?logged_out=1")
        expect(chat.locator("#notice")).to_contain_text("You are no longer signed in")
        expect(chat.locator('#connection[data-closed="true"]')).to_contain_text("Disconnected")
        expect(chat.locator("#send-button")).to_be_disabled()
        chat.wait_for_timeout(1500)  # no reconnecting afterwards
        expect(chat.locator("#connection")).to_contain_text("Disconnected")
        assert watch.problems == []
    finally:
        context.close()


def test_a_demoted_proctors_monitor_says_so(server: tuple[Server, int], browser: Browser) -> None:
    served, exam_id = server
    context = new_context(browser, served.url)
    try:
        page = context.new_page()
        watch = PageWatch(page)
        log_in(page, "pat")
        page.goto(f"/proctor/exams/{exam_id}/monitor")
        expect(page.locator('#monitor-connection[data-synced="true"]')).to_be_attached()
        env = dict(served.env)
        env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
        result = subprocess.run(
            [sys.executable, "-m", "sandbox", "users", "role", "pat", "trainee"],
            cwd=served.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        expect(page.locator("#monitor-notice")).to_contain_text(
            "Your account may no longer see this page"
        )
        expect(page.locator('#monitor-connection[data-closed="true"]')).to_contain_text(
            "Disconnected"
        )
        page.wait_for_timeout(1500)  # and it does not claim to be reconnecting
        expect(page.locator("#monitor-connection")).to_contain_text("Disconnected")
        assert watch.problems == []
    finally:
        context.close()
