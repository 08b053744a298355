"""The mentor's review queue (web/routes/queue.py, storage/queue.py) on the real app with a
temporary SQLite file: what is listed and in which order, the navigation count, filters,
pages counted by the database, confirming and overriding flagged verdicts, the migration."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from queue_support import NEGATED, an_exam, flagged_attempt
from review_support import GOOD, attempt_of, audit_rows
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select
from web_support import add_user, csrf_token, login, needs_postgres, postgres_database

from sandbox.storage.database import alembic_config, make_engine, upgrade
from sandbox.storage.models import Attempt, Role
from sandbox.storage.queue import VerdictReview, refresh
from sandbox.storage.reviews import GradeOverride, store_record

# The tests that use a database run on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")


@pytest.fixture
def team(app: FastAPI) -> None:
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "ming", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    add_user(app, "lin", Role.TRAINEE, mentor="ming")


def queued(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="queue-row-(\d+)"', html)]


def nav_count(html: str) -> int:
    found = re.search(r'id="queue-count"[^>]*>(\d+)<', html)
    return int(found.group(1)) if found else 0


def flagged_ids(app: FastAPI, attempt_id: int) -> list[str]:
    record = attempt_of(app, attempt_id).grade or {}
    return [c["id"] for c in record["criteria"] if "review" in c]


def decide(client: TestClient, attempt_id: int, **data: str) -> object:
    page = client.get(f"/mentor/queue/{attempt_id}")
    return client.post(
        f"/mentor/queue/{attempt_id}/decide",
        data={"csrf_token": csrf_token(page.text), **data},
        follow_redirects=False,
    )


def test_only_flagged_ended_attempts_are_queued_in_order(
    app: FastAPI, client: TestClient, team: None
) -> None:
    now = datetime.now(UTC)
    exam = an_exam(app)
    good = flagged_attempt(app, "tao", GOOD, started_at=now - timedelta(hours=5))
    assert attempt_of(app, good).flagged == 0  # the model answer raises no flag
    old_practice = flagged_attempt(app, "tao", NEGATED, started_at=now - timedelta(hours=4))
    new_practice = flagged_attempt(app, "tao", NEGATED, started_at=now - timedelta(hours=1))
    exam_attempt = flagged_attempt(
        app, "tao", NEGATED, exam_id=exam, started_at=now - timedelta(hours=3)
    )
    other_trainee = flagged_attempt(app, "lin", NEGATED)
    row = attempt_of(app, exam_attempt)
    assert row.flagged >= 1 and row.needs_review is True and row.reviewed_at is None

    login(client, "mei")
    page = client.get("/mentor/queue")
    assert page.status_code == 200
    # Exam before practice, then newest first; never another mentor's trainee, never an
    # attempt without flags.
    assert queued(page.text) == [exam_attempt, new_practice, old_practice]
    assert other_trainee not in queued(page.text) and good not in queued(page.text)
    assert nav_count(page.text) == 3
    # The count is in the navigation of the other mentor pages too.
    assert nav_count(client.get("/mentor/attempts").text) == 3
    assert "partial_pattern" in page.text or "negated_mention" in page.text


def test_the_queue_page_puts_evidence_and_reason_beside_each_flag(
    app: FastAPI, client: TestClient, team: None
) -> None:
    attempt_id = flagged_attempt(app, "tao", NEGATED)
    login(client, "mei")
    page = client.get(f"/mentor/queue/{attempt_id}").text
    for criterion in flagged_ids(app, attempt_id):
        card = page.split(f'id="flag-{criterion}"', 1)[1].split("</li>", 1)[0]
        assert 'class="flag-reason"' in card
        assert 'class="reason"' in card  # the grader's explanation
        assert 'href="#msg-' in card  # the message that made it unsure
        assert f'id="confirm-{criterion}"' in card and f'id="override-{criterion}"' in card
    assert 'id="review-transcript"' in page
    assert "queue.js" in page


def test_confirming_every_flag_marks_the_attempt_reviewed_and_moves_on(
    app: FastAPI, client: TestClient, team: None
) -> None:
    first = flagged_attempt(app, "tao", NEGATED, started_at=datetime.now(UTC))
    second = flagged_attempt(app, "tao", NEGATED, started_at=datetime.now(UTC) - timedelta(hours=1))
    score = attempt_of(app, first).score
    login(client, "mei")
    criteria = flagged_ids(app, first)
    for index, criterion in enumerate(criteria):
        response = decide(client, first, criterion=criterion, decision="confirm")
        assert response.status_code == 303  # type: ignore[attr-defined]
        location = response.headers["location"]  # type: ignore[attr-defined]
        if index < len(criteria) - 1:
            assert location.startswith(f"/mentor/queue/{first}")
        else:
            assert location == f"/mentor/queue/{second}"  # the next attempt of the queue
    row = attempt_of(app, first)
    assert row.reviewed_at is not None
    assert row.score == score  # confirming changes nothing of the grade
    with Session(app.state.sandbox.engine) as session:
        rows = session.exec(select(VerdictReview).where(VerdictReview.attempt_id == first)).all()
    assert sorted(r.criterion_id for r in rows) == sorted(criteria)
    assert {r.decision for r in rows} == {"confirm"}
    assert [e.subject_id for e in audit_rows(app, "grade.confirm")] == [str(first)] * len(criteria)
    page = client.get("/mentor/queue")
    assert queued(page.text) == [second]
    assert queued(client.get("/mentor/queue?status=reviewed").text) == [first]
    assert nav_count(page.text) == 1


def test_an_override_from_the_queue_recomputes_and_needs_a_reason(
    app: FastAPI, client: TestClient, team: None
) -> None:
    attempt_id = flagged_attempt(app, "tao", NEGATED)
    criterion = flagged_ids(app, attempt_id)[0]
    entry = next(c for c in attempt_of(app, attempt_id).grade["criteria"] if c["id"] == criterion)  # type: ignore[index]
    other = {"clear": "violated", "violated": "clear", "met": "missed", "missed": "met"}[
        entry["status"]
    ]
    login(client, "mei")
    refused = decide(
        client, attempt_id, criterion=criterion, decision="override", status=other, note=""
    )
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert 'id="decision-error"' in refused.text  # type: ignore[attr-defined]
    assert (
        attempt_of(app, attempt_id).grade["criteria"]
        == attempt_of(app, attempt_id).grade["criteria"]
    )  # type: ignore[index]
    same = decide(
        client,
        attempt_id,
        criterion=criterion,
        decision="override",
        status=entry["status"],
        note="x",
    )
    assert same.status_code == 400  # type: ignore[attr-defined]
    assert "other than the current one" in same.text  # type: ignore[attr-defined]
    before = attempt_of(app, attempt_id).score
    done = decide(
        client,
        attempt_id,
        criterion=criterion,
        decision="override",
        status=other,
        note="The trainee did say it; the grader missed the wording.",
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    row = attempt_of(app, attempt_id)
    changed = next(c for c in row.grade["criteria"] if c["id"] == criterion)  # type: ignore[index]
    assert changed["status"] == other and changed["automatic_status"] == entry["status"]
    assert row.score != before
    with Session(app.state.sandbox.engine) as session:
        overrides = session.exec(select(GradeOverride)).all()
        reviews = session.exec(select(VerdictReview)).all()
    assert [(o.criterion_id, o.status) for o in overrides] == [(criterion, other)]
    assert [(r.decision, r.status, r.automatic_status) for r in reviews] == [
        ("override", other, entry["status"])
    ]


def test_a_verdict_that_is_not_flagged_cannot_be_decided_here(
    app: FastAPI, client: TestClient, team: None
) -> None:
    attempt_id = flagged_attempt(app, "tao", NEGATED)
    login(client, "mei")
    response = decide(client, attempt_id, criterion="greeting", decision="confirm")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "not flagged for review" in response.text  # type: ignore[attr-defined]
    criterion = flagged_ids(app, attempt_id)[0]
    response = decide(client, attempt_id, criterion=criterion, decision="shrug")
    assert response.status_code == 400  # type: ignore[attr-defined]
    # Another mentor's trainee: refused before anything is read.
    lin = flagged_attempt(app, "lin", NEGATED)
    assert client.get(f"/mentor/queue/{lin}").status_code == 403


def test_filters_and_bad_filter_values(app: FastAPI, client: TestClient, team: None) -> None:
    exam = an_exam(app)
    practice = flagged_attempt(app, "tao", NEGATED)
    in_exam = flagged_attempt(app, "tao", NEGATED, exam_id=exam)
    login(client, "mei")
    assert queued(client.get("/mentor/queue?mode=exam").text) == [in_exam]
    assert queued(client.get("/mentor/queue?mode=practice").text) == [practice]
    assert set(queued(client.get("/mentor/queue?critical=yes").text)) == {practice, in_exam}
    scenario = "pharmacy-basics/cold-remedy-hypertension"
    assert len(queued(client.get(f"/mentor/queue?scenario={scenario}").text)) == 2
    bad = client.get("/mentor/queue?mode=sometimes&status=maybe&scenario=x/y&critical=2")
    assert bad.status_code == 400
    for field in ("mode", "state", "scenario", "critical"):
        assert f'id="error-{field}"' in bad.text


def test_pages_are_counted_and_sliced_by_the_database(
    app: FastAPI, client: TestClient, team: None
) -> None:
    now = datetime.now(UTC)
    ids = [
        flagged_attempt(app, "tao", NEGATED, started_at=now - timedelta(minutes=i))
        for i in range(23)
    ]
    login(client, "mei")
    first = client.get("/mentor/queue")
    assert queued(first.text) == ids[:20]
    assert "23" in first.text
    second = client.get("/mentor/queue?page=2")
    assert queued(second.text) == ids[20:]


def test_the_queue_speaks_chinese(app: FastAPI, client: TestClient, team: None) -> None:
    attempt_id = flagged_attempt(app, "tao", NEGATED)
    login(client, "mei")
    page = client.get("/mentor/queue")
    client.post("/language", data={"csrf_token": csrf_token(page.text), "locale": "zh-CN"})
    assert "复核队列" in client.get("/mentor/queue").text
    assert "快捷键" in client.get(f"/mentor/queue/{attempt_id}").text


def test_every_queue_key_exists_in_both_languages() -> None:
    from sandbox.evaluator.flags import REASONS
    from sandbox.storage.queue import DECISIONS, MODES, STATES
    from sandbox.web.i18n import CATALOGUE

    built = {f"flag_reason.{code}" for code in REASONS}
    built |= {f"queue_state.{s}" for s in STATES} | {f"queue_mode.{m}" for m in MODES}
    built |= {f"queue_decided.{d}" for d in DECISIONS}
    for locale in ("en", "zh-CN"):
        assert sorted(built - set(CATALOGUE[locale])) == [], locale
    queue_keys = {
        k
        for k in CATALOGUE["en"]
        if k.split(".")[0]
        in (
            "queue",
            "flag_reason",
            "queue_state",
            "queue_mode",
            "queue_decided",
            "second",
            "second_rule",
            "second_state",
            "calibration",
            "hint",
            "hints",
            "exams",
        )
    }
    assert sorted(queue_keys - set(CATALOGUE["zh-CN"])) == []


def test_a_regrade_that_flags_another_verdict_reopens_the_review(
    app: FastAPI, client: TestClient, team: None
) -> None:
    attempt_id = flagged_attempt(app, "tao", NEGATED)
    login(client, "mei")
    for criterion in flagged_ids(app, attempt_id):
        decide(client, attempt_id, criterion=criterion, decision="confirm")
    assert attempt_of(app, attempt_id).reviewed_at is not None
    with Session(app.state.sandbox.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None and attempt.grade is not None
        record = copy.deepcopy(attempt.grade)
        entry = next(c for c in record["criteria"] if "review" not in c)
        entry["review"] = {"reason": "out_of_scope", "message": 1, "note": "said late"}
        store_record(session=session, attempt=attempt, record=record)
        refresh(session=session, attempt=attempt)
        session.commit()
    row = attempt_of(app, attempt_id)
    assert row.reviewed_at is None and row.flagged == len(flagged_ids(app, attempt_id))


# --- the migration ------------------------------------------------------------------------


#: The revision 0008 follows (its down_revision).
PREVIOUS = "0010"


def migrate_with_data(engine: Engine) -> None:
    """Grades stored at the revision before 0008 (one before flags, one with flags, none), then the upgrade
    counts them, and the downgrade takes the new columns and tables away again."""
    upgrade(engine, PREVIOUS)
    old = {"score": 80.0, "band": "good", "passed": True, "criteria": [{"id": "a"}]}
    flagged = {
        "score": 40.0,
        "band": "fail",
        "passed": False,
        "needs_review": True,
        "criteria": [
            {"id": "a", "review": {"reason": "cut_short", "message": None, "note": "x"}},
            {"id": "b", "review": {"reason": "out_of_scope", "message": 3, "note": "y"}},
            {"id": "c"},
        ],
    }
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (name, role, password_hash, active, created_at) "
                "VALUES ('tao', 'trainee', 'x', true, '2026-01-01 00:00:00+00:00')"
            )
        )
        user_id = connection.execute(text("SELECT id FROM users")).scalar_one()
        for grade in (old, flagged, None):
            connection.execute(
                text(
                    "INSERT INTO attempts (user_id, pack_id, pack_version, scenario_id, "
                    "mode, time_limit_s, started_at, grade, retake, grace_s, over_limit) "
                    "VALUES (:user, 'p', 1, 's', 'practice', 60, '2026-01-01 00:00:00+00:00', "
                    ":grade, false, 0, false)"
                ),
                {"user": user_id, "grade": None if grade is None else json.dumps(grade)},
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT flagged, needs_review, reviewed_at, hints_used FROM attempts ORDER BY id")
        ).all()
    assert [(f, bool(n), r, h) for f, n, r, h in rows] == [
        (0, False, None, 0),
        (2, True, None, 0),
        (0, False, None, 0),
    ]
    upgrade(engine)  # at head: nothing to do
    command.downgrade(alembic_config(engine), PREVIOUS)
    found = inspect(engine)
    assert "flagged" not in {c["name"] for c in found.get_columns("attempts")}
    assert not {"verdict_reviews", "second_marks"} & set(found.get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM attempts")).scalar_one() == 3
    upgrade(engine)  # and up again


def test_the_migration_counts_flags_of_stored_grades_and_goes_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrate_with_data(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=needs_postgres)])
def test_the_migration_on_postgres(backend: str) -> None:
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            migrate_with_data(engine)
        finally:
            engine.dispose()
