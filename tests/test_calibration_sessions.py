"""Calibration sessions (storage/calibration.py, web/routes/calibration_sessions.py): a set
built from settled conversations, a mentor's blind session over real HTTP, agreement and
Cohen's kappa against a hand computation, the report's section, and the migration."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from queue_support import NEGATED, flagged_attempt
from review_support import GOOD, attempt_of, audit_rows
from sqlalchemy import inspect, text
from sqlmodel import Session, select
from web_support import SAME_ORIGIN, add_user, csrf_token, login

from sandbox.evaluator.calibration import Answer, by_mentor, session_figure, session_result
from sandbox.storage import calibration as store
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Attempt, Role, SecondMark
from sandbox.storage.users import create_user

pytestmark = pytest.mark.backends("sqlite", "postgres")

# --- agreement and kappa, by hand ----------------------------------------------------------

#: Two conversations, four criteria each: (conversation, criterion, mentor's, settled).
KNOWN = [
    Answer(1, "a", "met", "met"),
    Answer(1, "b", "missed", "missed"),
    Answer(1, "c", "clear", "violated"),
    Answer(1, "d", "met", "met"),
    Answer(2, "a", "met", "missed"),
    Answer(2, "b", "missed", "missed"),
    Answer(2, "c", "clear", "clear"),
    Answer(2, "d", "met", "met"),
]


def test_a_sessions_agreement_and_kappa_match_a_hand_computation() -> None:
    # 6 of 8 agree: p_o = 0.75. The mentor says met 4, missed 2, clear 2; the settled
    # grades met 3, missed 3, violated 1, clear 1. p_e = (4*3 + 2*3 + 2*1 + 0*1) / 64
    # = 20/64 = 0.3125; kappa = (0.75 - 0.3125) / (1 - 0.3125) = 0.4375 / 0.6875 = 0.6364.
    result = session_result(KNOWN)
    assert result.agreement == pytest.approx(75.0)
    assert result.kappa == pytest.approx(0.6364, abs=1e-4)
    assert [(a.item, a.criterion) for a in result.differ] == [(1, "c"), (2, "a")]
    figure = session_figure(7, "ann", "Week 1", "2026-12-01 10:00", KNOWN)
    assert (figure.verdicts, figure.agree, figure.percent) == (8, 6, 75.0)
    later = session_figure(9, "ann", "Week 2", "2026-12-08 10:00", KNOWN[:4])
    other = session_figure(8, "bo", "Week 1", "2026-12-02 10:00", KNOWN[4:])
    grouped = by_mentor([later, other, figure])
    assert list(grouped) == ["ann", "bo"]
    assert [f.session_id for f in grouped["ann"]] == [7, 9]  # oldest first


# --- the flow over real HTTP -----------------------------------------------------------------


def signed(app: FastAPI, name: str) -> TestClient:
    client = TestClient(app, headers=SAME_ORIGIN)
    login(client, name)
    return client


def post(client: TestClient, page: str, url: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


@pytest.fixture
def settled(app: FastAPI) -> dict[str, int]:
    """Two reviewed conversations of trainee-tao, one of them overridden by mentor-morgan
    with a reason (the settled grade then differs from the grader's)."""
    add_user(app, "proctor-pat", Role.PROCTOR)
    add_user(app, "mentor-morgan", Role.MENTOR)
    add_user(app, "mentor-ann", Role.MENTOR)
    add_user(app, "trainee-tao", Role.TRAINEE, mentor="mentor-morgan")
    good = flagged_attempt(app, "trainee-tao", GOOD)
    negated = flagged_attempt(app, "trainee-tao", NEGATED)
    morgan = signed(app, "mentor-morgan")
    record = attempt_of(app, negated).grade
    assert record is not None
    missed = next(c["id"] for c in record["criteria"] if c["status"] == "missed")
    done = post(
        morgan,
        f"/mentor/attempts/{negated}",
        f"/mentor/attempts/{negated}/overrides",
        {"criterion": missed, "status": "met", "reason": "Warned in other words: ZEBRA-REASON"},
    )
    assert done.status_code == 303
    morgan.close()
    with Session(app.state.sandbox.engine) as session:
        for attempt_id in (good, negated):
            attempt = session.get(Attempt, attempt_id)
            assert attempt is not None
            attempt.reviewed_at = datetime.now(UTC)
            session.add(attempt)
        session.commit()
    return {"good": good, "negated": negated}


def statuses_of(app: FastAPI, attempt_id: int) -> dict[str, str]:
    record = attempt_of(app, attempt_id).grade
    assert record is not None
    return {c["id"]: c["status"] for c in record["criteria"]}


FLIP = {"met": "missed", "missed": "met", "clear": "violated", "violated": "clear"}


def test_a_blind_session_and_its_agreement(app: FastAPI, settled: dict[str, int]) -> None:
    good, negated = settled["good"], settled["negated"]
    # A mentor may not build a set; a proctor builds one from the settled conversations.
    ann = signed(app, "mentor-ann")
    assert ann.get("/proctor/calibration-sets").status_code == 403
    pat = signed(app, "proctor-pat")
    page = pat.get("/proctor/calibration-sets").text
    assert f'id="candidate-{good}"' in page and f'id="candidate-{negated}"' in page
    nameless = post(
        pat,
        "/proctor/calibration-sets",
        "/proctor/calibration-sets",
        {"name": " ", "attempt": [good]},
    )
    assert nameless.status_code == 400 and 'id="set-error"' in nameless.text
    empty = post(pat, "/proctor/calibration-sets", "/proctor/calibration-sets", {"name": "Week 1"})
    assert empty.status_code == 400 and "Choose at least one" in empty.text
    unknown = post(
        pat,
        "/proctor/calibration-sets",
        "/proctor/calibration-sets",
        {"name": "W", "attempt": ["999"]},
    )
    assert unknown.status_code == 400 and "999" in unknown.text
    made = post(
        pat,
        "/proctor/calibration-sets",
        "/proctor/calibration-sets",
        {"name": "Week 1", "attempt": [negated, good]},
    )
    assert made.status_code == 303
    assert audit_rows(app, "calibration.set")[-1].new["attempts"] == [negated, good]  # type: ignore[index]
    with Session(app.state.sandbox.engine) as session:
        [calset] = session.exec(select(store.CalibrationSet)).all()
        items = store.items_of(session=session, set_id=calset.id or 0)
    assert [i.attempt_id for i in items] == [negated, good]
    assert items[0].settled == statuses_of(app, negated)  # the settled grade, frozen

    # The mentor starts a session: the first conversation, blind.
    sessions = ann.get("/mentor/calibration/sessions").text
    assert f'id="session-set-{calset.id}"' in sessions
    started = post(
        ann, "/mentor/calibration/sessions", "/mentor/calibration/sessions", {"set_id": calset.id}
    )
    assert started.status_code == 303
    session_url = started.headers["location"]
    blind = ann.get(session_url).text
    assert 'id="calitem-form"' in blind
    # No verdict, no decision, no name: not the grader's marks, not the override or its
    # reason, not the reviewer, not the trainee.
    assert 'class="marks"' not in blind and "automatic" not in blind
    assert "ZEBRA-REASON" not in blind and "mentor-morgan" not in blind
    assert "trainee-tao" not in blind
    assert not re.search(r'<option value="\w+" selected', blind)
    for word in ("review.automatic_was", "Was "):
        assert word not in blind
    # Another mentor cannot open it.
    morgan = signed(app, "mentor-morgan")
    assert morgan.get(session_url).status_code == 404
    morgan.close()

    session_id = int(session_url.rsplit("/", 1)[1])
    first = statuses_of(app, negated)
    criteria = list(first)
    item_url = f"{session_url}/items/{items[0].id}"
    partial = post(
        ann,
        session_url,
        item_url,
        {"criterion": criteria, "status": [first[c] for c in criteria[:-1]] + [""]},
    )
    assert partial.status_code == 400 and 'id="calitem-error"' in partial.text
    # ann differs on one criterion of the first conversation, agrees on the second.
    changed = next(c for c in criteria if first[c] in FLIP)
    given = [FLIP[first[c]] if c == changed else first[c] for c in criteria]
    assert (
        post(ann, session_url, item_url, {"criterion": criteria, "status": given}).status_code
        == 303
    )
    # The same conversation again is not taken twice.
    again = post(ann, session_url, item_url, {"criterion": criteria, "status": given})
    assert again.status_code == 303
    second = statuses_of(app, good)
    blind_two = ann.get(session_url).text
    assert f"/items/{items[1].id}" in blind_two
    done = post(
        ann,
        session_url,
        f"{session_url}/items/{items[1].id}",
        {"criterion": list(second), "status": list(second.values())},
    )
    assert done.status_code == 303

    # The results: agreement and kappa of the pairs, the criterion that differed with the
    # settled evidence.
    pairs = [(s, s) for s in second.values()] + [
        (FLIP[first[c]] if c == changed else first[c], first[c]) for c in criteria
    ]
    agree = sum(a == b for a, b in pairs)
    result = ann.get(session_url).text
    assert f'id="calresult-agreement">{100 * agree / len(pairs):.1f}%' in result
    kappa = session_result([Answer(0, "", a, b) for a, b in pairs]).kappa
    assert kappa is not None
    assert f'id="calresult-kappa">{kappa:.2f}' in result
    assert f'id="differ-1-{changed}"' in result
    event = audit_rows(app, "calibration.session")[-1]
    assert event.new == {"session": session_id, "verdicts": len(pairs), "agree": agree}

    # The calibration report gains the session, for the mentor and for an admin.
    report = ann.get("/mentor/calibration").text
    assert f'id="session-figure-{session_id}"' in report
    add_user(app, "admin-ada", Role.ADMIN)
    ada = signed(app, "admin-ada")
    assert f'id="session-figure-{session_id}"' in ada.get("/mentor/calibration").text
    rows = list(csv.DictReader(io.StringIO(ada.get("/mentor/calibration.csv").text)))
    [row] = [r for r in rows if r["section"] == "session"]
    assert row["key"] == f"mentor-ann:{session_id}" and row["decided"] == str(len(pairs))
    # Another mentor's report does not list ann's session.
    morgan = signed(app, "mentor-morgan")
    assert f'id="session-figure-{session_id}"' not in morgan.get("/mentor/calibration").text
    for client in (ann, pat, ada, morgan):
        client.close()


def test_the_settled_evidence_is_shown_where_the_mentor_differed(
    app: FastAPI, settled: dict[str, int]
) -> None:
    negated = settled["negated"]
    pat = signed(app, "proctor-pat")
    post(
        pat,
        "/proctor/calibration-sets",
        "/proctor/calibration-sets",
        {"name": "One", "attempt": [negated]},
    )
    ann = signed(app, "mentor-ann")
    with Session(app.state.sandbox.engine) as session:
        [calset] = session.exec(select(store.CalibrationSet)).all()
        [item] = store.items_of(session=session, set_id=calset.id or 0)
    url = post(
        ann, "/mentor/calibration/sessions", "/mentor/calibration/sessions", {"set_id": calset.id}
    ).headers["location"]
    settled_now = statuses_of(app, negated)
    overridden = next(
        c["id"]
        for c in attempt_of(app, negated).grade["criteria"]
        if "automatic_status" in c  # type: ignore[index]
    )
    # ann gives the grader's status where the reviewer overrode it.
    given = [FLIP[s] if c == overridden else s for c, s in settled_now.items()]
    post(ann, url, f"{url}/items/{item.id}", {"criterion": list(settled_now), "status": given})
    result = ann.get(url).text
    assert f'id="differ-1-{overridden}"' in result
    assert "ZEBRA-REASON" in result  # the settled result's reason
    pat.close()
    ann.close()


# --- the migration ---------------------------------------------------------------------------


def test_the_migration_keeps_second_marks_and_adds_the_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0012")  # the head before calibration sessions and third reviewers
    with Session(engine) as session:
        pat = create_user(session=session, name="pat", role=Role.PROCTOR, password="x" * 12)
        tao = create_user(session=session, name="tao", role=Role.TRAINEE, password="x" * 12)
        session.commit()
        ids = {"pat": pat.id, "tao": tao.id, "now": datetime.now(UTC)}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO exams (id, name, time_limit_s, opens_at, closes_at, rules, "
                "created_at, updated_at) VALUES (1, 'E', 300, :now, :now, '{}', :now, :now)"
            ),
            ids,
        )
        connection.execute(
            text(
                "INSERT INTO attempts (id, user_id, pack_id, pack_version, scenario_id, mode, "
                "time_limit_s, started_at, exam_id, retake, grace_s, over_limit) "
                "VALUES (5, :tao, 'p', 1, 's', 'exam', 300, :now, 1, FALSE, 0, FALSE)"
            ),
            ids,
        )
        connection.execute(
            text(
                "INSERT INTO second_marks (attempt_id, exam_id, rule, state, first, second, "
                "created_by, created_at) VALUES (5, 1, 'all', 'marked', "
                '\'{"a": "met"}\', \'{"a": "missed"}\', :pat, :now)'
            ),
            ids,
        )
    assert "calibration_sets" not in inspect(engine).get_table_names()
    upgrade(engine)
    names = set(inspect(engine).get_table_names())
    assert {
        "calibration_sets",
        "calibration_items",
        "calibration_sessions",
        "calibration_answers",
    } <= names
    with Session(engine) as session:
        [row] = session.exec(select(SecondMark)).all()
        assert (row.state, row.first, row.second, row.third_id) == (
            "marked",
            {"a": "met"},
            {"a": "missed"},
            None,
        )
        row.third_id = ids["pat"]
        session.add(row)
        session.commit()
    engine.dispose()
