"""Landing pages that are work queues: staff land on /work after signing in, each role
seeing its own work with counts; trainees land on the catalogue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from exam_support import FakeClock, make_exam, utc_field
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import GOOD, graded_attempt
from web_support import PASSWORD, SAME_ORIGIN, csrf_token

from sandbox.storage.models import User

Browsers = Callable[[str], TestClient]


def landing(app: FastAPI, name: str) -> str:
    client = TestClient(app, headers=SAME_ORIGIN)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "name": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return str(response.headers["location"])


def test_staff_land_on_their_work_and_trainees_on_the_catalogue(
    app: FastAPI, people: dict[str, User]
) -> None:
    assert landing(app, "tao") == "/"
    for name in ("mo", "pat", "boss"):
        assert landing(app, name) == "/work"


def test_a_trainee_is_sent_to_the_catalogue(browsers: Browsers) -> None:
    response = browsers("tao").get("/work", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert 'id="nav-work"' not in browsers("tao").get("/").text


def test_a_mentor_sees_recent_attempts_and_assignments(
    app: FastAPI, browsers: Browsers, people: dict[str, User]
) -> None:
    graded_attempt(app, "tao", GOOD)
    graded_attempt(app, "kim", GOOD)  # not the mentor's trainee
    page = browsers("mo").get("/work").text
    assert 'id="work-recent"' in page and "tao · " in page and "kim · " not in page
    assert "0 assignments to do" in page
    assert 'id="work-proctor"' not in page and 'id="work-admin"' not in page


def test_a_proctor_sees_exams_by_state(
    client: TestClient, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    make_exam(proctor, clock, people, name="Running now")
    make_exam(
        proctor,
        clock,
        people,
        name="Next week",
        opens_at=utc_field(clock.now + timedelta(days=7)),
        closes_at=utc_field(clock.now + timedelta(days=8)),
    )
    page = proctor.get("/work").text
    assert "1 exam running" in page and "Running now" in page
    assert "1 upcoming" in page and "Next week" in page
    assert "0 awaiting release of results" in page
    assert "0 open appeals" in page
    clock.advance(3 * 86400)
    page = proctor.get("/work").text
    assert "1 awaiting release of results" in page and "0 exams running" in page


def test_an_admin_sees_users_and_pack_health(app: FastAPI, browsers: Browsers) -> None:
    app.state.sandbox.library.errors.append("broken.yaml:1: not a pack")
    page = browsers("boss").get("/work").text
    assert "6 users" in page and "3 trainees" in page and "1 mentor" in page
    assert "0 deactivated accounts" in page
    assert "1 problem" in page
    assert 'id="work-proctor"' in page  # an admin runs exams too
