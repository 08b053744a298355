"""xAPI export of an exam: the statements validate against the JSON schema of the fields
this export writes (tests/data/xapi-statement.schema.json), carry the criteria, and are
the same on a second export."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from exam_support import COLD, INSULIN, FakeClock, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_web_exams import _graded

from sandbox.storage.models import User

SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "xapi-statement.schema.json").read_text("utf-8")
)


def test_the_exam_exports_valid_xapi_statements(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people, scenario=[COLD, INSULIN])
    criteria = [{"id": "greet", "kind": "etiquette", "status": "met", "weight": 1}]
    _graded(app, exam_id, people["tao"], COLD, 90, clock, criteria=criteria)
    _graded(app, exam_id, people["mei"], INSULIN, 40, clock)
    response = proctor.get(f"/proctor/exams/{exam_id}/xapi.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    found = response.json()
    jsonschema.validate(
        found, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    verbs = [(s["actor"]["account"]["name"], s["verb"]["display"]["en-US"]) for s in found]
    expected = [("tao", "attempted"), ("tao", "scored"), ("tao", "passed")]
    expected += [("mei", "attempted"), ("mei", "scored"), ("mei", "failed")]
    assert sorted(verbs) == sorted(expected)
    scored = next(s for s in found if s["verb"]["display"]["en-US"] == "passed")
    assert scored["result"]["score"] == {"scaled": 0.9, "raw": 90.0, "min": 0, "max": 100}
    extension = next(iter(scored["result"]["extensions"].values()))
    assert extension == [{"id": "greet", "kind": "etiquette", "status": "met"}]
    assert proctor.get(f"/proctor/exams/{exam_id}/xapi.json").json() == found
    assert 'id="xapi-link"' in proctor.get(f"/proctor/exams/{exam_id}/report").text


def test_a_statement_that_breaks_the_schema_is_caught() -> None:
    bad = [{"id": "not-a-uuid", "actor": {}, "verb": {}, "object": {}, "timestamp": "x"}]
    try:
        jsonschema.validate(bad, SCHEMA)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted a broken statement")
