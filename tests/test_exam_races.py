"""Exam limits under concurrent requests, kept by the database: at most `attempts_allowed`
attempts per candidate, scenario and sitting, one open exam conversation per candidate and
exam, one appeal per conversation; and the upgrade of a database that a race already filled
with duplicates (migration 0005).

Real parts on SQLite (a file) and PostgreSQL: a `sandbox serve` process receiving requests
from threads released together, and threads calling the storage functions on their own
connections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from server_support import Server, server_env
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from web_support import PASSWORD, SHARED_PACKS, csrf_token, needs_postgres, postgres_database

from sandbox.exams.policy import ExamRules
from sandbox.storage.audit import AuditEvent
from sandbox.storage.database import alembic_config, make_engine, upgrade
from sandbox.storage.exams import (
    Appeal,
    AppealExists,
    Exam,
    StartRefused,
    add_appeal,
    create_exam,
    start_exam_attempt,
)
from sandbox.storage.models import Attempt, Mode, Role, User, utcnow
from sandbox.storage.users import create_user

PACK = "pharmacy-basics"
COLD = f"{PACK}/cold-remedy-hypertension"
INSULIN = f"{PACK}/late-insulin-delivery"
RACERS = 16
APPEALS = 10
WAIT_S = 60.0

T = TypeVar("T")


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file or a PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'sandbox.db'}"
        return
    with postgres_database() as url:
        yield url


BACKENDS = ["sqlite", pytest.param("postgres", marks=needs_postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The migrated database, with a proctor (pat) and two trainees (tao, mei)."""
    made = make_engine(database_url)
    upgrade(made)
    with Session(made) as session:
        create_user(session=session, name="pat", role=Role.PROCTOR, password=PASSWORD)
        for name in ("tao", "mei"):
            create_user(session=session, name=name, role=Role.TRAINEE, password=PASSWORD)
        session.commit()
    try:
        yield made
    finally:
        made.dispose()


def user_named(session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).one()
    assert user.id is not None
    return user


def new_exam(engine: Engine, scenarios: list[str], attempts_allowed: int) -> int:
    """An exam open now, of the given scenarios, with tao and mei as candidates."""
    with Session(engine) as session:
        now = utcnow()
        exam = create_exam(
            session=session,
            name="Raced",
            time_limit_s=900,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=1),
            rules=ExamRules(attempts_allowed=attempts_allowed),
            scenarios=[(key.split("/")[0], key.split("/")[1]) for key in scenarios],
            candidate_ids=[user_named(session, "tao").id or 0, user_named(session, "mei").id or 0],
            cohort=None,
            created_by=user_named(session, "pat").id,
        )
        session.commit()
        assert exam.id is not None
        return exam.id


def exam_attempts_of(engine: Engine, exam_id: int) -> list[Attempt]:
    with Session(engine) as session:
        statement = select(Attempt).where(Attempt.exam_id == exam_id).order_by(col(Attempt.id))
        return list(session.exec(statement))


def end_all(engine: Engine, exam_id: int) -> None:
    """Hand in every running conversation of the exam (as the trainee's finish would)."""
    with Session(engine) as session:
        session.execute(
            sa.update(Attempt)
            .where(col(Attempt.exam_id) == exam_id, col(Attempt.ended_at).is_(None))
            .values(ended_at=utcnow(), end_reason="finished")
        )
        session.commit()


def together(
    count: int, work: Callable[[int], T], ready: Callable[[int], Any] | None = None
) -> list[T]:
    """Run `work(0..count-1)` in `count` threads released at the same moment (after each
    thread's `ready`, say opening its connection)."""
    barrier = threading.Barrier(count, timeout=WAIT_S)

    def one(index: int) -> T:
        if ready is not None:
            ready(index)
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


# --- a served app and a trainee's requests --------------------------------------------------


@dataclass
class Site:
    server: Server
    engine: Engine

    def signed_in(self, name: str) -> httpx.Client:
        http = httpx.Client(base_url=self.server.url, timeout=WAIT_S)
        page = http.get("/login")
        response = http.post(
            "/login", data={"csrf_token": csrf_token(page.text), "name": name, "password": PASSWORD}
        )
        assert response.status_code == 303, response.text
        return http

    def post_together(
        self, browser: httpx.Client, token_page: str, path: str, forms: list[dict[str, str]]
    ) -> list[httpx.Response]:
        """POST each form at once, each from its own connection of the same signed-in browser."""
        token = csrf_token(browser.get(token_page).text)
        clients = [
            httpx.Client(base_url=self.server.url, cookies=browser.cookies, timeout=WAIT_S)
            for _ in forms
        ]
        try:
            return together(
                len(forms),
                lambda i: clients[i].post(
                    path, data={"csrf_token": token, **forms[i]}, follow_redirects=False
                ),
                ready=lambda i: clients[i].get("/healthz"),  # connected before the start
            )
        finally:
            for client in clients:
                client.close()


@pytest.fixture
def site(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Site]:
    server = Server(
        tmp_path, server_env(tmp_path, packs=str(SHARED_PACKS), database_url=database_url)
    )
    server.start()
    try:
        yield Site(server, engine)
    finally:
        server.stop()


def landing(response: httpx.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return response.headers["location"]


def test_concurrent_starts_store_one_attempt_and_send_everyone_to_it(site: Site) -> None:
    """16 requests at once on an exam that allows one attempt: one attempt, and all 16
    requests land on it; once it is handed in, none more."""
    exam_id = new_exam(site.engine, [COLD], attempts_allowed=1)
    tao = site.signed_in("tao")
    responses = site.post_together(
        tao, f"/exams/{exam_id}", f"/exams/{exam_id}/attempts", [{"scenario": COLD}] * RACERS
    )
    stored = exam_attempts_of(site.engine, exam_id)
    assert len(stored) == 1
    assert [landing(r) for r in responses] == [f"/attempts/{stored[0].id}"] * RACERS
    assert stored[0].attempt_no == 1 and not stored[0].over_limit
    end_all(site.engine, exam_id)
    responses = site.post_together(
        tao, f"/exams/{exam_id}", f"/exams/{exam_id}/attempts", [{"scenario": COLD}] * RACERS
    )
    assert {landing(r) for r in responses} == {f"/exams/{exam_id}?refused=exam.refused.no_attempts"}
    assert len(exam_attempts_of(site.engine, exam_id)) == 1
    tao.close()


def test_racing_two_scenarios_opens_one_conversation_and_the_limit_holds(site: Site) -> None:
    """Two attempts allowed at each of two scenarios. 8 requests for each scenario at once
    open exactly one conversation and all 16 land on it; then rounds of 16 for one scenario
    store exactly its two attempts, after which every request is refused."""
    exam_id = new_exam(site.engine, [COLD, INSULIN], attempts_allowed=2)
    tao = site.signed_in("tao")

    def race(forms: list[dict[str, str]]) -> list[str]:
        responses = site.post_together(
            tao, f"/exams/{exam_id}", f"/exams/{exam_id}/attempts", forms
        )
        return [landing(r) for r in responses]

    mixed = [{"scenario": COLD if i % 2 else INSULIN} for i in range(RACERS)]
    landed = race(mixed)
    stored = exam_attempts_of(site.engine, exam_id)
    assert len(stored) == 1 and stored[0].ended_at is None
    assert landed == [f"/attempts/{stored[0].id}"] * RACERS
    end_all(site.engine, exam_id)
    refused = f"/exams/{exam_id}?refused=exam.refused.no_attempts"
    for scenario in (COLD, INSULIN):
        for _ in range(3):
            landed = race([{"scenario": scenario}] * RACERS)
            running = [a for a in exam_attempts_of(site.engine, exam_id) if a.ended_at is None]
            if not running:
                assert landed == [refused] * RACERS
                break
            assert len(running) == 1 and landed == [f"/attempts/{running[0].id}"] * RACERS
            end_all(site.engine, exam_id)
        else:
            raise AssertionError(f"{scenario}: still starting after three rounds")
    numbers = sorted((a.scenario_id, a.attempt_no) for a in exam_attempts_of(site.engine, exam_id))
    assert numbers == [
        ("cold-remedy-hypertension", 1),
        ("cold-remedy-hypertension", 2),
        ("late-insulin-delivery", 1),
        ("late-insulin-delivery", 2),
    ]
    tao.close()


def graded_and_released(engine: Engine, exam_id: int, name: str) -> int:
    """A graded exam conversation of `name`, with the exam's results released; its id."""
    with Session(engine) as session:
        user = user_named(session, name)
        now = utcnow()
        attempt = Attempt(
            user_id=user.id or 0,
            pack_id=PACK,
            pack_version=1,
            scenario_id="cold-remedy-hypertension",
            mode=Mode.EXAM,
            time_limit_s=900,
            started_at=now - timedelta(minutes=10),
            ended_at=now,
            end_reason="finished",
            score=64.0,
            band="pass",
            passed=False,
            grade={"criteria": [], "score": 64.0},
            graded_at=now,
            exam_id=exam_id,
            deadline_at=now,
            attempt_no=1,
        )
        session.add(attempt)
        exam = session.get(Exam, exam_id)
        assert exam is not None
        exam.results_released_at = now
        session.add(exam)
        session.commit()
        assert attempt.id is not None
        return attempt.id


def appeals_of(engine: Engine, attempt_id: int) -> list[Appeal]:
    with Session(engine) as session:
        return list(session.exec(select(Appeal).where(Appeal.attempt_id == attempt_id)))


def test_concurrent_appeals_store_one_and_the_others_hear_it_exists(site: Site) -> None:
    exam_id = new_exam(site.engine, [COLD], attempts_allowed=1)
    attempt_id = graded_and_released(site.engine, exam_id, "tao")
    tao = site.signed_in("tao")
    forms = [{"attempt_id": str(attempt_id), "reason": f"Reason {i}"} for i in range(APPEALS)]
    responses = site.post_together(
        tao, f"/exams/{exam_id}/results", f"/exams/{exam_id}/appeals", forms
    )
    stored = appeals_of(site.engine, attempt_id)
    assert len(stored) == 1
    assert sorted(r.status_code for r in responses) == [303] + [400] * (APPEALS - 1)
    for response in responses:
        if response.status_code == 400:
            assert "You have already asked for a review of this conversation." in response.text
    with Session(site.engine) as session:
        opened = session.exec(select(AuditEvent).where(AuditEvent.action == "appeal.open")).all()
        assert len(opened) == 1 and opened[0].reason == stored[0].reason
    tao.close()


# --- the storage functions, raced by threads on their own connections ---------------------------


def start_one(engine: Engine, exam_id: int, scenario: str) -> int | str:
    """Start an attempt in a session of its own: the new attempt's id, or where the refused
    request is sent ("open N" or "none")."""
    with Session(engine) as session:
        exam = session.get(Exam, exam_id)
        assert exam is not None
        pack_id, scenario_id = scenario.split("/")
        try:
            attempt = start_exam_attempt(
                session=session,
                exam=exam,
                user=user_named(session, "tao"),
                pack_id=pack_id,
                pack_version=1,
                scenario_id=scenario_id,
                opening="Hello.",
                retake=False,
                time_limit_s=900,
                grace_s=0,
                started_at=utcnow(),
            )
        except StartRefused as refused:
            winner = refused.open_attempt
            return f"open {winner.id}" if winner is not None else "none"
        session.commit()
        assert attempt.id is not None
        return attempt.id


def test_threads_starting_attempts_store_only_the_allowed_ones(engine: Engine) -> None:
    """Three attempts allowed at each of two scenarios. Racing both scenarios opens one
    conversation and sends every other request to it; racing one scenario round after round
    stores exactly three attempts at it, then every request is refused."""
    exam_id = new_exam(engine, [COLD, INSULIN], attempts_allowed=3)
    for _ in range(2):
        outcomes = together(
            RACERS, lambda i: start_one(engine, exam_id, COLD if i % 2 else INSULIN)
        )
        started = [o for o in outcomes if isinstance(o, int)]
        running = [a for a in exam_attempts_of(engine, exam_id) if a.ended_at is None]
        assert len(started) == 1 and [a.id for a in running] == started
        assert [o for o in outcomes if isinstance(o, str)] == [f"open {started[0]}"] * (RACERS - 1)
        end_all(engine, exam_id)
    for scenario in (COLD, INSULIN):
        for _ in range(4):
            outcomes = together(RACERS, lambda i, key=scenario: start_one(engine, exam_id, key))
            started = [o for o in outcomes if isinstance(o, int)]
            if not started:
                assert set(outcomes) == {"none"}
                break
            assert len(started) == 1
            assert sorted(map(str, outcomes)) == sorted(
                [str(started[0])] + [f"open {started[0]}"] * (RACERS - 1)
            )
            end_all(engine, exam_id)
        else:
            raise AssertionError(f"{scenario}: still starting after four rounds")
    numbers = sorted((a.scenario_id, a.attempt_no) for a in exam_attempts_of(engine, exam_id))
    assert numbers == [
        ("cold-remedy-hypertension", 1),
        ("cold-remedy-hypertension", 2),
        ("cold-remedy-hypertension", 3),
        ("late-insulin-delivery", 1),
        ("late-insulin-delivery", 2),
        ("late-insulin-delivery", 3),
    ]


def test_a_retake_is_a_sitting_of_its_own(engine: Engine) -> None:
    """The retake allows attempts_allowed attempts again; they are numbered apart."""
    exam_id = new_exam(engine, [COLD], attempts_allowed=1)
    assert isinstance(start_one(engine, exam_id, COLD), int)
    end_all(engine, exam_id)
    assert start_one(engine, exam_id, COLD) == "none"
    with Session(engine) as session:
        exam = session.get(Exam, exam_id)
        assert exam is not None
        retaken = start_exam_attempt(
            session=session,
            exam=exam,
            user=user_named(session, "tao"),
            pack_id=PACK,
            pack_version=1,
            scenario_id="cold-remedy-hypertension",
            opening="Hello.",
            retake=True,
            time_limit_s=900,
            grace_s=0,
            started_at=utcnow(),
        )
        session.commit()
        assert (retaken.retake, retaken.attempt_no) == (True, 1)


def test_threads_appealing_at_once_store_one_appeal(engine: Engine) -> None:
    exam_id = new_exam(engine, [COLD], attempts_allowed=1)
    attempt_id = graded_and_released(engine, exam_id, "tao")

    def appeal(index: int) -> str:
        with Session(engine) as session:
            try:
                add_appeal(
                    session=session,
                    exam_id=exam_id,
                    attempt_id=attempt_id,
                    user_id=user_named(session, "tao").id or 0,
                    reason=f"Reason {index}",
                    opened_at=utcnow(),
                )
            except AppealExists:
                return "already"
            session.commit()
            return "stored"

    outcomes = together(APPEALS, appeal)
    assert sorted(outcomes) == ["already"] * (APPEALS - 1) + ["stored"]
    assert len(appeals_of(engine, attempt_id)) == 1


# --- upgrading a database the race already filled ------------------------------------------------


def test_the_upgrade_keeps_raced_duplicates_marks_them_and_then_holds_the_limits(
    database_url: str,
) -> None:
    """At the revision before 0005, a race left: four attempts at a one-attempt scenario
    (two of them running, one more running at another scenario), and three appeals on one
    conversation. The upgrade keeps every row and score, numbers and marks the extras, and
    from then on the database refuses new ones."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0007")
        now = utcnow()
        meta = sa.MetaData()
        meta.reflect(bind=engine)
        users, exams, attempts, appeals = (
            meta.tables[name] for name in ("users", "exams", "attempts", "exam_appeals")
        )
        with engine.begin() as connection:
            ids = []
            for name in ("pat", "tao", "mei"):
                ids.append(
                    connection.execute(
                        users.insert().values(
                            name=name,
                            role="trainee",
                            active=True,
                            password_hash="x",
                            created_at=now,
                        )
                    ).inserted_primary_key[0]
                )
            _, tao, mei = ids
            exam_id = connection.execute(
                exams.insert().values(
                    name="Raced before 0005",
                    time_limit_s=900,
                    opens_at=now - timedelta(hours=1),
                    closes_at=now + timedelta(days=1),
                    rules={"attempts_allowed": 1},
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]

            def attempt(
                user: int, scenario: str, minute: int, ended: bool, score: float | None
            ) -> int:
                started = now - timedelta(minutes=60 - minute)
                return int(
                    connection.execute(
                        attempts.insert().values(
                            user_id=user,
                            pack_id=PACK,
                            pack_version=1,
                            scenario_id=scenario,
                            mode="exam",
                            time_limit_s=900,
                            started_at=started,
                            ended_at=started + timedelta(minutes=5) if ended else None,
                            end_reason="finished" if ended else None,
                            score=score,
                            exam_id=exam_id,
                            retake=False,
                            grace_s=0,
                            deadline_at=started + timedelta(minutes=15),
                        )
                    ).inserted_primary_key[0]
                )

            cold, insulin = "cold-remedy-hypertension", "late-insulin-delivery"
            first = attempt(tao, cold, 1, True, 55.0)
            second = attempt(tao, cold, 2, True, 91.0)  # beyond the one allowed
            third = attempt(tao, cold, 3, False, None)  # beyond, and running
            other = attempt(tao, insulin, 4, False, None)  # running, the first that counts
            extra = attempt(tao, "a-third-one", 5, False, None)  # a second one running
            meis = attempt(mei, cold, 6, False, None)
            practice = int(
                connection.execute(
                    attempts.insert().values(
                        user_id=tao,
                        pack_id=PACK,
                        pack_version=1,
                        scenario_id=cold,
                        mode="practice",
                        time_limit_s=600,
                        started_at=now,
                        retake=False,
                        grace_s=0,
                    )
                ).inserted_primary_key[0]
            )
            appeal_ids = [
                connection.execute(
                    appeals.insert().values(
                        exam_id=exam_id,
                        attempt_id=second,
                        user_id=tao,
                        reason=f"Reason {i}",
                        opened_at=now,
                        status="kept" if i == 1 else "open",
                    )
                ).inserted_primary_key[0]
                for i in range(3)
            ]
            single = connection.execute(
                appeals.insert().values(
                    exam_id=exam_id,
                    attempt_id=first,
                    user_id=tao,
                    reason="Only one",
                    opened_at=now,
                    status="open",
                )
            ).inserted_primary_key[0]

        upgrade(engine)

        with Session(engine) as session:
            rows = {a.id: a for a in session.exec(select(Attempt))}
            assert len(rows) == 7
            assert {i: (rows[i].attempt_no, rows[i].over_limit) for i in rows} == {
                first: (1, False),
                second: (2, True),
                third: (3, True),
                other: (1, False),
                extra: (1, True),
                meis: (1, False),
                practice: (None, False),
            }
            # Nothing else changed: the scores, what is running.
            assert (rows[first].score, rows[second].score) == (55.0, 91.0)
            assert sorted(i for i in rows if rows[i].ended_at is None) == [
                third,
                other,
                extra,
                meis,
                practice,
            ]
            found = {a.id: a for a in session.exec(select(Appeal))}
            assert {i: a.duplicate_of for i, a in found.items()} == {
                appeal_ids[0]: None,
                appeal_ids[1]: appeal_ids[0],
                appeal_ids[2]: appeal_ids[0],
                single: None,
            }
            assert found[appeal_ids[1]].status == "kept"
        # From now on the database keeps the limits, for these candidates too.
        assert start_one(engine, exam_id, COLD) == f"open {third}"
        with Session(engine) as session, pytest.raises(AppealExists):
            add_appeal(
                session=session,
                exam_id=exam_id,
                attempt_id=second,
                user_id=tao,
                reason="Again",
                opened_at=now,
            )
        with Session(engine) as session, pytest.raises(sa.exc.IntegrityError):
            session.add(Appeal(exam_id=exam_id, attempt_id=first, user_id=tao, reason="Twice"))
            session.commit()
        end_all(engine, exam_id)
        assert start_one(engine, exam_id, COLD) == "none"
        # And back down, the rows still there.
        command.downgrade(alembic_config(engine), "0007")
        with engine.connect() as connection:
            assert (
                connection.execute(sa.select(sa.func.count()).select_from(attempts)).scalar() == 7
            )
            assert connection.execute(sa.select(sa.func.count()).select_from(appeals)).scalar() == 4
    finally:
        engine.dispose()
