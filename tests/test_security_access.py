"""Access: every route and socket, as every role and as an anonymous visitor, against one
expected-access table; a route the table does not classify fails the suite."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from security_support import (
    ANYONE,
    PAYLOAD_PACK,
    PAYLOAD_SCENARIO,
    ROLES,
    SECRETS,
    SIGNED_IN,
    Endpoint,
    World,
    build_world,
    classify,
    denied,
    endpoints,
    fill,
    play,
    snapshot,
    socket_accepted,
    token_for,
    write_payload_pack,
)
from web_support import SHARED_PACKS, make_settings, start_attempt

from sandbox.web.app import create_app

OWNER_SIDE = frozenset({"trainee", "mentor", "admin"})  # the owner, their mentor, admins
MENTORS = frozenset({"mentor", "other_mentor", "admin"})
STAFF = frozenset({"proctor", "admin"})
RESOLVERS = frozenset({"mentor", "proctor", "admin"})  # the trainee's mentor and exam staff

# Who gets past the gate of each route: `METHOD /exact/{path}` wins outright, else the longest
# `METHOD /prefix/*`. Every route must match one (test_every_route_is_classified).
ACCESS: dict[str, frozenset[str]] = {
    "GET /openapi.json": ANYONE,
    "GET /static/*": ANYONE,
    "GET /healthz": ANYONE,
    "GET /login": ANYONE,
    "POST /login": ANYONE,
    "POST /logout": ANYONE,
    "POST /language": ANYONE,
    # the trainee's pages: every signed-in user may practise
    "GET /": SIGNED_IN,
    "GET /history": SIGNED_IN,
    "GET /scenarios/*": SIGNED_IN,
    "POST /scenarios/*": SIGNED_IN,
    "GET /attempts/{attempt_id}": OWNER_SIDE,
    "GET /attempts/{attempt_id}/feedback": OWNER_SIDE,
    "WS /attempts/{attempt_id}/ws": frozenset({"trainee"}),
    # quizzes: every signed-in user may take one; a quiz is its owner's alone
    "GET /quiz": SIGNED_IN,
    "POST /quiz": SIGNED_IN,
    "GET /quiz/*": frozenset({"trainee"}),
    "POST /quiz/*": frozenset({"trainee"}),
    # mentor review: any mentor's lists, only one's own trainees' attempts
    "GET /mentor/*": MENTORS,
    "POST /mentor/*": MENTORS,
    "GET /mentor/attempts/{attempt_id}": frozenset({"mentor", "admin"}),
    "POST /mentor/attempts/*": frozenset({"mentor", "admin"}),
    # the review queue: one's own trainees' attempts, like the review page
    "GET /mentor/queue/{attempt_id}": frozenset({"mentor", "admin"}),
    "POST /mentor/queue/*": frozenset({"mentor", "admin"}),
    # second marking: independent of the first, so never the candidate's own mentor
    "GET /mentor/second/{mark_id}": frozenset({"other_mentor", "admin"}),
    "POST /mentor/second/*": frozenset({"other_mentor", "admin"}),
    # a third reviewer: only the one a proctor assigned (none in this world)
    "GET /mentor/second/third/{mark_id}": frozenset(),
    "POST /mentor/second/third/{mark_id}": frozenset(),
    # calibration sessions: any mentor starts one; a session is its mentor's alone
    "GET /mentor/calibration/sessions/{session_id}": frozenset({"mentor"}),
    "POST /mentor/calibration/sessions/{session_id}/items/{item_id}": frozenset({"mentor"}),
    # the case library: chosen attempts with every trainee's name masked, for everyone; the
    # sample case is on the scenario of the trainee's open exam, so it is hidden from them
    # (web/practice.py)
    "GET /cases/*": SIGNED_IN,
    "GET /cases/{case_id}": SIGNED_IN - {"trainee"},
    # the knowledge base: everyone signed in (refused during a closed-book exam, which this
    # world has none of); the panel's own attempt is checked in tests/test_knowledge_web.py
    "GET /knowledge": SIGNED_IN,
    "GET /knowledge/*": SIGNED_IN,
    "GET /knowledge/panel/*": frozenset({"trainee"}),  # on one's own conversation only
    # assignments: any mentor's list and form; withdrawing, one's own trainees' only
    "POST /mentor/assignments/{assignment_id}/withdraw": frozenset({"mentor", "admin"}),
    # peer review: everyone has a list; a shared transcript is read by its cohort's peers
    # (other_trainee), its author and whoever may review the author, rated by peers alone
    "GET /peer-reviews": SIGNED_IN,
    "GET /peer-reviews/{share_id}": frozenset({"trainee", "other_trainee", "mentor", "admin"}),
    "POST /peer-reviews/{share_id}": frozenset({"other_trainee"}),
    "GET /mentor/attempts/{attempt_id}/peer-review": frozenset({"mentor", "admin"}),
    # the work queue: staff see theirs; a trainee is sent on to the catalogue
    "GET /work": SIGNED_IN,
    # the admin area: users, imports, cohorts and packs, for admins alone
    "GET /admin": frozenset({"admin"}),
    "GET /admin/*": frozenset({"admin"}),
    "POST /admin/*": frozenset({"admin"}),
    # a suggestion's changed pack file: admins, for a suggestion that exists (none here)
    "GET /admin/packs/{pack_id}/suggestions/download": frozenset(),
    # exams: a trainee sees only the exams they sit
    "GET /exams": SIGNED_IN,
    "GET /exams/*": frozenset({"trainee"}),
    "POST /exams/*": frozenset({"trainee"}),
    "GET /proctor/*": STAFF,
    "POST /proctor/*": STAFF,
    "WS /proctor/*": STAFF,
    # appeals: the lists of those who may judge some; one appeal for those who may judge it
    "GET /appeals": frozenset({"mentor", "other_mentor", "proctor", "admin"}),
    "GET /appeals/{appeal_id}": RESOLVERS,
    "POST /appeals/{appeal_id}": RESOLVERS,
    # background jobs: staff list the jobs they started; a job is its starter's (the sample
    # is the proctor's) and every admin's
    "GET /jobs": frozenset({"mentor", "other_mentor", "proctor", "admin"}),
    "GET /jobs/*": frozenset({"proctor", "admin"}),
    "POST /jobs/*": frozenset({"proctor", "admin"}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the read-only walks (they prove they change nothing)."""
    tmp_path = tmp_path_factory.mktemp("access")
    built = build_world(create_app(make_settings(tmp_path, builtin_knowledge=True)))
    yield built
    built.close()


def http_endpoints(world: World, methods: set[str]) -> list[Endpoint]:
    return [e for e in endpoints(world.app) if e.method in methods]


def test_every_route_is_classified(world: World) -> None:
    unclassified = [e.key for e in endpoints(world.app) if classify(ACCESS, e) is None]
    assert unclassified == [], "add these routes to ACCESS in tests/test_security_access.py"


def test_each_role_opens_exactly_its_pages(world: World) -> None:
    for role in ROLES:
        world.client(role)  # signed in before the snapshot: the walk itself must change nothing
    before = snapshot(world.app)
    wrong: list[str] = []
    for endpoint in http_endpoints(world, {"GET"}):
        allowed = classify(ACCESS, endpoint)
        assert allowed is not None
        url = fill(endpoint.path, world.samples)
        for role in ROLES:
            response = world.client(role).get(url, follow_redirects=False)
            assert response.status_code < 500, f"{role} GET {url}: {response.status_code}"
            passed = not denied(response)
            if passed != (role in allowed):
                wrong.append(
                    f"{role} GET {url}: {response.status_code} (expected {'in' if role in allowed else 'out'})"
                )
    assert wrong == []
    assert snapshot(world.app) == before


def test_each_role_opens_exactly_its_sockets(world: World) -> None:
    wrong: list[str] = []
    for endpoint in http_endpoints(world, {"WS"}):
        allowed = classify(ACCESS, endpoint)
        assert allowed is not None
        url = fill(endpoint.path, world.samples)
        for role in ROLES:
            accepted = socket_accepted(world.client(role), url)
            if accepted != (role in allowed):
                wrong.append(f"{role} WS {url}: {'accepted' if accepted else 'refused'}")
    assert wrong == []


def test_each_role_changes_only_what_it_may(tmp_path: Path) -> None:
    """Every state-changing route with a valid CSRF token: a role outside the table is
    refused and nothing in the database changes; a role inside is not refused."""
    world = build_world(create_app(make_settings(tmp_path)))
    wrong: list[str] = []
    try:
        for endpoint in http_endpoints(world, {"POST", "PUT", "PATCH", "DELETE"}):
            allowed = classify(ACCESS, endpoint)
            assert allowed is not None
            url = fill(endpoint.path, world.samples)
            for role in ROLES:
                with world.fresh_client(role) as browser:
                    token = token_for(browser)
                    before = snapshot(world.app)
                    response = browser.request(
                        endpoint.method, url, data={"csrf_token": token}, follow_redirects=False
                    )
                    assert response.status_code < 500, f"{role} {endpoint.method} {url}"
                    if role in allowed:
                        # An empty form may name nothing (404); only the gate's "no" counts.
                        if response.status_code in (401, 403) or (
                            denied(response) and response.status_code != 404
                        ):
                            wrong.append(f"{role} {endpoint.method} {url}: refused")
                    elif not denied(response) or snapshot(world.app) != before:
                        wrong.append(f"{role} {endpoint.method} {url}: {response.status_code}")
    finally:
        world.close()
    assert wrong == []


# --- other people's data ---------------------------------------------------------------------


ID_PARAMS = re.compile(r"\{(attempt_id|exam_id|appeal_id|exam_attempt_id)\}")


def test_another_trainee_gets_nothing_of_the_owners(world: World) -> None:
    """Every route that takes an id, filled with the owner's ids, as the other trainee."""
    other = world.client("other_trainee")
    owner_lines = ("Hello, thanks for contacting us", "Decongestants can raise")
    for endpoint in endpoints(world.app):
        if not ID_PARAMS.search(endpoint.path) or endpoint.path.startswith("/static"):
            continue
        url = fill(endpoint.path, world.samples)
        if endpoint.method == "WS":
            assert not socket_accepted(other, url), url
            continue
        if endpoint.method != "GET":
            continue
        response = other.get(url, follow_redirects=True)
        assert response.status_code in (403, 404), f"GET {url}: {response.status_code}"
        assert not any(line in response.text for line in owner_lines), url


def test_a_trainees_own_pages_list_nobody_elses_attempts(tmp_path: Path) -> None:
    world = build_world(create_app(make_settings(tmp_path)))
    try:
        other = world.client("other_trainee")
        secret_line = "Mei's own words about zqxprivate matters"
        play(
            other,
            start_attempt(other, "pharmacy-basics", "cold-remedy-hypertension"),
            [secret_line],
        )
        owner = world.client("trainee")
        for endpoint in endpoints(world.app):
            if endpoint.method != "GET" or endpoint.path.startswith("/static"):
                continue
            url = fill(endpoint.path, world.samples)
            response = owner.get(url)
            assert "zqxprivate" not in response.text, url
            assert world.names["other_trainee"] not in response.text, url
    finally:
        world.close()


# --- the answer key --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payload_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp_path = tmp_path_factory.mktemp("secrets")
    folder = write_payload_pack(tmp_path / "packs")
    app = create_app(make_settings(tmp_path, packs=f"{SHARED_PACKS}:{folder}"))
    lines = ["Hello! Do you have any allergies?", "Thank you, goodbye"]
    built = build_world(app, pack=PAYLOAD_PACK, scenario=PAYLOAD_SCENARIO, lines=lines)
    yield built
    built.close()


def collect_frames(browser: TestClient, attempt_id: str, frames: list[dict[str, str]]) -> list[str]:
    """Everything the socket sends back for `frames`."""
    received: list[str] = []
    with browser.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        ws.send_json({"type": "hello", "last_seq": -1})
        while 'data-synced="true"' not in (frame := ws.receive_text()):
            received.append(frame)
        for frame_to_send in frames:
            ws.send_json(frame_to_send)
            received.append(ws.receive_text())
    return received


def test_trainees_never_receive_the_answer_key(payload_world: World) -> None:
    """Persona background, fact triggers, reaction triggers, matchers, model answers: in no
    page any trainee can open, and in no frame of their chat."""
    seen: list[str] = []
    for role in ("trainee", "other_trainee"):
        browser = payload_world.client(role)
        for endpoint in endpoints(payload_world.app):
            if endpoint.method == "GET" and not endpoint.path.startswith("/static"):
                seen.append(browser.get(fill(endpoint.path, payload_world.samples)).text)
    # The owner sits an exam on the scenario, so practises it no more (web/practice.py): the
    # other trainee's practice hints are what a trainee can still receive.
    other = payload_world.client("other_trainee")
    fresh = start_attempt(other, PAYLOAD_PACK, PAYLOAD_SCENARIO)
    seen += collect_frames(other, str(fresh), [{"type": "hint"}])
    everything = "\n".join(seen)
    assert "Fact reply" in everything and "zqxdescription" in everything  # the walk saw them
    leaked = [name for name, word in SECRETS.items() if word in everything]
    assert leaked == []
    # The mentor's review shows the background (the format says: for mentors).
    review = payload_world.client("mentor").get(
        f"/mentor/attempts/{payload_world.samples['attempt_id']}"
    )
    assert review.status_code == 200, review.text
    assert SECRETS["example"] not in review.text


def test_an_exam_gives_no_hints_and_shows_no_rubric_while_it_runs(tmp_path: Path) -> None:
    folder = write_payload_pack(tmp_path / "packs")
    app = create_app(make_settings(tmp_path, packs=f"{SHARED_PACKS}:{folder}"))
    world = build_world(app, pack=PAYLOAD_PACK, scenario=PAYLOAD_SCENARIO, lines=["Hello"])
    try:
        assert "exam_id" in world.samples, "build_world made no exam"
        from sqlmodel import Session

        from sandbox.storage.models import Attempt, Mode

        owner = world.client("trainee")
        exam_id = world.samples["exam_id"]
        # A second, running exam attempt on the same scenario (a retake is not needed: the
        # attempt row is made directly, as the exam service would).
        with Session(app.state.sandbox.engine) as session:
            done = session.get(Attempt, int(world.samples["exam_attempt_id"]))
            assert done is not None and done.mode == Mode.EXAM
        # Practice of the exam's scenario is refused to its candidate (web/practice.py).
        refused = owner.post(
            f"/scenarios/{PAYLOAD_PACK}/{PAYLOAD_SCENARIO}/attempts",
            data={"csrf_token": token_for(owner)},
            follow_redirects=False,
        )
        assert refused.status_code == 409 and "zqxdescription" not in refused.text
        with Session(app.state.sandbox.engine) as session:
            from sandbox.storage.attempts import start_attempt as store_attempt
            from sandbox.storage.models import User

            trainee = session.get(User, done.user_id)
            assert trainee is not None
            attempt = store_attempt(
                session=session,
                user=trainee,
                pack_id=PAYLOAD_PACK,
                pack_version=1,
                scenario_id=PAYLOAD_SCENARIO,
                time_limit_s=600,
                mode=Mode.EXAM,
                opening=app.state.sandbox.library.find(PAYLOAD_PACK, PAYLOAD_SCENARIO)[1].opening,
            )
            attempt.exam_id = int(exam_id)
            session.add(attempt)
            session.commit()
            practice_id = attempt.id
        page = owner.get(f"/attempts/{practice_id}")
        frames = collect_frames(owner, str(practice_id), [{"type": "hint"}])
        shown = page.text + "\n".join(frames)
        assert 'id="hint-button"' not in page.text
        assert 'id="hints"' not in "\n".join(frames)
        assert "Hints are for practice only" in "\n".join(frames)
        assert "zqxdescription" not in shown
        results = owner.get(f"/exams/{exam_id}/results")
        assert "zqxdescription" not in results.text
        assert not any(word in results.text for word in SECRETS.values())
    finally:
        world.close()
