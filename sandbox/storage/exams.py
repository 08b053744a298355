"""Exams: their scenarios and candidates, cohorts, written scores, retakes and appeals.

An exam attempt is an ordinary `Attempt` with `mode=exam` and `exam_id` set (columns in
models.py); the rules an exam is judged by are `ExamRules` stored as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, delete, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, String, col, select

from sandbox.exams.policy import ExamRules
from sandbox.storage.models import Attempt, AttemptMessage, Mode, Role, Speaker, User, utcnow


class Exam(SQLModel, table=True):
    """A timed practical exam over one or more scenarios, open in a window."""

    __tablename__ = "exams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(120))
    cohort: str | None = Field(default=None, sa_type=String(64), index=True)
    #: Seconds per scenario conversation, unless `scenario_limits` (`limit_s`).
    time_limit_s: float = 600
    #: Each conversation lasts its scenario's own `time_limit_s` ("in practice and exams
    #: alike"); `time_limit_s` is then only what the form shows if the proctor sets one.
    scenario_limits: bool = False
    opens_at: datetime
    closes_at: datetime
    rules: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: When the candidates see their results: None until released (or after a withdrawal);
    #: a future moment is a scheduled release, visible from then on (`results_visible`).
    results_released_at: datetime | None = None
    #: The exam's scenarios are never offered for practice to trainees (web/practice.py).
    exam_only: bool = False
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def limit_s(self) -> float | None:
        """The exam's own limit per conversation, or None for each scenario's own."""
        return None if self.scenario_limits else self.time_limit_s

    @property
    def exam_rules(self) -> ExamRules:
        return ExamRules.model_validate(self.rules)

    def window(self, now: datetime) -> str:
        """upcoming, open or closed at `now`."""
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"

    def results_visible(self, now: datetime) -> bool:
        """Whether the candidates see their results at `now`: released, and the release
        time (which may have been scheduled) has come. Decided at read time: no job runs."""
        return self.results_released_at is not None and self.results_released_at <= now

    def release_scheduled(self, now: datetime) -> bool:
        """A release is set for a moment still to come."""
        return self.results_released_at is not None and self.results_released_at > now


class ExamScenario(SQLModel, table=True):
    __tablename__ = "exam_scenarios"
    __table_args__ = (
        UniqueConstraint("exam_id", "pack_id", "scenario_id", name="uq_exam_scenarios"),
    )

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = Field(foreign_key="exams.id", index=True)
    position: int
    pack_id: str = Field(sa_type=String(64))
    scenario_id: str = Field(sa_type=String(64))

    @property
    def key(self) -> str:
        return f"{self.pack_id}/{self.scenario_id}"


class ExamCandidate(SQLModel, table=True):
    __tablename__ = "exam_candidates"

    exam_id: int = Field(foreign_key="exams.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True)


class CohortMember(SQLModel, table=True):
    """A named group of trainees, so an exam (or a report) can name a cohort."""

    __tablename__ = "cohort_members"

    cohort: str = Field(sa_type=String(64), primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True)


class WrittenScore(SQLModel, table=True):
    """A trainee's written-exam score, for the first sitting or the retake."""

    __tablename__ = "exam_written_scores"

    exam_id: int = Field(foreign_key="exams.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    retake: bool = Field(default=False, primary_key=True)
    score: float
    entered_by: int | None = Field(default=None, foreign_key="users.id")
    entered_at: datetime = Field(default_factory=utcnow)


class ExamRetake(SQLModel, table=True):
    """The one retake a failed candidate was granted: which parts, until when."""

    __tablename__ = "exam_retakes"
    __table_args__ = (UniqueConstraint("exam_id", "user_id", name="uq_exam_retakes"),)

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = Field(foreign_key="exams.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    scenarios: list[str] = Field(sa_column=Column(JSON, nullable=False))  # PACK/SCENARIO
    written: bool = False  # the written part is retaken too
    granted_by: int | None = Field(default=None, foreign_key="users.id")
    granted_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class AppealStatus(StrEnum):
    OPEN = "open"
    CHANGED = "changed"  # a criterion was overridden and the score recomputed
    KEPT = "kept"


class Appeal(SQLModel, table=True):
    """A trainee's request to review a graded exam attempt, and how it was resolved."""

    __tablename__ = "exam_appeals"
    __table_args__ = (
        # One appeal per graded conversation, kept by the database: of two appeals sent at
        # once, the second is refused (`add_appeal`). Duplicates stored before migration
        # 0005 are kept and point at the first appeal of their attempt.
        Index(
            "uq_exam_appeals_attempt",
            "attempt_id",
            unique=True,
            sqlite_where=text("duplicate_of IS NULL"),
            postgresql_where=text("duplicate_of IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = Field(foreign_key="exams.id", index=True)
    attempt_id: int = Field(foreign_key="attempts.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    opened_at: datetime = Field(default_factory=utcnow)
    status: AppealStatus = Field(default=AppealStatus.OPEN, sa_type=String(16))
    resolved_by: int | None = Field(default=None, foreign_key="users.id")
    resolved_at: datetime | None = None
    note: str | None = Field(default=None, sa_column=Column(Text))
    overrides: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    old_score: float | None = None
    new_score: float | None = None
    duplicate_of: int | None = Field(default=None, foreign_key="exam_appeals.id")


# --- exams -------------------------------------------------------------------------------


def create_exam(
    *,
    session: Session,
    name: str,
    time_limit_s: float | None,
    opens_at: datetime,
    closes_at: datetime,
    rules: ExamRules,
    scenarios: Sequence[tuple[str, str]],
    candidate_ids: Iterable[int],
    cohort: str | None,
    created_by: int | None,
    exam_only: bool = False,
) -> Exam:
    """A new exam with its scenarios (in order) and candidates (not yet committed)."""
    exam = Exam(
        name=name,
        cohort=cohort,
        time_limit_s=600 if time_limit_s is None else time_limit_s,
        scenario_limits=time_limit_s is None,
        opens_at=opens_at,
        closes_at=closes_at,
        rules=rules.model_dump(mode="json"),
        created_by=created_by,
        exam_only=exam_only,
    )
    session.add(exam)
    session.flush()
    set_scenarios(session=session, exam=exam, scenarios=scenarios)
    set_candidates(session=session, exam=exam, user_ids=candidate_ids)
    return exam


def set_scenarios(*, session: Session, exam: Exam, scenarios: Sequence[tuple[str, str]]) -> None:
    """The exam's scenarios: those it had keep their order (a proctor may have reordered
    them, web/routes/exam_order.py), new ones follow in the order given."""
    assert exam.id is not None
    before = [
        (row.pack_id, row.scenario_id) for row in exam_scenarios(session=session, exam_id=exam.id)
    ]
    wanted = set(scenarios)
    scenarios = [key for key in before if key in wanted] + [
        key for key in scenarios if key not in before
    ]
    session.exec(delete(ExamScenario).where(col(ExamScenario.exam_id) == exam.id))
    for position, (pack_id, scenario_id) in enumerate(scenarios):
        session.add(
            ExamScenario(
                exam_id=exam.id, position=position, pack_id=pack_id, scenario_id=scenario_id
            )
        )
    session.flush()


def set_candidates(*, session: Session, exam: Exam, user_ids: Iterable[int]) -> None:
    assert exam.id is not None
    session.exec(delete(ExamCandidate).where(col(ExamCandidate.exam_id) == exam.id))
    for user_id in sorted(set(user_ids)):
        session.add(ExamCandidate(exam_id=exam.id, user_id=user_id))
    session.flush()


def list_exams(*, session: Session) -> list[Exam]:
    """Every exam, the latest window first."""
    return list(session.exec(select(Exam).order_by(col(Exam.opens_at).desc(), col(Exam.id))))


def exam_scenarios(*, session: Session, exam_id: int) -> list[ExamScenario]:
    statement = (
        select(ExamScenario)
        .where(ExamScenario.exam_id == exam_id)
        .order_by(col(ExamScenario.position))
    )
    return list(session.exec(statement))


def candidates_statement(*, exam_id: int, user_ids: Iterable[int] | None = None) -> Any:
    """The statement of the exam's candidates (those of `user_ids`, if given), by name: to
    page through with `sandbox.web.pagination`."""
    statement = (
        select(User)
        .join(ExamCandidate, col(ExamCandidate.user_id) == col(User.id))
        .where(ExamCandidate.exam_id == exam_id)
        .order_by(col(User.name), col(User.id))
    )
    if user_ids is not None:
        statement = statement.where(col(User.id).in_(list(user_ids)))
    return statement


def candidates(
    *, session: Session, exam_id: int, user_ids: Iterable[int] | None = None
) -> list[User]:
    """The exam's candidates (those of `user_ids`, if given), by name."""
    return list(session.exec(candidates_statement(exam_id=exam_id, user_ids=user_ids)))


def is_candidate(*, session: Session, exam_id: int, user_id: int) -> bool:
    return session.get(ExamCandidate, (exam_id, user_id)) is not None


def exams_for(*, session: Session, user_id: int) -> list[Exam]:
    """The exams a trainee is a candidate of, the latest window first."""
    statement = (
        select(Exam)
        .join(ExamCandidate, col(ExamCandidate.exam_id) == col(Exam.id))
        .where(ExamCandidate.user_id == user_id)
        .order_by(col(Exam.opens_at).desc(), col(Exam.id))
    )
    return list(session.exec(statement))


def exam_attempts(
    *,
    session: Session,
    exam_id: int,
    user_id: int | None = None,
    user_ids: Iterable[int] | None = None,
) -> list[Attempt]:
    """The exam's attempts (of one candidate, or of `user_ids`, if given), oldest first."""
    statement = select(Attempt).where(Attempt.exam_id == exam_id, Attempt.mode == Mode.EXAM)
    if user_id is not None:
        statement = statement.where(Attempt.user_id == user_id)
    if user_ids is not None:
        statement = statement.where(col(Attempt.user_id).in_(list(user_ids)))
    return list(session.exec(statement.order_by(col(Attempt.started_at), col(Attempt.id))))


# --- starting an exam attempt --------------------------------------------------------------


class StartRefused(Exception):
    """No attempt was stored: `reason` is "no_attempts" (the sitting's attempts are used up)
    or "taken" (another request stored its attempt first); `open_attempt` is the candidate's
    conversation running in the exam now, if any: where the loser of a race is sent."""

    def __init__(self, reason: str, open_attempt: Attempt | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.open_attempt = open_attempt


def open_exam_attempt(*, session: Session, exam_id: int, user_id: int) -> Attempt | None:
    """The candidate's exam conversation still running in this exam (the earliest, if a
    database from before migration 0005 holds several)."""
    statement = select(Attempt).where(
        Attempt.exam_id == exam_id,
        Attempt.user_id == user_id,
        Attempt.mode == Mode.EXAM,
        col(Attempt.ended_at).is_(None),
    )
    return session.exec(statement.order_by(col(Attempt.started_at), col(Attempt.id))).first()


def start_exam_attempt(
    *,
    session: Session,
    exam: Exam,
    user: User,
    pack_id: str,
    pack_version: int,
    scenario_id: str,
    opening: str,
    retake: bool,
    time_limit_s: float,
    grace_s: float,
    started_at: datetime,
) -> Attempt:
    """Store the candidate's next attempt at a scenario, with the persona's opening as
    message 0 (not committed), or raise `StartRefused`.

    A sitting is the first sitting (`retake` False) or the candidate's one retake (True);
    each allows the exam's `attempts_allowed` attempts per scenario. The database keeps the
    limits however many requests arrive at once: the attempt takes the next numbered slot of
    its sitting (`uq_attempts_exam_slot`: two requests that counted the same attempts want
    the same slot) and becomes the candidate's one open conversation of the exam
    (`uq_attempts_open_exam`). The request that loses either race fails on the insert; its
    transaction is rolled back (so call this before writing anything else in `session`)
    and it is told the conversation that won.
    """
    assert exam.id is not None and user.id is not None
    exam_id, user_id = exam.id, user.id
    taken, highest = session.exec(
        select(func.count(), func.max(Attempt.attempt_no)).where(
            Attempt.exam_id == exam_id,
            Attempt.user_id == user_id,
            Attempt.mode == Mode.EXAM,
            Attempt.pack_id == pack_id,
            Attempt.scenario_id == scenario_id,
            Attempt.retake == retake,
        )
    ).one()
    if taken >= exam.exam_rules.attempts_allowed:
        raise StartRefused(
            "no_attempts", open_exam_attempt(session=session, exam_id=exam_id, user_id=user_id)
        )
    attempt = Attempt(
        user_id=user_id,
        pack_id=pack_id,
        pack_version=pack_version,
        scenario_id=scenario_id,
        mode=Mode.EXAM,
        time_limit_s=time_limit_s,
        started_at=started_at,
        exam_id=exam_id,
        retake=retake,
        grace_s=grace_s,
        deadline_at=started_at + timedelta(seconds=time_limit_s),
        attempt_no=max(taken, highest or 0) + 1,
    )
    session.add(attempt)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise StartRefused(
            "taken", open_exam_attempt(session=session, exam_id=exam_id, user_id=user_id)
        ) from None
    assert attempt.id is not None
    session.add(
        AttemptMessage(
            attempt_id=attempt.id,
            seq=0,
            role=Speaker.PERSONA,
            text=opening,
            at=0.0,
            kind="opening",
        )
    )
    session.flush()
    return attempt


def open_exam_attempts(*, session: Session, due_before: datetime | None = None) -> list[Attempt]:
    """Exam attempts still running (whose deadline falls before `due_before`, if given)."""
    statement = select(Attempt).where(
        Attempt.mode == Mode.EXAM,
        col(Attempt.ended_at).is_(None),
        col(Attempt.deadline_at).is_not(None),
    )
    if due_before is not None:
        statement = statement.where(col(Attempt.deadline_at) < due_before)
    return list(session.exec(statement.order_by(col(Attempt.deadline_at))))


def next_exam_deadline(*, session: Session) -> datetime | None:
    """The earliest deadline of an exam attempt still running."""
    statement = select(func.min(Attempt.deadline_at)).where(
        Attempt.mode == Mode.EXAM, col(Attempt.ended_at).is_(None)
    )
    value: datetime | None = session.exec(statement).one()
    return value


def exams_of_cohort(*, session: Session, cohort: str) -> list[Exam]:
    statement = select(Exam).where(Exam.cohort == cohort).order_by(col(Exam.opens_at))
    return list(session.exec(statement))


# --- cohorts and trainees ----------------------------------------------------------------


def trainees(*, session: Session) -> list[User]:
    """Active trainees, by name: who can be a candidate."""
    statement = (
        select(User)
        .where(User.role == Role.TRAINEE, col(User.active).is_(True))
        .order_by(col(User.name))
    )
    return list(session.exec(statement))


def cohort_names(*, session: Session) -> list[str]:
    statement = select(CohortMember.cohort).distinct().order_by(col(CohortMember.cohort))
    return list(session.exec(statement))


def cohort_member_ids(*, session: Session, cohort: str) -> list[int]:
    statement = select(CohortMember.user_id).where(CohortMember.cohort == cohort)
    return list(session.exec(statement))


def create_cohort(*, session: Session, cohort: str, user_ids: Iterable[int]) -> None:
    for user_id in sorted(set(user_ids)):
        session.add(CohortMember(cohort=cohort, user_id=user_id))
    session.flush()


# --- written scores ----------------------------------------------------------------------


def written_scores(
    *, session: Session, exam_id: int, user_ids: Iterable[int] | None = None
) -> dict[tuple[int, bool], WrittenScore]:
    """(user id, retake) -> the written score (of `user_ids`, if given)."""
    statement = select(WrittenScore).where(WrittenScore.exam_id == exam_id)
    if user_ids is not None:
        statement = statement.where(col(WrittenScore.user_id).in_(list(user_ids)))
    return {(w.user_id, w.retake): w for w in session.exec(statement)}


def set_written_score(
    *,
    session: Session,
    exam_id: int,
    user_id: int,
    score: float,
    entered_by: int | None,
    retake: bool = False,
    at: datetime | None = None,
) -> float | None:
    """Store a written score (entered `at`, default now); return the one it replaced."""
    existing = session.get(WrittenScore, (exam_id, user_id, retake))
    old = existing.score if existing else None
    if existing is None:
        existing = WrittenScore(exam_id=exam_id, user_id=user_id, retake=retake, score=score)
    existing.score = score
    existing.entered_by = entered_by
    existing.entered_at = at or utcnow()
    session.add(existing)
    session.flush()
    return old


# --- retakes -----------------------------------------------------------------------------


def retakes(
    *, session: Session, exam_id: int, user_ids: Iterable[int] | None = None
) -> dict[int, ExamRetake]:
    """User id -> the retake granted (of `user_ids`, if given)."""
    statement = select(ExamRetake).where(ExamRetake.exam_id == exam_id)
    if user_ids is not None:
        statement = statement.where(col(ExamRetake.user_id).in_(list(user_ids)))
    return {r.user_id: r for r in session.exec(statement)}


def retake_for(*, session: Session, exam_id: int, user_id: int) -> ExamRetake | None:
    statement = select(ExamRetake).where(
        ExamRetake.exam_id == exam_id, ExamRetake.user_id == user_id
    )
    return session.exec(statement).first()


# --- appeals -----------------------------------------------------------------------------


def appeals_for_attempts(*, session: Session, attempt_ids: Iterable[int]) -> dict[int, Appeal]:
    """The latest appeal of each attempt."""
    ids = list(attempt_ids)
    if not ids:
        return {}
    statement = select(Appeal).where(col(Appeal.attempt_id).in_(ids)).order_by(col(Appeal.id))
    return {a.attempt_id: a for a in session.exec(statement)}


class AppealExists(Exception):
    """The conversation has been appealed already (perhaps a moment ago, by a request sent
    at the same time)."""


def add_appeal(
    *,
    session: Session,
    exam_id: int,
    attempt_id: int,
    user_id: int,
    reason: str,
    opened_at: datetime,
) -> Appeal:
    """Store the one appeal of a graded conversation (not committed), or raise AppealExists.

    The unique index `uq_exam_appeals_attempt` decides between appeals sent at once: the
    later insert fails, its transaction is rolled back (so call this before writing anything
    else in `session`).
    """
    if appeals_for_attempts(session=session, attempt_ids=[attempt_id]):
        raise AppealExists()
    appeal = Appeal(
        exam_id=exam_id, attempt_id=attempt_id, user_id=user_id, reason=reason, opened_at=opened_at
    )
    session.add(appeal)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AppealExists() from None
    return appeal


def list_appeals(*, session: Session, status: AppealStatus | None = None) -> list[Appeal]:
    statement = select(Appeal)
    if status is not None:
        statement = statement.where(Appeal.status == status)
    return list(session.exec(statement.order_by(col(Appeal.opened_at).desc(), col(Appeal.id))))


def trainee_message_counts(*, session: Session, attempt_ids: Iterable[int]) -> dict[int, int]:
    """Attempt id -> how many messages the trainee has sent in it."""
    ids = list(attempt_ids)
    if not ids:
        return {}
    statement = (
        select(AttemptMessage.attempt_id, func.count())
        .where(col(AttemptMessage.attempt_id).in_(ids), AttemptMessage.role == Speaker.TRAINEE)
        .group_by(col(AttemptMessage.attempt_id))
    )
    return {attempt_id: int(count) for attempt_id, count in session.exec(statement)}
