"""A third reviewer for second marking (storage/second.py, web/routes/second.py): who may be
assigned, who may open and settle, what the third reviewer sees, the grade and the audit,
and what the proctor sees afterwards."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from queue_support import NEGATED, an_exam, flagged_attempt
from review_support import GOOD, attempt_of, audit_rows
from sqlmodel import Session, select
from web_support import SAME_ORIGIN, add_user, csrf_token, login

from sandbox.storage.models import Role, SecondMark, User

pytestmark = pytest.mark.backends("sqlite", "postgres")

FLIP = {"met": "missed", "missed": "met", "clear": "violated", "violated": "clear"}


def signed(app: FastAPI, name: str) -> TestClient:
    client = TestClient(app, headers=SAME_ORIGIN)
    login(client, name)
    return client


def post(client: TestClient, page: str, url: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def the_mark(app: FastAPI) -> SecondMark:
    with Session(app.state.sandbox.engine) as session:
        return session.exec(select(SecondMark)).one()


def user_id(app: FastAPI, name: str) -> int:
    with Session(app.state.sandbox.engine) as session:
        found = session.exec(select(User).where(User.name == name)).one()
        assert found.id is not None
        return found.id


@pytest.fixture
def disagreement(app: FastAPI) -> dict[str, object]:
    """A failed exam conversation of tao (mentor mo), second-marked by ann with one
    criterion different: it waits to be settled."""
    add_user(app, "pat", Role.PROCTOR)
    for name in ("mo", "ann", "cy", "dee"):
        add_user(app, name, Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    add_user(app, "kim", Role.TRAINEE, mentor="mo")
    exam = an_exam(app, candidates=("tao", "kim"))
    failed = flagged_attempt(app, "tao", NEGATED, exam_id=exam)
    flagged_attempt(app, "kim", GOOD, exam_id=exam)
    page = f"/proctor/exams/{exam}/second-marking"
    pat = signed(app, "pat")
    assert (
        post(pat, page, page, {"rule": "failed", "points": "5", "share": "20"}).status_code == 303
    )
    row = the_mark(app)
    first = row.first
    changed = next(c for c in first if first[c] in FLIP)
    given = [FLIP[first[c]] if c == changed else first[c] for c in first]
    ann = signed(app, "ann")
    url = f"/mentor/second/{row.id}"
    assert post(ann, url, url, {"criterion": list(first), "status": given}).status_code == 303
    assert the_mark(app).state == "marked"
    pat.close()
    ann.close()
    return {"exam": exam, "failed": failed, "mark": row.id, "changed": changed, "first": first}


def test_a_third_reviewer_sees_both_marks_and_settles(
    app: FastAPI, disagreement: dict[str, object]
) -> None:
    exam, mark_id, changed = disagreement["exam"], disagreement["mark"], disagreement["changed"]
    first = disagreement["first"]
    assert isinstance(first, dict) and isinstance(changed, str)
    page = f"/proctor/exams/{exam}/second-marking"
    pat = signed(app, "pat")
    html = pat.get(page).text
    # Offered: the mentors who are neither the candidate's mentor (mo) nor the second (ann).
    assert f'id="third-form-{mark_id}"' in html
    offered = html.split(f'id="third-{mark_id}"', 1)[1].split("</select>", 1)[0]
    assert ">cy<" in offered and ">dee<" in offered
    assert ">mo<" not in offered and ">ann<" not in offered
    # Neither the second marker nor the candidate's mentor can be assigned by hand.
    for name in ("ann", "mo"):
        refused = post(
            pat, page, f"/proctor/second-marks/{mark_id}/third", {"third": user_id(app, name)}
        )
        assert refused.status_code == 400 and 'id="second-error"' in refused.text
    assert (
        post(pat, page, f"/proctor/second-marks/{mark_id}/third", {"third": "x"}).status_code == 400
    )
    assert the_mark(app).third_id is None
    # A mentor cannot assign: the proctor area is closed to them.
    cy = signed(app, "cy")
    assert cy.get(page).status_code == 403
    assigned = post(
        pat, page, f"/proctor/second-marks/{mark_id}/third", {"third": user_id(app, "cy")}
    )
    assert assigned.status_code == 303
    assert the_mark(app).third_id == user_id(app, "cy")
    event = audit_rows(app, "second.assign_third")[-1]
    assert event.new["name"] == "cy"  # type: ignore[index]
    assert f'id="third-waiting-{mark_id}"' in pat.get(page).text

    # Only the assigned third reviewer opens and settles it.
    third_url = f"/mentor/second/third/{mark_id}"
    for name in ("dee", "ann", "mo"):
        other = signed(app, name)
        assert other.get(third_url).status_code == 404
        assert f'id="third-item-{mark_id}"' not in other.get("/mentor/second").text
        other.close()
    assert f'id="third-item-{mark_id}"' in cy.get("/mentor/second").text
    seen = cy.get(third_url).text
    # Both marks, unnamed, for the disagreement; no reviewer's name, no candidate name.
    row_html = seen.split(f'id="third-disagree-{changed}"', 1)[1].split("</tr>", 1)[0]
    assert f"third-status-{changed}" in row_html
    for name in ("ann", "tao", "pat"):
        assert f">{name}<" not in seen
    assert "tao" not in seen
    no_reason = post(
        cy,
        third_url,
        third_url,
        {"criterion": [changed], "status": [FLIP[first[changed]]], "reason": " "},
    )
    assert no_reason.status_code == 400 and 'id="third-error"' in no_reason.text
    wrong = post(
        cy,
        third_url,
        third_url,
        {"criterion": [changed], "status": ["not_applicable"], "reason": "r"},
    )
    assert wrong.status_code == 400
    before = attempt_of(app, int(disagreement["failed"])).score  # type: ignore[call-overload]
    settled = post(
        cy,
        third_url,
        third_url,
        {
            "criterion": [changed],
            "status": [FLIP[first[changed]]],
            "reason": "The second read is right.",
        },
    )
    assert settled.status_code == 303
    row = the_mark(app)
    assert row.state == "settled" and row.settled_by == user_id(app, "cy")
    assert row.settled is not None and row.settled[changed] == FLIP[first[changed]]
    attempt = attempt_of(app, int(disagreement["failed"]))  # type: ignore[call-overload]
    entry = next(c for c in attempt.grade["criteria"] if c["id"] == changed)  # type: ignore[index]
    assert entry["status"] == FLIP[first[changed]] and attempt.score != before
    event = audit_rows(app, "second.settle")[-1]
    assert event.actor_id == user_id(app, "cy") and event.new["by"] == "third"  # type: ignore[index]
    assert event.reason == "The second read is right."
    # Settled: the third reviewer's page is gone; the proctor sees who settled and how.
    assert cy.get(third_url).status_code == 404
    outcome = pat.get(page).text
    assert f'id="settled-{mark_id}"' in outcome and "cy, the third reviewer" in outcome
    assert f'id="outcome-{mark_id}"' in outcome
    pat.close()
    cy.close()


def test_the_proctor_may_still_settle_after_assigning(
    app: FastAPI, disagreement: dict[str, object]
) -> None:
    exam, mark_id, changed = disagreement["exam"], disagreement["mark"], disagreement["changed"]
    first = disagreement["first"]
    assert isinstance(first, dict) and isinstance(changed, str)
    page = f"/proctor/exams/{exam}/second-marking"
    pat = signed(app, "pat")
    post(pat, page, f"/proctor/second-marks/{mark_id}/third", {"third": user_id(app, "dee")})
    done = post(
        pat,
        page,
        f"/proctor/second-marks/{mark_id}/settle",
        {"criterion": [changed], "status": [first[changed]], "reason": "Kept the first."},
    )
    assert done.status_code == 303
    assert the_mark(app).settled_by == user_id(app, "pat")
    dee = signed(app, "dee")
    assert dee.get(f"/mentor/second/third/{mark_id}").status_code == 404
    # Nothing to assign once settled.
    late = post(pat, page, f"/proctor/second-marks/{mark_id}/third", {"third": user_id(app, "cy")})
    assert late.status_code == 400
    pat.close()
    dee.close()
