"""What the security tests share: every route of the app, a world with one user per role, and
the expected access table every route must be classified in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from starlette.routing import Mount
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from web_support import SAME_ORIGIN, add_user, csrf_token, login, start_attempt

from sandbox.storage.models import Role

# Who asks. "trainee" owns the sample attempt and has "mentor" as mentor; "other_trainee"
# has "other_mentor". Each role's user is signed in on its own client.
ROLES = ("anonymous", "trainee", "other_trainee", "mentor", "other_mentor", "proctor", "admin")
ANYONE = frozenset(ROLES)
SIGNED_IN = ANYONE - {"anonymous"}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"


@dataclass(frozen=True)
class Endpoint:
    """One way in: an HTTP method (or WS) on a path template."""

    method: str
    path: str
    route: Any = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every HTTP route (one per method, HEAD aside), every WebSocket and every mount."""
    found: list[Endpoint] = []
    for context in iter_route_contexts(app.routes):
        original = context.original_route
        if isinstance(original, Mount):
            found.append(Endpoint("GET", original.path + "/{path}", context))
        elif context.methods:
            for method in sorted(context.methods - {"HEAD"}):
                found.append(Endpoint(method, str(context.path), context))
        else:
            found.append(Endpoint("WS", str(context.path), context))
    return found


def classify(table: dict[str, frozenset[str]], endpoint: Endpoint) -> frozenset[str] | None:
    """The allowed roles of the longest pattern matching `METHOD path`, or None.

    A pattern is `METHOD /exact/{template}` (wins outright) or `METHOD /prefix/*` (the
    prefix itself and everything beneath it).
    """
    exact = table.get(endpoint.key)
    if exact is not None:
        return exact
    best: tuple[int, frozenset[str]] | None = None
    for pattern, roles in table.items():
        method, _, path = pattern.partition(" ")
        if method != endpoint.method or not path.endswith("/*"):
            continue
        prefix = path[:-2]
        matches = endpoint.path == prefix or endpoint.path.startswith(prefix + "/")
        if matches and (best is None or len(prefix) > best[0]):
            best = (len(prefix), roles)
    return best[1] if best else None


def fill(path: str, samples: dict[str, str]) -> str:
    """The path template with each {param} replaced by its sample; KeyError names a new one."""
    result = path
    while "{" in result:
        start = result.index("{")
        end = result.index("}", start)
        name = result[start + 1 : end].split(":")[0]
        if name not in samples:
            raise KeyError(
                f"no sample value for path parameter {{{name}}}: add one to the world "
                "in tests/security_support.py"
            )
        result = result[:start] + samples[name] + result[end + 1 :]
    return result


@dataclass
class World:
    """An app with one user per role, a graded attempt of "trainee" and the samples to fill
    every route's path parameters with objects that exist."""

    app: FastAPI
    names: dict[str, str]
    samples: dict[str, str]
    clients: dict[str, TestClient] = field(default_factory=dict)

    def client(self, role: str) -> TestClient:
        """A client signed in as `role` (kept for the test's duration)."""
        if role not in self.clients:
            browser = TestClient(self.app, headers=SAME_ORIGIN)
            browser.__enter__()
            if role != "anonymous":
                login(browser, self.names[role])
            self.clients[role] = browser
        return self.clients[role]

    @contextmanager
    def fresh_client(self, role: str) -> Iterator[TestClient]:
        """A client of its own for `role`, for requests that may end its session."""
        with TestClient(self.app, headers=SAME_ORIGIN) as browser:
            if role != "anonymous":
                login(browser, self.names[role])
            yield browser

    def close(self) -> None:
        for browser in self.clients.values():
            browser.__exit__(None, None, None)
        self.clients.clear()


def token_for(browser: TestClient) -> str:
    """A CSRF token of this browser's session, from a page every visitor can open."""
    return csrf_token(browser.get("/login").text)


def denied(response: httpx.Response) -> bool:
    """The gate said no: 403, 404, 401, or a redirect to the login page."""
    if response.status_code in (401, 403, 404):
        return True
    if response.status_code in (302, 303, 307) or response.headers.get("hx-redirect"):
        target = response.headers.get("location") or response.headers.get("hx-redirect", "")
        return target.startswith("/login?next=")
    return False


def socket_accepted(browser: TestClient, path: str) -> bool:
    """True when the server accepted the handshake; False when it refused it before accept."""
    try:
        with browser.websocket_connect(path):
            return True
    except WebSocketDenialResponse as denial:
        # An HTTP answer instead of the handshake: a crash must not pass for a refusal.
        assert denial.status_code < 500, f"{path}: the handshake failed ({denial.status_code})"
        return False
    except WebSocketDisconnect:
        return False


def snapshot(app: FastAPI) -> dict[str, list[str]]:
    """Every row of every table, as text, to tell whether anything changed."""
    engine = app.state.sandbox.engine
    tables = sorted(inspect(engine).get_table_names())
    rows: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in tables:
            result = connection.execute(text(f'SELECT * FROM "{table}"'))
            rows[table] = sorted(json.dumps(list(row), default=str) for row in result)
    return rows


USERS = {
    "mentor": ("mentor-a", "mentor", None),
    "other_mentor": ("mentor-b", "mentor", None),
    "trainee": ("tao", "trainee", "mentor-a"),
    "other_trainee": ("mei", "trainee", "mentor-b"),
    "proctor": ("proc", "proctor", None),
    "admin": ("boss", "admin", None),
}
FINISHED_LINES = [
    "Hello, thanks for contacting us. Are you taking any other medication?",
    "Decongestants can raise your blood pressure, so they are not suitable for you.",
]


def play(browser: TestClient, attempt_id: int, lines: list[str], finish: bool = True) -> None:
    """Say `lines` on the attempt's socket (each acknowledged), then finish it."""
    with browser.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        for index, line in enumerate(lines):
            client_id = f"line-{attempt_id}-{index}"
            ws.send_json({"type": "say", "text": line, "client_id": client_id})
            while f'data-client-id="{client_id}"' not in ws.receive_text():
                pass
        if finish:
            ws.send_json({"type": "finish"})
            while 'id="feedback-link"' not in ws.receive_text():
                pass


def has_route(app: FastAPI, key: str) -> bool:
    return any(endpoint.key == key for endpoint in endpoints(app))


def build_world(
    app: FastAPI, pack: str = PACK, scenario: str = SCENARIO, lines: list[str] | None = None
) -> World:
    """Users of every role; a graded practice attempt of "trainee" on `pack`/`scenario`
    saying `lines`; where the mentor pages exist, a comment of "mentor" on it."""
    # The walks compare snapshots of every table: no background job may change them between
    # two requests. Jobs stay queued; the sample job is run here, once.
    app.state.job_runner.enabled = False
    for name, role, mentor in USERS.values():
        add_user(app, name, Role(role), mentor=mentor)
    names = {role: spec[0] for role, spec in USERS.items()}
    world = World(app=app, names=names, samples={})
    owner = world.client("trainee")
    attempt_id = start_attempt(owner, pack, scenario)
    spoken = FINISHED_LINES if lines is None else lines
    play(owner, attempt_id, spoken)
    world.samples.update(
        {
            "attempt_id": str(attempt_id),
            "pack_id": pack,
            "scenario_id": scenario,
            "path": "sandbox.css",
            "article_locale": "en",  # a bundled knowledge article (builtin_knowledge=True)
            "article_id": "warfarin",
        }
    )
    comments = "POST /mentor/attempts/{attempt_id}/comments"
    if has_route(app, comments):
        mentor = world.client("mentor")
        for text_ in spoken:
            response = mentor.post(
                f"/mentor/attempts/{attempt_id}/comments",
                data={"csrf_token": token_for(mentor), "text": "Comment " + text_},
                follow_redirects=False,
            )
            assert response.status_code == 303, response.text
    if has_route(app, "POST /mentor/attempts/{attempt_id}/case"):
        mentor = world.client("mentor")
        response = mentor.post(
            f"/mentor/attempts/{attempt_id}/case",
            data={
                "csrf_token": token_for(mentor),
                "example": "good",
                "tags": "greeting",
                "note": "Note " + " ".join(spoken),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        world.samples["case_id"] = str(only_id(app, "teaching_cases"))
    if has_route(app, "POST /exams/{exam_id}/attempts"):
        add_exam(world, pack, scenario, spoken)
    if has_route(app, "GET /jobs/{job_id}") and "exam_id" in world.samples:
        # A finished job of the proctor's: the exam's grades CSV, kept for download.
        proctor = world.client("proctor")
        started = proctor.post(
            f"/proctor/exams/{world.samples['exam_id']}/grades-job",
            data={"csrf_token": token_for(proctor)},
            follow_redirects=False,
        )
        assert started.status_code == 303, started.text
        job_id = app.state.job_runner.run_one()
        assert started.headers["location"] == f"/jobs/{job_id}"
        world.samples["job_id"] = str(job_id)
    if has_route(app, "GET /admin/users/{user_id}"):
        # The admin's user pages act on a user of their own: a reset password or a
        # deactivation there must not lock a role of the world out of the later requests.
        spare = add_user(app, "spare", Role.TRAINEE)
        world.samples["user_id"] = str(spare.id)
        # The admin's cohort of the same name as the exams' cohort, with the spare user in it.
        admin = world.client("admin")
        made = admin.post(
            "/admin/cohorts",
            data={"csrf_token": token_for(admin), "name": COHORT, "members": str(spare.id)},
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
        world.samples.setdefault("cohort", COHORT)
    if has_route(app, "POST /mentor/assignments/{assignment_id}/withdraw"):
        mentor = world.client("mentor")
        assigned = mentor.post(
            "/mentor/assignments",
            data={
                "csrf_token": token_for(mentor),
                "activity": f"{pack}/{scenario}",
                "trainees": str(only_user_id(app, names["trainee"])),
            },
            follow_redirects=False,
        )
        assert assigned.status_code == 303, assigned.text
        world.samples["assignment_id"] = str(only_id(app, "assignments"))
    if has_route(app, "POST /quiz"):
        started = owner.post(
            "/quiz",
            data={"csrf_token": token_for(owner), "mode": "trade", "trade": "pharmacy"},
            follow_redirects=False,
        )
        assert started.status_code == 303 and "/quiz/" in started.headers["location"], started
        world.samples["quiz_id"] = started.headers["location"].rsplit("/", 1)[1]
        world.samples["response_id"] = "1"
    if has_route(app, "GET /mentor/calibration/sessions/{session_id}"):
        add_calibration_session(world, attempt_id)
    if has_route(app, "POST /mentor/attempts/{attempt_id}/peer-review"):
        # The owner's attempt opened to a cohort of the owner and the other trainee.
        with app.state.sandbox.engine.begin() as connection:
            for name in (names["trainee"], names["other_trainee"]):
                connection.execute(
                    text("INSERT INTO cohort_members (cohort, user_id) VALUES ('peers', :u)"),
                    {"u": only_user_id(app, name)},
                )
        mentor = world.client("mentor")
        shared = mentor.post(
            f"/mentor/attempts/{attempt_id}/peer-review",
            data={"csrf_token": token_for(mentor), "cohort": "peers"},
            follow_redirects=False,
        )
        assert shared.status_code == 303, shared.text
        world.samples["share_id"] = str(only_id(app, "peer_shares"))
    return world


def add_calibration_session(world: World, attempt_id: int) -> None:
    """A calibration set of the trainee's attempt (its grade as the settled one) and a
    session of "mentor" on it, not yet answered."""
    from sqlmodel import Session

    from sandbox.storage.calibration import CalibrationItem, CalibrationSet
    from sandbox.storage.models import Attempt

    app = world.app
    with Session(app.state.sandbox.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None and attempt.grade is not None
        made = CalibrationSet(name="Set", created_by=only_user_id(app, world.names["admin"]))
        session.add(made)
        session.flush()
        assert made.id is not None
        settled = {str(c["id"]): str(c["status"]) for c in attempt.grade["criteria"]}
        session.add(
            CalibrationItem(
                set_id=made.id,
                attempt_id=attempt_id,
                position=1,
                source="reviewed",
                settled=settled,
            )
        )
        session.commit()
        set_id = made.id
    mentor = world.client("mentor")
    started = mentor.post(
        "/mentor/calibration/sessions",
        data={"csrf_token": token_for(mentor), "set_id": str(set_id)},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    world.samples["session_id"] = started.headers["location"].rsplit("/", 1)[1]
    world.samples["item_id"] = str(only_id(app, "calibration_items"))


def only_user_id(app: FastAPI, name: str) -> int:
    with app.state.sandbox.engine.connect() as connection:
        found = connection.execute(text("SELECT id FROM users WHERE name = :n"), {"n": name})
        return int(found.scalar_one())


def only_id(app: FastAPI, table: str) -> int:
    with app.state.sandbox.engine.connect() as connection:
        ids = [row[0] for row in connection.execute(text(f'SELECT id FROM "{table}"'))]
    assert len(ids) == 1, (table, ids)
    return int(ids[0])


COHORT = "cohort-a"


def add_exam(world: World, pack: str, scenario: str, lines: list[str]) -> None:
    """An open exam "trainee" sits: one exam attempt played and graded, results released, an
    appeal opened. The exam's name carries the lines too (proctor text, shown to all)."""
    from datetime import timedelta

    from sqlmodel import Session

    from sandbox.exams.policy import ExamRules
    from sandbox.storage.exams import create_exam
    from sandbox.storage.models import utcnow
    from sandbox.storage.users import get_user_by_name

    app = world.app
    with Session(app.state.sandbox.engine) as session:
        trainee = get_user_by_name(session=session, name=world.names["trainee"])
        proctor = get_user_by_name(session=session, name=world.names["proctor"])
        assert trainee is not None and trainee.id is not None and proctor is not None
        now = utcnow()
        exam = create_exam(
            session=session,
            name=("Exam " + " ".join(lines))[:120],
            time_limit_s=600,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(hours=1),
            rules=ExamRules(),
            scenarios=[(pack, scenario)],
            candidate_ids=[trainee.id],
            cohort=COHORT,
            created_by=proctor.id,
        )
        session.commit()
        exam_id = exam.id
    owner = world.client("trainee")
    started = owner.post(
        f"/exams/{exam_id}/attempts",
        data={"csrf_token": token_for(owner), "scenario": f"{pack}/{scenario}"},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    exam_attempt = int(started.headers["location"].rstrip("/").rsplit("/", 1)[1])
    play(owner, exam_attempt, lines)
    proctor_client = world.client("proctor")
    released = proctor_client.post(
        f"/proctor/exams/{exam_id}/release",
        data={"csrf_token": token_for(proctor_client), "confirm": "1"},
        follow_redirects=False,
    )
    assert released.status_code == 303, released.text
    appealed = owner.post(
        f"/exams/{exam_id}/appeals",
        data={
            "csrf_token": token_for(owner),
            "attempt_id": str(exam_attempt),
            "reason": "Appeal " + " ".join(lines),
        },
        follow_redirects=False,
    )
    assert appealed.status_code == 303, appealed.text
    world.samples.update(
        {
            "exam_id": str(exam_id),
            "exam_attempt_id": str(exam_attempt),
            "appeal_id": str(only_id(app, "exam_appeals")),
            "cohort": COHORT,
        }
    )
    if has_route(app, "POST /proctor/exams/{exam_id}/second-marking"):
        chosen = proctor_client.post(
            f"/proctor/exams/{exam_id}/second-marking",
            data={"csrf_token": token_for(proctor_client), "rule": "all"},
            follow_redirects=False,
        )
        assert chosen.status_code == 303, chosen.text
        world.samples["mark_id"] = str(only_id(app, "second_marks"))


# --- a pack whose every shown field carries markup, and whose answer key carries canaries ---

# Each payload would leave a trace if it ran (a dialog, a global, an element with this id).
SCRIPT = '<script id="xss-script">window.__xss = 1; alert("script")</script>'
IMAGE = '<img src="/nothing" id="xss-img" onerror="window.__xss = 2; alert(\'img\')">'
BREAKOUT = '"><svg id="xss-svg" onload="alert(\'svg\')"></svg><b id="xss-b">bold</b>'
PAYLOADS = (SCRIPT, IMAGE, BREAKOUT)
INJECTED_IDS = ("xss-script", "xss-img", "xss-svg", "xss-b")
PAYLOAD_PACK = "payload-pack"
PAYLOAD_SCENARIO = "markup-everywhere"
# The answer key: words a trainee must never be sent (persona background, triggers, matchers,
# model answers). Each is a made-up word so that no page could contain it by chance.
SECRETS = {
    "background": "zqxbackground",
    "asked_by": "zqxaskedby",
    "when": "zqxwhen",
    "match": "zqxmatch",
    "example": "zqxexample",
}
CRITERION_DESCRIPTION = "Asks about zqxdescription " + SCRIPT


def payload_pack() -> dict[str, Any]:
    """A valid pack (as data, for yaml.safe_dump) with markup in every field a page shows."""
    return {
        "pack": {
            "id": PAYLOAD_PACK,
            "title": "Pack " + SCRIPT,
            "locale": "en",
            "version": 1,
            "description": "Described " + IMAGE,
        },
        "scenarios": [
            {
                "id": PAYLOAD_SCENARIO,
                "title": "Title " + SCRIPT + IMAGE,
                "brief": "Brief " + SCRIPT + "\n\nSecond paragraph " + IMAGE + BREAKOUT,
                "difficulty": "easy",
                "time_limit_s": 600,
                "persona": {
                    "name": "Persona " + BREAKOUT,
                    "mood": "calm",
                    "background": "Hidden " + SECRETS["background"],
                },
                "opening": "Opening " + SCRIPT + IMAGE,
                "facts": [
                    {
                        "id": "allergy",
                        "asked_by": ["allergy", "allergies", SECRETS["asked_by"]],
                        "reply": "Fact reply " + IMAGE,
                    },
                    {
                        "id": "never-asked",
                        "asked_by": ["nothing anyone asks"],
                        "reply": "Unrevealed " + BREAKOUT,
                    },
                ],
                "reactions": [
                    {
                        "id": "greeted",
                        "when": ["hello", SECRETS["when"]],
                        "say": "Reaction " + BREAKOUT,
                    }
                ],
                "fallback": ["Fallback " + SCRIPT],
                "ends_when": ["goodbye"],
                "farewell": "Farewell " + IMAGE,
                "rubric": {
                    "pass_mark": 50,
                    "criteria": [
                        {
                            "id": "asks-allergy",
                            "kind": "inquiry",
                            "description": CRITERION_DESCRIPTION,
                            # Practice hints coach with this line (evaluator/hints.py).
                            "hint": CRITERION_DESCRIPTION,
                            "match": ["allergy", "allergies", SECRETS["match"]],
                            "weight": 2,
                        },
                        {
                            "id": "greets",
                            "kind": "etiquette",
                            "description": "Greets " + IMAGE,
                            "match": ["hello"],
                            "within_first": 1,
                        },
                    ],
                },
                "examples": [
                    {
                        "name": "model " + SECRETS["example"],
                        "trainee": ["Hello! Any allergies? " + SECRETS["example"]],
                        "expect": {"passed": True},
                    }
                ],
            }
        ],
    }


def write_payload_pack(folder: Path) -> Path:
    """The payload pack as a YAML file in `folder`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PAYLOAD_PACK}.yaml").write_text(
        yaml.safe_dump(payload_pack(), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return folder
