"""The conversation service without a server: a database, the packs and a clock the test
moves; practice and exams through the same calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from web_support import make_settings

from sandbox.conversations import live
from sandbox.conversations.events import ExamEvent, InProcessBus
from sandbox.conversations.locks import AttemptLocks
from sandbox.conversations.policy import (
    LAST_MESSAGE,
    TIME_UP,
    ExamPolicy,
    PracticePolicy,
)
from sandbox.conversations.service import ConversationService
from sandbox.exams.policy import ExamRules
from sandbox.scenarios.library import PackLibrary, load_library
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.exams import create_exam
from sandbox.storage.models import Attempt, AttemptMessage, Mode, Role, User

PACK = "pharmacy-basics"
SCENARIO = "cold-remedy-hypertension"
ASK = "Are you taking any other medication?"


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2030, 1, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingBus(InProcessBus):
    """The in-process bus, remembering what was published."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[ExamEvent] = []

    def publish(self, session: Session, news: ExamEvent) -> None:
        self.published.append(news)
        super().publish(session, news)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> PackLibrary:
    return load_library(make_settings(tmp_path_factory.mktemp("packs")))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    upgrade(made)
    yield made
    made.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def service(
    library: PackLibrary, engine: Engine, clock: FakeClock, bus: RecordingBus
) -> ConversationService:
    return ConversationService(library=library, engine=engine, bus=bus, clock=clock)


@pytest.fixture
def trainee(engine: Engine) -> User:
    with Session(engine, expire_on_commit=False) as session:
        user = User(name="tao", role=Role.TRAINEE, password_hash="-")
        session.add(user)
        session.commit()
        return user


def practice(service: ConversationService, user: User) -> int:
    found = service.library.find(PACK, SCENARIO)
    assert found is not None
    with Session(service.engine, expire_on_commit=False) as session:
        attempt = service.start_practice(session, user=user, pack=found[0], scenario=found[1])
        session.commit()
        assert attempt.id is not None
        return attempt.id


def exam_attempt(
    service: ConversationService, user: User, *, limit_s: float = 60, grace_s: float = 0
) -> int:
    found = service.library.find(PACK, SCENARIO)
    assert found is not None
    now = service.now()
    rules = ExamRules(on_timeout="grace" if grace_s else "end", grace_s=grace_s)
    with Session(service.engine, expire_on_commit=False) as session:
        assert user.id is not None
        exam = create_exam(
            session=session,
            name="Spring",
            time_limit_s=limit_s,
            opens_at=now,
            closes_at=now + timedelta(days=1),
            rules=rules,
            scenarios=[(PACK, SCENARIO)],
            candidate_ids=[user.id],
            cohort=None,
            created_by=None,
        )
        session.flush()
        attempt = service.start_exam(
            session,
            exam=exam,
            user=user,
            pack_id=PACK,
            pack_version=found[0].version,
            scenario=found[1],
            retake=False,
        )
        session.commit()
        assert attempt.id is not None
        return attempt.id


def call(service: ConversationService, attempt_id: int, step: str, *args: object) -> Any:
    """`service.<step>(session, attempt, *args)` on a fresh session, as a worker runs it."""
    with Session(service.engine, expire_on_commit=False) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return getattr(service, step)(session, attempt, *args)


def row(service: ConversationService, attempt_id: int) -> Attempt:
    with Session(service.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return attempt


def lines(service: ConversationService, attempt_id: int) -> list[tuple[str, float]]:
    with Session(service.engine) as session:
        found = session.exec(
            select(AttemptMessage).where(AttemptMessage.attempt_id == attempt_id)
        ).all()
        return [(m.role, m.at) for m in sorted(found, key=lambda m: m.seq)]


def test_a_practice_turn_reads_the_injected_clock(
    service: ConversationService, clock: FakeClock, trainee: User
) -> None:
    attempt_id = practice(service, trainee)
    assert row(service, attempt_id).started_at == clock.now
    clock.advance(7.25)
    outcome = call(service, attempt_id, "say", ASK, "c-1")
    assert [m.role for m in outcome.new_messages] == ["trainee", "persona"]
    assert "amlodipine" in outcome.new_messages[1].text
    assert lines(service, attempt_id) == [("persona", 0.0), ("trainee", 7.25), ("persona", 7.25)]
    # The same client id again is a resend: nothing more is stored.
    assert call(service, attempt_id, "say", ASK, "c-1").duplicate
    assert len(lines(service, attempt_id)) == 3


def test_finishing_grades_once_and_a_second_finish_only_says_it_ended(
    service: ConversationService, clock: FakeClock, trainee: User
) -> None:
    attempt_id = practice(service, trainee)
    clock.advance(3)
    call(service, attempt_id, "say", ASK, None)
    clock.advance(2)
    outcome = call(service, attempt_id, "finish")
    assert outcome.ended_now
    attempt = row(service, attempt_id)
    assert attempt.end_reason == "finished" and attempt.grade is not None
    assert attempt.ended_at is not None
    graded_at = attempt.graded_at
    again = call(service, attempt_id, "finish")
    assert again.notice == "chat.notice.ended" and not again.ended_now
    assert row(service, attempt_id).graded_at == graded_at


def test_two_endings_race_and_only_one_claims_the_attempt(
    service: ConversationService, clock: FakeClock, trainee: User
) -> None:
    attempt_id = practice(service, trainee)
    clock.advance(5)
    with (
        Session(service.engine, expire_on_commit=False) as one,
        Session(service.engine, expire_on_commit=False) as two,
    ):
        first, second = one.get(Attempt, attempt_id), two.get(Attempt, attempt_id)
        assert first is not None and second is not None
        assert service.finish(one, first).ended_now is True
        # `second` was read before the first ending: the claim refuses it.
        assert service.finish(two, second).ended_now is False
    assert row(service, attempt_id).end_reason == "finished"


def test_a_practice_tick_ends_it_at_its_time_limit_and_the_server_never_does(
    service: ConversationService, clock: FakeClock, trainee: User
) -> None:
    attempt_id = practice(service, trainee)
    limit = row(service, attempt_id).time_limit_s
    clock.advance(limit + 1)
    assert call(service, attempt_id, "expire") is False  # practice ends on its page
    outcome = call(service, attempt_id, "tick")
    assert outcome.ended_now
    assert row(service, attempt_id).end_reason == "timeout"


def test_an_exam_refuses_a_late_message_and_grades_what_came_in_time(
    service: ConversationService, clock: FakeClock, trainee: User, bus: RecordingBus
) -> None:
    attempt_id = exam_attempt(service, trainee, limit_s=60)
    assert bus.published  # the monitor heard of the start
    clock.advance(59.5)
    assert call(service, attempt_id, "say", ASK, "e-1").new_messages
    clock.advance(1)
    late = call(service, attempt_id, "say", "Any allergies?", "e-2")
    assert late.notice == TIME_UP and late.ended_now
    attempt = row(service, attempt_id)
    assert attempt.end_reason == "timeout" and attempt.grade is not None
    assert [at for role, at in lines(service, attempt_id) if role == "trainee"] == [59.5]
    assert call(service, attempt_id, "say", "Hello?", "e-3").notice == TIME_UP


def test_an_exam_grace_period_takes_one_last_message(
    service: ConversationService, clock: FakeClock, trainee: User
) -> None:
    attempt_id = exam_attempt(service, trainee, limit_s=60, grace_s=20)
    clock.advance(70)
    last = call(service, attempt_id, "say", ASK, "g-1")
    assert last.notice == LAST_MESSAGE and last.ended_now
    assert row(service, attempt_id).end_reason == "timeout"


def test_the_server_expires_an_exam_after_its_deadline_only(
    service: ConversationService, clock: FakeClock, trainee: User
) -> None:
    attempt_id = exam_attempt(service, trainee, limit_s=60)
    clock.advance(60)
    assert call(service, attempt_id, "expire") is False
    clock.advance(0.5)
    assert asyncio.run(service.expire_due()) == [attempt_id]
    assert row(service, attempt_id).end_reason == "timeout"
    assert asyncio.run(service.expire_due()) == []
    assert len(service.locks) == 0  # the lock went with its last user


def test_hints_are_for_practice_only(service: ConversationService, trainee: User) -> None:
    hints = call(service, practice(service, trainee), "hints")
    assert isinstance(hints, list) and hints
    other = User(name="mei", role=Role.TRAINEE, password_hash="-")
    with Session(service.engine, expire_on_commit=False) as session:
        session.add(other)
        session.commit()
    assert call(service, exam_attempt(service, other), "hints") == "chat.notice.no_hints"


def test_the_socket_path_keeps_the_state_while_watched_and_drops_it_after(
    service: ConversationService,
    clock: FakeClock,
    trainee: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempt_id = practice(service, trainee)
    loads: list[int] = []
    original = live.load

    def counting(*args: object, **kwargs: object) -> live.Live:
        loads.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(live, "load", counting)

    async def talk() -> list[int]:
        service.opened(attempt_id)
        seqs = []
        for index, text in enumerate([ASK, "Do you have any allergies?", "Thank you."]):
            clock.advance(2)
            async with service.locks.hold(attempt_id):
                outcome = await service.take_message(attempt_id, text, f"s-{index}")
            seqs += [m.seq for m in outcome.new_messages]
        assert service.cached(attempt_id) is not None
        service.closed(attempt_id)
        assert service.cached(attempt_id) is None and not service.watched(attempt_id)
        return seqs

    assert asyncio.run(talk()) == [1, 2, 3, 4, 5, 6]
    assert len(loads) == 1  # the first turn loaded; the others took the kept state
    assert len(service.locks) == 0


def test_the_policies_differ_only_where_the_modes_do() -> None:
    exam = Attempt(
        user_id=1,
        pack_id=PACK,
        pack_version=1,
        scenario_id=SCENARIO,
        time_limit_s=80,
        grace_s=20,
        mode=Mode.EXAM,
        end_reason="timeout",
    )
    assert ExamPolicy().refuses(exam, [], 60.0) is False
    assert ExamPolicy().refuses(exam, [], 70.0) is False  # the one grace message
    assert ExamPolicy().refuses(exam, [65.0], 70.0) is True  # grace already used
    assert ExamPolicy().refuses(exam, [], 80.5) is True
    assert ExamPolicy().last_message(exam, 70.0) and not ExamPolicy().last_message(exam, 59.0)
    assert ExamPolicy().ended_notice(exam) == TIME_UP
    assert PracticePolicy().refuses(exam, [], 999.0) is False
    assert PracticePolicy().ended_notice(exam) == "chat.notice.ended"


def test_attempt_locks_serialise_one_attempt_and_are_pruned() -> None:
    locks = AttemptLocks()
    order: list[str] = []

    async def turn(name: str) -> None:
        async with locks.hold(1):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    async def both() -> None:
        await asyncio.gather(turn("a"), turn("b"))

    asyncio.run(both())
    assert order == ["a in", "a out", "b in", "b out"]
    assert len(locks) == 0
