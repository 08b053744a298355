"""xAPI statements: their shape (checked against the statement schema of the xAPI 1.0.3
specification), the downloads per exam and per cohort, and pushing to a learning record
store (a real HTTP server on a local socket that checks the xAPI headers and credentials)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from exam_support import COLD, INSULIN, FakeClock, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from web_support import csrf_token, make_settings

from sandbox.config import Settings
from sandbox.exams.xapi import (
    QUIZ_ACTIVITY_TYPE,
    VERBS,
    ActivityRecord,
    CriterionResult,
    statements,
)
from sandbox.storage.models import Attempt, AttemptMessage, User

# --- the statement schema ------------------------------------------------------------------
# The subset of the xAPI 1.0.3 statement rules this product relies on, from the specification
# "xAPI-Data.md" (https://github.com/adlnet/xAPI-Spec/blob/master/xAPI-Data.md):
# 2.4 Statement properties (id is a UUID, actor/verb/object required, timestamp ISO 8601),
# 2.4.2.1 Agent with exactly one inverse functional identifier (here `account`: homePage IRL
# and name), 2.4.3 Verb (id IRI, display a language map), 2.4.4.1 Activity (id IRI,
# definition name and type), 2.4.5 Result (score.scaled in -1..1, raw within min..max,
# success and completion booleans, duration ISO 8601, extensions keyed by IRIs), 2.4.6
# Context (registration a UUID, contextActivities.parent a list of activities, extensions),
# 2.4.10 version "1.0.x".

UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
IRI = r"^[a-z][a-z0-9+.-]*:[^\s]+$"
LANGUAGE_MAP = {
    "type": "object",
    "minProperties": 1,
    "patternProperties": {r"^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$": {"type": "string"}},
    "additionalProperties": False,
}
EXTENSIONS = {"type": "object", "propertyNames": {"pattern": IRI}}
ACTIVITY = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "objectType": {"const": "Activity"},
        "id": {"type": "string", "pattern": IRI},
        "definition": {
            "type": "object",
            "properties": {
                "name": LANGUAGE_MAP,
                "description": LANGUAGE_MAP,
                "type": {"type": "string", "pattern": IRI},
            },
        },
    },
    "additionalProperties": False,
}
STATEMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "actor", "verb", "object", "timestamp"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": UUID},
        "actor": {
            "type": "object",
            "required": ["account"],
            "not": {"anyOf": [{"required": ["mbox"]}, {"required": ["openid"]}]},
            "properties": {
                "objectType": {"const": "Agent"},
                "name": {"type": "string"},
                "account": {
                    "type": "object",
                    "required": ["homePage", "name"],
                    "properties": {
                        "homePage": {"type": "string", "pattern": r"^https?://"},
                        "name": {"type": "string", "minLength": 1},
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
        "verb": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string", "pattern": IRI}, "display": LANGUAGE_MAP},
            "additionalProperties": False,
        },
        "object": ACTIVITY,
        "result": {
            "type": "object",
            "properties": {
                "score": {
                    "type": "object",
                    "properties": {
                        "scaled": {"type": "number", "minimum": -1, "maximum": 1},
                        "raw": {"type": "number"},
                        "min": {"type": "number"},
                        "max": {"type": "number"},
                    },
                    "additionalProperties": False,
                },
                "success": {"type": "boolean"},
                "completion": {"type": "boolean"},
                "response": {"type": "string"},
                "duration": {
                    "type": "string",
                    "pattern": r"^P(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$",
                },
                "extensions": EXTENSIONS,
            },
            "additionalProperties": False,
        },
        "context": {
            "type": "object",
            "properties": {
                "registration": {"type": "string", "pattern": UUID},
                "platform": {"type": "string"},
                "contextActivities": {
                    "type": "object",
                    "properties": {"parent": {"type": "array", "items": ACTIVITY}},
                    "additionalProperties": False,
                },
                "extensions": EXTENSIONS,
            },
            "additionalProperties": False,
        },
        "timestamp": {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
        },
        "version": {"type": "string", "pattern": r"^1\.0\.\d+$"},
    },
}
VALIDATOR = jsonschema_rs.Draft202012Validator(STATEMENT_SCHEMA)


def check(statement: dict[str, Any]) -> None:
    """Fails with every schema problem of a statement, plus the score's range rule."""
    problems = [f"{list(e.instance_path)}: {e.message}" for e in VALIDATOR.iter_errors(statement)]
    assert not problems, problems
    score = statement.get("result", {}).get("score")
    if score and "raw" in score:
        assert score["min"] <= score["raw"] <= score["max"]


# --- the pure statements -------------------------------------------------------------------

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _record(**changes: Any) -> ActivityRecord:
    values: dict[str, Any] = {
        "key": "attempt:7",
        "kind": "conversation",
        "learner": "tao",
        "activity": "scenarios/pharmacy-basics/cold-remedy-hypertension",
        "title": "Cold remedy",
        "started_at": START,
        "ended_at": START + timedelta(seconds=192.5),
        "graded_at": START + timedelta(seconds=200),
        "score": 82.5,
        "passed": True,
        "responses": 6,
        "criteria": (
            CriterionResult("greeting", "met", "Greets the customer"),
            CriterionResult("no-diagnosis", "clear", "Does not diagnose", critical=True),
        ),
        "parents": (("exams/3", "Practical", "http://adlnet.gov/expapi/activities/assessment"),),
    }
    values.update(changes)
    return ActivityRecord(**values)


def test_the_schema_refuses_what_the_spec_refuses() -> None:
    good = statements(_record(), "https://sandbox.example.org")[2]
    assert VALIDATOR.is_valid(good)
    bad_score = {**good, "result": {**good["result"], "score": {"scaled": 1.5}}}
    no_actor = {k: v for k, v in good.items() if k != "actor"}
    two_ids = {**good, "actor": {**good["actor"], "mbox": "mailto:tao@example.org"}}
    bad_id = {**good, "id": "attempt-7"}
    bad_time = {**good, "timestamp": "yesterday"}
    for wrong in (bad_score, no_actor, two_ids, bad_id, bad_time):
        assert not VALIDATOR.is_valid(wrong)


def test_a_graded_conversation_gives_four_valid_statements() -> None:
    found = statements(_record(), "https://sandbox.example.org/")
    assert [s["verb"]["id"] for s in found] == [
        VERBS["attempted"],
        VERBS["answered"],
        VERBS["scored"],
        VERBS["passed"],
    ]
    for statement in found:
        check(statement)
    attempted, answered, scored, passed = found
    assert attempted["timestamp"] == "2026-12-01T09:00:00.000Z" and "result" not in attempted
    assert answered["result"] == {"completion": True, "duration": "PT192.5S", "response": "6"}
    assert scored["result"]["score"] == {"scaled": 0.825, "raw": 82.5, "min": 0, "max": 100}
    criteria = scored["result"]["extensions"][
        "https://sandbox.example.org/xapi/extensions/criteria"
    ]
    assert criteria[1] == {
        "id": "no-diagnosis",
        "status": "clear",
        "description": "Does not diagnose",
        "critical": True,
    }
    assert passed["result"]["success"] is True
    assert scored["actor"]["account"] == {"homePage": "https://sandbox.example.org", "name": "tao"}
    assert scored["object"]["id"] == (
        "https://sandbox.example.org/scenarios/pharmacy-basics/cold-remedy-hypertension"
    )
    parent = scored["context"]["contextActivities"]["parent"][0]
    assert parent["id"] == "https://sandbox.example.org/exams/3"
    # One registration per attempt; ids differ per verb and are the same when made again.
    assert len({s["context"]["registration"] for s in found}) == 1
    assert len({s["id"] for s in found}) == 4
    assert [s["id"] for s in statements(_record(), "https://sandbox.example.org")] == [
        s["id"] for s in found
    ]


def test_unfinished_ungraded_and_failed_attempts_say_only_what_is_known() -> None:
    base = "http://127.0.0.1:8000"
    running = statements(_record(ended_at=None, graded_at=None, score=None, passed=None), base)
    assert [s["verb"]["display"]["en-US"] for s in running] == ["attempted"]
    ungraded = statements(_record(score=None, passed=None), base)
    assert [s["verb"]["display"]["en-US"] for s in ungraded] == ["attempted", "answered"]
    failed = statements(_record(score=40, passed=False), base)
    assert failed[-1]["verb"]["id"] == VERBS["failed"]
    assert failed[-1]["result"]["success"] is False
    pending = statements(_record(passed=None), base)  # scored, outcome not decided
    assert [s["verb"]["display"]["en-US"] for s in pending][-1] == "scored"
    for statement in running + ungraded + failed + pending:
        check(statement)


def test_a_quiz_fits_the_same_hook() -> None:
    quiz = _record(
        key="quiz-attempt:1",
        kind="quiz",
        activity="quizzes/dosage",
        title="Dosage quiz",
        activity_type=QUIZ_ACTIVITY_TYPE,
        criteria=(CriterionResult("q1", "met"), CriterionResult("q2", "missed")),
        parents=(),
    )
    found = statements(quiz, "https://sandbox.example.org")
    for statement in found:
        check(statement)
    assert found[0]["object"]["definition"]["type"] == QUIZ_ACTIVITY_TYPE
    assert "contextActivities" not in found[0]["context"]
    assert found[0]["id"] != statements(_record(), "https://sandbox.example.org")[0]["id"]


# --- a learning record store on a real socket ----------------------------------------------


class Store:
    """What the local store received, and what it refused."""

    def __init__(self) -> None:
        self.statements: dict[str, dict[str, Any]] = {}
        self.refused: list[str] = []
        self.requests = 0


def _handler(store: Store) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(b"sandbox:s3cret").decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _answer(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Experience-API-Version", "1.0.3")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            store.requests += 1
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path != "/xapi/statements":
                store.refused.append(f"path {self.path}")
                return self._answer(404, {"error": "no such resource"})
            if not (self.headers.get("X-Experience-API-Version") or "").startswith("1.0."):
                store.refused.append("version header")
                return self._answer(400, {"error": "X-Experience-API-Version missing"})
            if self.headers.get("Authorization") != expected:
                store.refused.append("credentials")
                return self._answer(401, {"error": "unauthorised"})
            if self.headers.get("Content-Type") != "application/json":
                store.refused.append("content type")
                return self._answer(400, {"error": "not JSON"})
            batch = json.loads(body)
            for statement in batch:
                check(statement)
                store.statements.setdefault(statement["id"], statement)
            return self._answer(200, [s["id"] for s in batch])

    return Handler


@pytest.fixture
def store() -> Iterator[tuple[Store, str]]:
    found = Store()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found, f"http://127.0.0.1:{server.server_address[1]}/xapi"
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, store: tuple[Store, str]) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        xapi_base_iri="https://sandbox.example.org",
        lrs_url=store[1],
        lrs_username="sandbox",
        lrs_password="s3cret",
    )


def _attempt(
    app: FastAPI, exam_id: int, user: User, scenario: str, clock: FakeClock, score: float | None
) -> int:
    pack_id, scenario_id = scenario.split("/")
    criteria = [
        {"id": "greeting", "kind": "required", "status": "met", "description": "Greets"},
        {"id": "no-diagnosis", "kind": "forbidden", "status": "clear", "critical": True},
    ]
    with Session(app.state.sandbox.engine) as session:
        attempt = Attempt(
            user_id=user.id or 0,
            pack_id=pack_id,
            pack_version=1,
            scenario_id=scenario_id,
            mode="exam",
            time_limit_s=120,
            started_at=clock.now,
            exam_id=exam_id,
            deadline_at=clock.now + timedelta(seconds=120),
            ended_at=clock.now + timedelta(seconds=60),
            end_reason="finished",
            score=score,
            passed=None if score is None else score >= 70,
            graded_at=None if score is None else clock.now + timedelta(seconds=61),
            grade=None if score is None else {"score": score, "criteria": criteria},
        )
        session.add(attempt)
        session.flush()
        assert attempt.id is not None
        for seq, role in enumerate(("persona", "trainee", "persona", "trainee")):
            session.add(
                AttemptMessage(attempt_id=attempt.id, seq=seq, role=role, text="hello", at=seq)
            )
        session.commit()
        return attempt.id


def test_an_exam_and_its_cohort_download_as_statements(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people, cohort="2026-A", scenario=[COLD, INSULIN])
    tao = _attempt(app, exam_id, people["tao"], COLD, clock, 88)
    _attempt(app, exam_id, people["mei"], COLD, clock, 40)
    _attempt(app, exam_id, people["mei"], INSULIN, clock, None)  # ended, not graded yet
    response = proctor.get(f"/proctor/exams/{exam_id}/xapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert f'filename="exam-{exam_id}-xapi.json"' in response.headers["content-disposition"]
    found = response.json()
    for statement in found:
        check(statement)
    verbs = [(s["actor"]["name"], s["verb"]["display"]["en-US"]) for s in found]
    assert verbs == [
        ("tao", "attempted"),
        ("tao", "answered"),
        ("tao", "scored"),
        ("tao", "passed"),
        ("mei", "attempted"),
        ("mei", "answered"),
        ("mei", "scored"),
        ("mei", "failed"),
        ("mei", "attempted"),
        ("mei", "answered"),
    ]
    scored = found[2]
    assert scored["object"]["definition"]["name"]["en-US"] != COLD  # the scenario's title
    assert scored["context"]["extensions"][
        "https://sandbox.example.org/xapi/extensions/attempt"
    ] == (f"attempt:{tao}")
    assert found[1]["result"]["response"] == "2"  # the trainee's two replies
    parents = [p["id"] for p in scored["context"]["contextActivities"]["parent"]]
    assert parents == [
        f"https://sandbox.example.org/exams/{exam_id}",
        "https://sandbox.example.org/cohorts/2026-A",
    ]
    cohort = proctor.get("/proctor/cohorts/2026-A/xapi.json")
    assert cohort.status_code == 200 and cohort.json() == found
    assert proctor.get("/proctor/cohorts/nobody/xapi.json").status_code == 404
    page = proctor.get(f"/proctor/exams/{exam_id}/report").text
    assert f'href="/proctor/exams/{exam_id}/xapi.json"' in page
    assert 'id="xapi-push"' in page  # a store is configured


def test_a_trainee_cannot_download_statements(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    with TestClient(app) as other:
        from web_support import login

        login(other, "tao")
        assert other.get(f"/proctor/exams/{exam_id}/xapi.json").status_code == 403


def _push(proctor: TestClient, url: str, report: str) -> Any:
    page = proctor.get(report)
    return proctor.post(url, data={"csrf_token": csrf_token(page.text)})


def test_statements_are_pushed_to_the_store_once(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    store: tuple[Store, str],
) -> None:
    received, _ = store
    exam_id = make_exam(proctor, clock, people, cohort="2026-A")
    _attempt(app, exam_id, people["tao"], COLD, clock, 88)
    _attempt(app, exam_id, people["mei"], COLD, clock, 40)
    report = f"/proctor/exams/{exam_id}/report"
    response = _push(proctor, f"/proctor/exams/{exam_id}/xapi/push", report)
    assert response.status_code == 200, response.text
    assert "8 statements sent to the learning record store." in response.text
    assert len(received.statements) == 8 and received.refused == []
    # Again, for the cohort: the same ids, so the store still holds one copy of each.
    response = _push(proctor, "/proctor/cohorts/2026-A/xapi/push", "/proctor/cohorts/2026-A/report")
    assert response.status_code == 200
    assert len(received.statements) == 8
    # A forged form is refused before anything is sent.
    requests = received.requests
    forged = proctor.post(f"/proctor/exams/{exam_id}/xapi/push", data={"csrf_token": "x"})
    assert forged.status_code == 403 and received.requests == requests


def test_a_store_that_refuses_or_is_away_is_reported(
    app: FastAPI,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    store: tuple[Store, str],
) -> None:
    received, url = store
    exam_id = make_exam(proctor, clock, people)
    _attempt(app, exam_id, people["tao"], COLD, clock, 88)
    report = f"/proctor/exams/{exam_id}/report"
    settings = app.state.sandbox.settings
    settings.lrs_password = None  # wrong credentials
    response = _push(proctor, f"/proctor/exams/{exam_id}/xapi/push", report)
    assert response.status_code == 424  # the store failed; the product did not (no 5xx)
    assert f"Nothing more was sent: the store at {url}/statements answered HTTP 401" in (
        response.text
    )
    assert received.refused == ["credentials"] and received.statements == {}
    settings.lrs_url = "http://127.0.0.1:9"  # nobody listens on the discard port
    response = _push(proctor, f"/proctor/exams/{exam_id}/xapi/push", report)
    assert response.status_code == 424 and "could not be reached" in response.text
    settings.lrs_url = ""
    page = proctor.get(report).text
    assert 'id="xapi-push"' not in page
    response = _push(proctor, f"/proctor/exams/{exam_id}/xapi/push", report)
    assert response.status_code == 409
    assert "No learning record store is configured" in response.text


def test_a_bad_store_address_is_named_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SANDBOX_LRS_URL must start with http"):
        Settings(lrs_url="ftp://lrs.example.org", var_dir=tmp_path)
