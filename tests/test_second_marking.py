"""Second marking (exams/second_marking.py, storage/second.py, web/routes/second.py): the
rules that choose conversations, blindness, the frozen first mark, settling, the audit."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from queue_support import NEGATED, an_exam, flagged_attempt
from review_support import GOOD, attempt_of, audit_rows
from sqlmodel import Session, select
from web_support import SAME_ORIGIN, add_user, csrf_token, login

from sandbox.exams.second_marking import Candidate, SelectionError, choose, disagreements
from sandbox.storage.models import Role, SecondMark

# The tests that use a database run on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")

# --- choosing, pure ---------------------------------------------------------------------------

PEOPLE = [
    Candidate(1, 95, True),
    Candidate(2, 72, True),
    Candidate(3, 68, False),
    Candidate(4, 40, False),
    Candidate(5, 66, False),
]


def test_each_rule_chooses_what_it_says() -> None:
    assert choose(PEOPLE, "failed", pass_line=70) == [3, 4, 5]
    assert choose(PEOPLE, "borderline", pass_line=70, points=2) == [2, 3]
    assert choose(PEOPLE, "borderline", pass_line=70, points=4) == [2, 3, 5]
    assert choose(PEOPLE, "all", pass_line=70) == [1, 2, 3, 4, 5]
    picked = choose(PEOPLE, "random", pass_line=70, share=40, seed=7)
    assert len(picked) == 2 and set(picked) <= {1, 2, 3, 4, 5}
    assert choose(PEOPLE, "random", pass_line=70, share=40, seed=7) == picked  # repeatable
    assert len(choose(PEOPLE, "random", pass_line=70, share=1, seed=1)) == 1  # at least one
    assert choose([], "random", pass_line=70) == []
    for rule, kwargs, field in (
        ("sometimes", {}, "rule"),
        ("borderline", {"points": -1}, "points"),
        ("random", {"share": 0}, "share"),
        ("random", {"share": 101}, "share"),
    ):
        with pytest.raises(SelectionError) as raised:
            choose(PEOPLE, rule, pass_line=70, **kwargs)  # type: ignore[arg-type]
        assert raised.value.field == field


def test_disagreements_keep_the_first_marks_order() -> None:
    first = {"a": "met", "b": "missed", "c": "clear"}
    assert disagreements(first, {"a": "met", "b": "met", "c": "violated"}) == ["b", "c"]
    assert disagreements(first, dict(first)) == []


# --- the flow on the real app -----------------------------------------------------------------


@pytest.fixture
def cast(app: FastAPI) -> dict[str, int]:
    add_user(app, "pat", Role.PROCTOR)
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "ann", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    add_user(app, "kim", Role.TRAINEE, mentor="mo")
    exam = an_exam(app, candidates=("tao", "kim"))
    return {
        "exam": exam,
        "failed": flagged_attempt(app, "tao", NEGATED, exam_id=exam),
        "passed": flagged_attempt(app, "kim", GOOD, exam_id=exam),
    }


def signed(app: FastAPI, name: str) -> TestClient:
    other = TestClient(app, headers=SAME_ORIGIN)
    login(other, name)
    return other


def post(client: TestClient, page: str, url: str, data: dict[str, object]) -> object:
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def rows(app: FastAPI) -> list[SecondMark]:
    with Session(app.state.sandbox.engine) as session:
        return list(session.exec(select(SecondMark).order_by(SecondMark.id)).all())  # type: ignore[arg-type]


def test_blind_marking_freezing_settling_and_the_audit(app: FastAPI, cast: dict[str, int]) -> None:
    exam, failed = cast["exam"], cast["failed"]
    page = f"/proctor/exams/{exam}/second-marking"
    pat = signed(app, "pat")
    bad = post(pat, page, page, {"rule": "sometimes"})
    assert bad.status_code == 400 and 'id="second-error"' in bad.text  # type: ignore[attr-defined]
    done = post(pat, page, page, {"rule": "failed", "points": "5", "share": "20"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    chosen = rows(app)
    assert [r.attempt_id for r in chosen] == [failed]  # only the failed conversation
    first = chosen[0].first
    assert first == {c["id"]: c["status"] for c in attempt_of(app, failed).grade["criteria"]}  # type: ignore[index]
    assert audit_rows(app, "second.select")[-1].new["attempts"] == [failed]  # type: ignore[index]
    # Choosing again does not open a second row for the same conversation.
    post(pat, page, page, {"rule": "all", "points": "5", "share": "20"})
    assert len(rows(app)) == 2

    # The first mark is frozen: the mentor's override and queue decisions are refused.
    mo = signed(app, "mo")
    criterion = next(iter(first))
    refused = post(
        mo,
        f"/mentor/attempts/{failed}",
        f"/mentor/attempts/{failed}/overrides",
        {"criterion": criterion, "status": "met", "reason": "x"},
    )
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "first mark is frozen" in refused.text  # type: ignore[attr-defined]

    # The trainees' own mentor may not give the second mark; another mentor may, blind.
    mark_id = chosen[0].id
    assert "second-item-" not in mo.get("/mentor/second").text
    assert mo.get(f"/mentor/second/{mark_id}").status_code == 404
    ann = signed(app, "ann")
    listed = ann.get("/mentor/second").text
    assert f'id="second-item-{mark_id}"' in listed
    blind = ann.get(f"/mentor/second/{mark_id}").text
    assert "tao" not in blind  # the candidate's name is not shown
    assert 'class="marks"' not in blind and "automatic" not in blind  # no verdicts shown
    assert not re.search(r'<option value="\w+" selected', blind)  # nothing pre-chosen
    # Every criterion needs a status.
    criteria = list(first)
    partial = post(
        ann,
        f"/mentor/second/{mark_id}",
        f"/mentor/second/{mark_id}",
        {"criterion": criteria, "status": [first[c] for c in criteria[:-1]] + [""]},
    )
    assert partial.status_code == 400  # type: ignore[attr-defined]
    # ann agrees on everything but one criterion.
    flip = {"met": "missed", "missed": "met", "clear": "violated", "violated": "clear"}
    changed = next(c for c in criteria if first[c] in flip)
    given = [flip[first[c]] if c == changed else first[c] for c in criteria]
    marked = post(
        ann,
        f"/mentor/second/{mark_id}",
        f"/mentor/second/{mark_id}",
        {"criterion": criteria, "status": given},
    )
    assert marked.status_code == 303  # type: ignore[attr-defined]
    row = rows(app)[0]
    assert (
        row.state == "marked" and row.second is not None and row.second[changed] != first[changed]
    )
    assert audit_rows(app, "second.mark")[-1].new["disagreements"] == [changed]  # type: ignore[index]

    # The proctor sees both marks and settles, with a reason; the grade takes the result.
    proctor_page = pat.get(page).text
    assert f'id="disagree-{mark_id}-{changed}"' in proctor_page
    no_reason = post(
        pat,
        page,
        f"/proctor/second-marks/{mark_id}/settle",
        {"criterion": [changed], "status": [flip[first[changed]]], "reason": ""},
    )
    assert no_reason.status_code == 400  # type: ignore[attr-defined]
    before = attempt_of(app, failed).score
    settled = post(
        pat,
        page,
        f"/proctor/second-marks/{mark_id}/settle",
        {
            "criterion": [changed],
            "status": [flip[first[changed]]],
            "reason": "The second read is right.",
        },
    )
    assert settled.status_code == 303  # type: ignore[attr-defined]
    row = rows(app)[0]
    assert row.state == "settled" and row.settled is not None
    assert row.settled[changed] == flip[first[changed]]
    grade = attempt_of(app, failed).grade
    entry = next(c for c in grade["criteria"] if c["id"] == changed)  # type: ignore[index]
    assert entry["status"] == flip[first[changed]] and entry["automatic_status"] == first[changed]
    assert attempt_of(app, failed).score != before
    assert attempt_of(app, failed).reviewed_at is not None  # no longer held as provisional
    event = audit_rows(app, "second.settle")[-1]
    assert event.reason == "The second read is right."
    assert event.old["second"][changed] == flip[first[changed]]  # type: ignore[index]
    # Settled is settled: nothing more to settle.
    again = post(
        pat,
        page,
        f"/proctor/second-marks/{mark_id}/settle",
        {"criterion": [changed], "status": [first[changed]], "reason": "again"},
    )
    assert again.status_code == 400  # type: ignore[attr-defined]
    for c in (pat, mo, ann):
        c.close()


def test_a_second_mark_that_agrees_settles_at_once(app: FastAPI, cast: dict[str, int]) -> None:
    exam = cast["exam"]
    page = f"/proctor/exams/{exam}/second-marking"
    pat = signed(app, "pat")
    post(pat, page, page, {"rule": "borderline", "points": "100", "share": "20"})
    ann = signed(app, "ann")
    for row in rows(app):
        criteria = list(row.first)
        post(
            ann,
            f"/mentor/second/{row.id}",
            f"/mentor/second/{row.id}",
            {"criterion": criteria, "status": [row.first[c] for c in criteria]},
        )
    assert {r.state for r in rows(app)} == {"settled"}
    assert all(r.settled == r.first for r in rows(app))
    pat.close()
    ann.close()


def test_the_pages_speak_chinese(app: FastAPI, cast: dict[str, int]) -> None:
    pat = signed(app, "pat")
    page = pat.get(f"/proctor/exams/{cast['exam']}/second-marking")
    pat.post("/language", data={"csrf_token": csrf_token(page.text), "locale": "zh-CN"})
    assert "二次评分" in pat.get(f"/proctor/exams/{cast['exam']}/second-marking").text
    pat.close()
