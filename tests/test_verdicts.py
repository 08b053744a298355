"""The per-criterion verdict table (storage/verdicts.py, migration 0014): back-filled from the
grades a database already holds, kept in step with every grade written afterwards (grading,
an override and its undoing, a regrade's apply), and what the mentor's "criterion missed"
filter reads. SQLite and, when SANDBOX_TEST_DATABASE_URL is set, PostgreSQL."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import graded_attempt
from sqlalchemy import Engine, insert, inspect, update
from sqlmodel import Session, col, select
from web_support import add_user, login, needs_postgres, postgres_database

from sandbox.evaluator.records import Headline
from sandbox.evaluator.regrade import Change
from sandbox.evaluator.scoring import DEFAULT_BANDS, score_verdicts, verdicts_from_record
from sandbox.storage.attempts import store_grade
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.regrade import apply_plan
from sandbox.storage.reviews import override_criterion
from sandbox.storage.verdicts import CriterionVerdict, verdict_rows, verdicts_of

pytestmark = pytest.mark.backends("sqlite", "postgres")

RUBRIC = [
    ("greet", "etiquette", 1),
    ("ask-allergies", "required", 2),
    ("warn", "required", 3),
    ("no-promise", "forbidden", 20),
]
STATUSES = {
    "etiquette": ("met", "missed", "not_applicable"),
    "required": ("met", "missed", "not_applicable"),
    "forbidden": ("clear", "violated", "not_applicable"),
}


def record_of(rng: random.Random) -> dict[str, Any]:
    criteria = []
    for criterion_id, kind, amount in RUBRIC:
        entry: dict[str, Any] = {
            "id": criterion_id,
            "kind": kind,
            "status": rng.choice(STATUSES[kind]),
            "critical": criterion_id == "no-promise",
            "evidence": [],
        }
        entry["penalty" if kind == "forbidden" else "weight"] = amount
        if rng.random() < 0.2:
            entry["review"] = {"reason": "near_miss", "message": "unsure"}
        criteria.append(entry)
    record: dict[str, Any] = {"scenario": "p/s", "criteria": criteria, "pass_mark": 70.0}
    outcome = score_verdicts(verdicts_from_record(record), 70.0, DEFAULT_BANDS)
    record.update(
        score=outcome.score,
        band=outcome.band,
        passed=outcome.passed,
        critical_missed=outcome.critical_missed,
        critical_violated=outcome.critical_violated,
    )
    return record


def statuses(record: dict[str, Any] | None) -> dict[str, str]:
    return {c["id"]: c["status"] for c in (record or {}).get("criteria", [])}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend (migrated by the test itself)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'verdicts.db'}"
        return
    with postgres_database() as url:
        yield url


def test_the_migration_back_fills_every_stored_grade(empty_url: str) -> None:
    """Real rows stored at 0012 (the head before the table), more than one batch of them,
    odd grades included; after the upgrade each grade has its rows, and nothing else did."""
    engine = make_engine(empty_url)
    upgrade(engine, "0012")
    rng = random.Random(3)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    grades: list[Any] = [record_of(rng) for _ in range(1234)]
    grades[10] = None  # never graded
    grades[11] = {"score": 50, "band": "fail", "passed": False}  # a grade with no criteria
    grades[12] = {"criteria": [{"id": "greet", "kind": "etiquette"}], "score": 0}  # no status
    twice = record_of(rng)
    twice["criteria"].append(dict(twice["criteria"][0], status="missed"))
    grades[13] = twice  # a criterion named twice: the first counts
    with Session(engine) as session:
        user = User(name="tao", role=Role.TRAINEE, password_hash="-")
        session.add(user)
        session.commit()
        session.execute(
            insert(Attempt.__table__),  # type: ignore[attr-defined]
            [
                {
                    "user_id": user.id,
                    "pack_id": "p",
                    "pack_version": 1,
                    "scenario_id": "s",
                    "mode": "practice",
                    "time_limit_s": 600.0,
                    "started_at": now + timedelta(minutes=i),
                    "ended_at": None if grade is None else now + timedelta(minutes=i + 1),
                    "grade": grade,
                    "score": None if grade is None else grade.get("score"),
                    "retake": False,
                    "grace_s": 0.0,
                }
                for i, grade in enumerate(grades)
            ],
        )
        session.commit()
    assert "criterion_verdicts" not in inspect(engine).get_table_names()
    upgrade(engine)
    with Session(engine) as session:
        ids = session.exec(select(Attempt.id).order_by(col(Attempt.id))).all()
        assert len(ids) == len(grades)
        stored = session.exec(select(CriterionVerdict)).all()
        by_attempt: dict[int, list[dict[str, Any]]] = {}
        for row in stored:
            by_attempt.setdefault(row.attempt_id, []).append(row.model_dump())
        expected = {
            attempt_id: verdict_rows(attempt_id, grade)
            for attempt_id, grade in zip(ids, grades, strict=True)
        }
        for attempt_id, rows in expected.items():
            key = sorted(rows, key=lambda r: r["criterion_id"])
            got = sorted(by_attempt.get(attempt_id or 0, []), key=lambda r: r["criterion_id"])
            assert got == key, attempt_id
        assert not by_attempt.get(ids[10] or 0) and not by_attempt.get(ids[11] or 0)
        assert not by_attempt.get(ids[12] or 0)
        assert verdicts_of(session, ids[13] or 0)["greet"] == twice["criteria"][0]["status"]
        assert len(stored) == 4 * (len(grades) - 3)
        # A grade written after the upgrade keeps its rows in step.
        attempt = session.get(Attempt, ids[0])
        assert attempt is not None
        fresh = record_of(rng)
        store_grade(session=session, attempt=attempt, grade=fresh)
        session.commit()
        assert verdicts_of(session, ids[0] or 0) == statuses(fresh)
    engine.dispose()


def test_rows_follow_grading_overrides_and_a_regrade(engine: Engine) -> None:
    rng = random.Random(5)
    with Session(engine) as session:
        mentor = User(name="mei", role=Role.MENTOR, password_hash="-")
        trainee = User(name="tao", role=Role.TRAINEE, password_hash="-")
        session.add_all([mentor, trainee])
        session.flush()
        assert trainee.id is not None
        attempt = Attempt(
            user_id=trainee.id,
            pack_id="p",
            pack_version=1,
            scenario_id="s",
            time_limit_s=600,
            ended_at=datetime.now(UTC),
        )
        session.add(attempt)
        session.flush()
        assert attempt.id is not None
        record = record_of(rng)
        record["criteria"][1]["status"] = "missed"
        store_grade(session=session, attempt=attempt, grade=record)
        session.commit()
        assert verdicts_of(session, attempt.id) == statuses(record)
        flagged = {
            row.criterion_id: row.flagged
            for row in session.exec(
                select(CriterionVerdict).where(CriterionVerdict.attempt_id == attempt.id)
            )
        }
        assert flagged == {c["id"]: "review" in c for c in record["criteria"]}

        # An override, then handing the criterion back to the grader.
        override_criterion(
            session=session,
            attempt=attempt,
            author=mentor,
            criterion_id="ask-allergies",
            status="met",
            reason="asked on the phone",
        )
        session.commit()
        assert verdicts_of(session, attempt.id)["ask-allergies"] == "met"
        assert verdicts_of(session, attempt.id) == statuses(attempt.grade)
        override_criterion(
            session=session,
            attempt=attempt,
            author=mentor,
            criterion_id="ask-allergies",
            status=None,
            reason="undo",
        )
        session.commit()
        assert verdicts_of(session, attempt.id)["ask-allergies"] == "missed"

        # A regrade applies a new record (a criterion gone, one added, statuses changed).
        assert attempt.grade is not None
        regraded = copy.deepcopy(attempt.grade)
        regraded["criteria"] = [c for c in regraded["criteria"] if c["id"] != "greet"]
        regraded["criteria"].append(
            {"id": "thanks", "kind": "etiquette", "status": "met", "weight": 1, "evidence": []}
        )
        regraded["criteria"][0]["status"] = "not_applicable"
        regraded["score"] = float(regraded["score"]) + 1
        change = Change(
            attempt.id,
            "tao",
            "p",
            "s",
            Headline.of(attempt.grade),
            Headline.of(regraded),
            regraded,
            [],
        )
        assert apply_plan(session=session, changes=[change], actor_id=None, reason=None) == [
            attempt.id
        ]
        session.commit()
        assert verdicts_of(session, attempt.id) == statuses(regraded)
        assert "greet" not in verdicts_of(session, attempt.id)


def listed(html: str) -> set[str]:
    return set(re.findall(r'href="/mentor/attempts/(\d+)"', html))


def test_the_criterion_filter_is_answered_by_the_table(app: FastAPI, client: TestClient) -> None:
    """The list follows the table, not the grade JSON: a row changed in the table alone
    moves the attempt in or out of the filter, and the count follows too."""
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    ids = [graded_attempt(app, "tao", ["Hello, how can I help?"]) for _ in range(3)]
    login(client, "mei")
    engine = app.state.sandbox.engine
    with Session(engine) as session:
        missed_by_all = {
            row.criterion_id
            for row in session.exec(
                select(CriterionVerdict).where(col(CriterionVerdict.status) == "missed")
            )
        }
    criterion = sorted(missed_by_all)[0]
    url = f"/mentor/attempts?criterion={criterion}"
    first = client.get(url).text
    assert listed(first) == {str(i) for i in ids}
    assert 'id="attempts-count" class="count">3 attempts<' in first
    with Session(engine) as session:
        session.exec(
            update(CriterionVerdict)
            .where(
                col(CriterionVerdict.attempt_id) == ids[0],
                col(CriterionVerdict.criterion_id) == criterion,
            )
            .values(status="met")
        )
        session.commit()
    page = client.get(url).text
    assert listed(page) == {str(i) for i in ids[1:]}
    assert 'id="attempts-count" class="count">2 attempts<' in page
