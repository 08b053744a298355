"""Retraining in real browsers against `sandbox serve`: a candidate whose retake expired
untried (so failed) is given a retraining plan by the proctor; the trainee sees it above
the catalogue on a phone and practises it; the exam page then offers a new exam. The exam
page with the plan passes axe.

Policy: any script error or CSP refusal fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import BROWSER_MARKS, DESKTOP, browser, log_in, new_context
from fastapi import FastAPI
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select
from test_browser_admin import serve
from test_browser_trainee import PHONE, SYNCED, Auditor, PageWatch
from web_support import add_user

from sandbox.exams.policy import ExamRules
from sandbox.storage.exams import ExamRetake, create_exam, set_written_score
from sandbox.storage.models import Attempt, Mode, Role, User

__all__ = ["browser"]

pytestmark = BROWSER_MARKS

COLD = ("pharmacy-basics", "cold-remedy-hypertension")
INSULIN = ("pharmacy-basics", "late-insulin-delivery")


def seed(app: FastAPI) -> None:
    """An exam three weeks ago: tao passed the cold remedy, failed insulin, was granted a
    retake that expired untried, so he is to be retrained."""
    add_user(app, "pat", Role.PROCTOR)
    add_user(app, "mo", Role.MENTOR)
    tao = add_user(app, "tao", Role.TRAINEE, mentor="mo")
    long_ago = datetime.now(UTC) - timedelta(days=21)
    with Session(app.state.sandbox.engine) as session:
        pat = session.exec(select(User).where(User.name == "pat")).one()
        exam = create_exam(
            session=session,
            name="Winter practical",
            time_limit_s=300,
            opens_at=long_ago,
            closes_at=long_ago + timedelta(days=1),
            rules=ExamRules(),
            scenarios=[COLD, INSULIN],
            candidate_ids=[tao.id or 0],
            cohort=None,
            created_by=pat.id,
        )
        assert exam.id is not None
        for (pack_id, scenario_id), score in ((COLD, 90.0), (INSULIN, 40.0)):
            session.add(
                Attempt(
                    user_id=tao.id or 0,
                    pack_id=pack_id,
                    pack_version=1,
                    scenario_id=scenario_id,
                    mode=Mode.EXAM,
                    time_limit_s=300,
                    started_at=long_ago,
                    ended_at=long_ago + timedelta(minutes=4),
                    end_reason="finished",
                    exam_id=exam.id,
                    deadline_at=long_ago + timedelta(minutes=5),
                    attempt_no=1,
                    score=score,
                    band="good",
                    passed=score >= 70,
                    graded_at=long_ago + timedelta(minutes=4),
                    grade={"score": score, "criteria": []},
                )
            )
        set_written_score(
            session=session,
            exam_id=exam.id,
            user_id=tao.id or 0,
            score=80,
            entered_by=pat.id,
            at=long_ago + timedelta(hours=1),
        )
        session.add(
            ExamRetake(
                exam_id=exam.id,
                user_id=tao.id or 0,
                scenarios=["/".join(INSULIN)],
                granted_by=pat.id,
                granted_at=long_ago + timedelta(days=1),
                expires_at=long_ago + timedelta(days=8),
            )
        )
        session.commit()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serve(tmp_path_factory.mktemp("browser-retraining"), seed) as found:
        yield found


def test_a_failed_retake_is_retrained_in_the_browser(
    browser: Browser, served: tuple[str, str]
) -> None:
    url, _ = served
    proctor_context = new_context(browser, url, viewport=DESKTOP, bypass_csp=True)
    proctor = proctor_context.new_page()
    watch = PageWatch(proctor)
    log_in(proctor, "pat")
    expect(proctor).to_have_url(re.compile(r"/work$"))
    expect(proctor.locator("#work-awaiting")).to_contain_text("Winter practical")
    proctor.click("#work-awaiting a")
    row = proctor.locator("tr[id^=candidate-]")
    expect(row).to_contain_text("Retraining")
    row.locator("button[id^=plan-retraining-]").click()
    expect(row.locator("[id^=retraining-]")).to_have_text("Retraining plan: 0 of 1 done")
    auditor = Auditor(proctor_context)
    auditor.audit(proctor, "exam page with a plan")
    assert auditor.serious() == [], auditor.summary()

    trainee = new_context(browser, url, viewport=PHONE).new_page()
    trainee_watch = PageWatch(trainee)
    log_in(trainee, "tao")
    plan = trainee.locator("#assigned-list li")
    expect(plan).to_have_count(1)
    expect(plan).to_contain_text("Retraining")
    plan.get_by_role("link").click()
    trainee.click("#start-button")
    expect(trainee.locator(SYNCED)).to_contain_text("Connected")
    trainee.fill(
        "#message-input", "Hello, I am sorry the delivery is late. Which insulin do you use?"
    )
    trainee.click("#send-button")
    expect(trainee.locator("#msg-2")).to_be_attached()
    trainee.once("dialog", lambda dialog: dialog.accept())
    trainee.click("#finish-button")
    expect(trainee.locator("#feedback-link")).to_be_visible()

    proctor.reload()
    expect(row.locator("[id^=retraining-]")).to_have_text("Retraining plan: 1 of 1 done")
    expect(row.locator("a[id^=new-exam-]")).to_be_visible()
    assert watch.problems == [] and trainee_watch.problems == []
