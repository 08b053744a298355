"""Quizzes and the written part of exams: sittings, their answers, marking, timing.

A sitting is one paper of questions for one user: a quiz (`kind="quiz"`) or the written part
of an exam (`kind="written"`, one per candidate and exam and retake). Its questions are
drawn once, from a seed stored with it, and each answer is stored as soon as it is given
(autosave). The server's clock rules: an answer after the deadline and its grace is refused,
and a sitting whose time is up is submitted by `expire_due`, which the exam timers and every
page that shows a sitting call (so a sitting nobody opens again is submitted all the same).

What an answer earns is the core's (`sandbox.questions.scoring`); this module stores it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, String, col, select

from sandbox.questions.models import Question
from sandbox.questions.scoring import (
    AnswerError,
    draw,
    mark,
    normalise,
    option_order,
)
from sandbox.questions.scoring import (
    select as select_questions,
)
from sandbox.questions.stats import Response as StatResponse
from sandbox.storage.audit import record
from sandbox.storage.exams import Exam, set_written_score
from sandbox.storage.models import utcnow

QUIZ = "quiz"
WRITTEN = "written"
#: A quiz: how many questions and how long (the policies' 5–10 minute quizzes).
QUIZ_QUESTIONS = 8
QUIZ_TIME_S = 10 * 60
QUIZ_GRACE_S = 30.0


class QuestionSitting(SQLModel, table=True):
    """One paper of questions for one user: a quiz, or the written part of an exam."""

    __tablename__ = "question_sittings"
    __table_args__ = (
        # One written sitting per candidate, exam and retake (quizzes have no exam: NULLs
        # are distinct in a unique index on SQLite and PostgreSQL alike).
        UniqueConstraint("exam_id", "user_id", "retake", name="uq_question_sittings_exam"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(sa_type=String(16))
    exam_id: int | None = Field(default=None, foreign_key="exams.id", index=True)
    retake: bool = False
    locale: str = Field(sa_type=String(16))
    #: How the questions were chosen (trade, tags, weak spots, difficulties, count).
    selection: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: The seed of the draw and of every option shuffle: the paper is reproduced from it.
    seed: int
    started_at: datetime = Field(default_factory=utcnow)
    deadline_at: datetime
    grace_s: float = 0.0
    submitted_at: datetime | None = None
    submit_reason: str | None = Field(default=None, sa_type=String(16))  # submitted, deadline
    score: float | None = None  # points, once every answer is marked
    max_score: float = 0.0

    @property
    def submitted(self) -> bool:
        return self.submitted_at is not None

    @property
    def percent(self) -> float | None:
        if self.score is None or not self.max_score:
            return None
        return round(100 * self.score / self.max_score, 2)

    def closes_at(self) -> datetime:
        """The last moment an answer is taken: the deadline plus the grace."""
        return self.deadline_at + timedelta(seconds=self.grace_s)


class QuestionResponse(SQLModel, table=True):
    """One question of a sitting and the answer given to it (None until answered)."""

    __tablename__ = "question_responses"
    __table_args__ = (
        UniqueConstraint("sitting_id", "position", name="uq_question_responses_position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sitting_id: int = Field(foreign_key="question_sittings.id", index=True)
    position: int
    question_id: str = Field(sa_type=String(64), index=True)
    points: float
    #: The options in the order this candidate sees them (indices in the file's order).
    option_order: list[int] | None = Field(default=None, sa_column=Column(JSON))
    answer: Any = Field(default=None, sa_column=Column(JSON))
    answered_at: datetime | None = None
    score: float | None = None  # None: not answered yet, or waiting for a marker
    correct: bool | None = None
    marked_by: int | None = Field(default=None, foreign_key="users.id")
    marked_at: datetime | None = None


class WrittenPart(SQLModel, table=True):
    """An exam's written part: fixed questions, or a per-candidate draw from a seed."""

    __tablename__ = "exam_written_parts"

    exam_id: int = Field(foreign_key="exams.id", primary_key=True)
    questions: list[str] = Field(sa_column=Column(JSON, nullable=False))  # fixed, in order
    tags: list[str] = Field(sa_column=Column(JSON, nullable=False))
    difficulties: list[str] = Field(sa_column=Column(JSON, nullable=False))
    count: int = 0
    locale: str | None = Field(default=None, sa_type=String(16))
    trade: str | None = Field(default=None, sa_type=String(16))
    seed: int
    time_limit_s: float
    grace_s: float = 0.0


class SittingError(Exception):
    """A refused request about a sitting; `code` is the message key's last part."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def new_seed() -> int:
    return secrets.randbelow(2**31)


def candidate_seed(part_seed: int, user_id: int) -> int:
    """The seed of one candidate's draw: the part's seed and the user, nothing else."""
    return (part_seed * 1_000_003 + user_id * 7_919) % 2**31


# --- starting -----------------------------------------------------------------------------


def _create(
    session: Session,
    *,
    user_id: int,
    kind: str,
    chosen: Sequence[Question],
    seed: int,
    locale: str,
    selection: dict[str, Any],
    now: datetime,
    time_s: float,
    grace_s: float,
    exam_id: int | None = None,
    retake: bool = False,
) -> QuestionSitting:
    sitting = QuestionSitting(
        user_id=user_id,
        kind=kind,
        exam_id=exam_id,
        retake=retake,
        locale=locale,
        selection=selection,
        seed=seed,
        started_at=now,
        deadline_at=now + timedelta(seconds=time_s),
        grace_s=grace_s,
        max_score=sum(q.points for q in chosen),
    )
    session.add(sitting)
    session.flush()
    assert sitting.id is not None
    for position, question in enumerate(chosen):
        order = option_order(question, seed) if question.options else None
        session.add(
            QuestionResponse(
                sitting_id=sitting.id,
                position=position,
                question_id=question.id,
                points=question.points,
                option_order=order,
            )
        )
    session.flush()
    return sitting


def start_quiz(
    session: Session,
    *,
    user_id: int,
    bank: dict[str, Question],
    locale: str,
    trade: str | None,
    tag: str | None,
    weak: bool,
    now: datetime,
    seed: int | None = None,
    count: int = QUIZ_QUESTIONS,
) -> QuestionSitting:
    """A quiz of up to `count` questions of the locale (and trade or tag); `weak`: the
    questions this user missed before come first. `SittingError("empty")` if none fit."""
    seed = new_seed() if seed is None else seed
    pool = select_questions(bank.values(), locale=locale, trade=trade, tags=[tag] if tag else [])
    missed = weak_spots(session, user_id) if weak else []
    if weak:
        pool = [q for q in pool if q.id in set(missed)] or []
    if not pool:
        raise SittingError("empty")
    ids = draw(pool, count, seed, first=missed)
    selection = {"trade": trade, "tag": tag, "weak": weak, "count": count}
    return _create(
        session,
        user_id=user_id,
        kind=QUIZ,
        chosen=[bank[i] for i in ids],
        seed=seed,
        locale=locale,
        selection=selection,
        now=now,
        time_s=QUIZ_TIME_S,
        grace_s=QUIZ_GRACE_S,
    )


def written_part(session: Session, exam_id: int) -> WrittenPart | None:
    return session.get(WrittenPart, exam_id)


def set_written_part(
    session: Session,
    *,
    exam_id: int,
    questions: Sequence[str],
    tags: Sequence[str],
    difficulties: Sequence[str],
    count: int,
    locale: str | None,
    trade: str | None,
    time_limit_s: float,
    grace_s: float,
    seed: int | None = None,
) -> WrittenPart:
    """Give an exam a written part (or change it; a part already sat keeps its papers)."""
    part = session.get(WrittenPart, exam_id)
    if part is None:
        part = WrittenPart(
            exam_id=exam_id,
            questions=[],
            tags=[],
            difficulties=[],
            seed=0,
            time_limit_s=time_limit_s,
        )
        part.seed = new_seed() if seed is None else seed
    elif seed is not None:
        part.seed = seed
    part.questions = list(questions)
    part.tags = list(tags)
    part.difficulties = list(difficulties)
    part.count = count
    part.locale = locale
    part.trade = trade
    part.time_limit_s = time_limit_s
    part.grace_s = grace_s
    session.add(part)
    session.flush()
    return part


def paper_for(part: WrittenPart, user_id: int, bank: dict[str, Question]) -> tuple[list[str], int]:
    """The question ids of one candidate's paper and the seed they came from: the fixed
    questions, or a draw by tags and difficulty from the candidate's seed (reproducible)."""
    seed = candidate_seed(part.seed, user_id)
    if part.questions:
        return [q for q in part.questions if q in bank], seed
    pool = select_questions(
        bank.values(),
        locale=part.locale,
        trade=part.trade,
        tags=part.tags,
        difficulties=part.difficulties,
    )
    return draw(pool, part.count, seed), seed


def written_sitting(
    session: Session, exam_id: int, user_id: int, retake: bool = False
) -> QuestionSitting | None:
    statement = select(QuestionSitting).where(
        QuestionSitting.exam_id == exam_id,
        QuestionSitting.user_id == user_id,
        QuestionSitting.retake == retake,
    )
    return session.exec(statement).first()


def start_written(
    session: Session,
    *,
    exam: Exam,
    part: WrittenPart,
    user_id: int,
    bank: dict[str, Question],
    now: datetime,
    retake: bool = False,
) -> QuestionSitting:
    """The candidate's written sitting: the one already started (resumed), or a new one.
    The deadline is the part's time limit from the start, and never after the exam closes."""
    existing = written_sitting(session, exam.id or 0, user_id, retake)
    if existing is not None:
        return existing
    if exam.window(now) != "open" and not retake:
        raise SittingError("closed")
    ids, seed = paper_for(part, user_id, bank)
    if not ids:
        raise SittingError("empty")
    limit = part.time_limit_s
    if not retake:
        limit = min(limit, max((exam.closes_at - now).total_seconds(), 0.0))
    locale = bank[ids[0]].locale
    selection = {
        "fixed": bool(part.questions),
        "tags": part.tags,
        "difficulties": part.difficulties,
        "count": len(ids),
    }
    return _create(
        session,
        user_id=user_id,
        kind=WRITTEN,
        chosen=[bank[i] for i in ids],
        seed=seed,
        locale=locale,
        selection=selection,
        now=now,
        time_s=limit,
        grace_s=part.grace_s,
        exam_id=exam.id,
        retake=retake,
    )


# --- answering ------------------------------------------------------------------------------


def responses(session: Session, sitting_id: int) -> list[QuestionResponse]:
    statement = (
        select(QuestionResponse)
        .where(QuestionResponse.sitting_id == sitting_id)
        .order_by(col(QuestionResponse.position))
    )
    return list(session.exec(statement))


def save_answer(
    session: Session,
    *,
    sitting: QuestionSitting,
    position: int,
    raw: Any,
    bank: dict[str, Question],
    now: datetime,
) -> QuestionResponse:
    """Store an answer as it is given (autosave). A quiz answer is final and marked at
    once; a written answer may change until the sitting is submitted. Refused
    (`SittingError`) after submission or past the deadline and its grace."""
    if sitting.submitted:
        raise SittingError("submitted")
    if now > sitting.closes_at():
        raise SittingError("time_up")
    statement = select(QuestionResponse).where(
        QuestionResponse.sitting_id == sitting.id, QuestionResponse.position == position
    )
    response = session.exec(statement).first()
    if response is None:
        raise SittingError("no_question")
    question = bank.get(response.question_id)
    if question is None:
        raise SittingError("no_question")
    if sitting.kind == QUIZ and response.answered_at is not None:
        raise SittingError("answered")
    try:
        answer = normalise(question, raw)
    except AnswerError:
        raise SittingError("bad_answer") from None
    if answer is None and sitting.kind == QUIZ:
        raise SittingError("no_answer")  # a quiz answer is final: an empty one is not one
    response.answer = answer
    response.answered_at = now
    marked = mark(question, answer)
    response.score = marked.score
    response.correct = marked.correct
    session.add(response)
    session.flush()
    if sitting.kind == QUIZ and all(
        r.answered_at is not None for r in responses(session, sitting.id or 0)
    ):
        submit(session, sitting=sitting, bank=bank, now=now, reason="submitted")
    return response


def submit(
    session: Session,
    *,
    sitting: QuestionSitting,
    bank: dict[str, Question],
    now: datetime,
    reason: str = "submitted",
) -> QuestionSitting:
    """Hand the sitting in (once): every answer is marked, unanswered ones earn nothing."""
    if sitting.submitted:
        return sitting
    # One atomic claim: of a candidate's click and a timer's sweep (in any worker), only
    # the first hands the paper in; the other finds it handed in.
    claimed = session.execute(
        update(QuestionSitting)
        .where(col(QuestionSitting.id) == sitting.id, col(QuestionSitting.submitted_at).is_(None))
        .values(submitted_at=now, submit_reason=reason)
    )
    session.refresh(sitting)
    if getattr(claimed, "rowcount", 1) != 1:
        return sitting
    for response in responses(session, sitting.id or 0):
        question = bank.get(response.question_id)
        if response.answer is None or question is None:
            response.score, response.correct = 0.0, False
        elif response.score is None and question.objective:
            marked = mark(question, response.answer)
            response.score, response.correct = marked.score, marked.correct
        session.add(response)
    session.add(sitting)
    session.flush()
    _settle(session, sitting)
    return sitting


def _settle(session: Session, sitting: QuestionSitting) -> None:
    """When every answer of a submitted sitting is marked: its score, and for an exam its
    written score (which the 40/60 result reads, as a typed one)."""
    rows = responses(session, sitting.id or 0)
    if not sitting.submitted or any(r.score is None for r in rows):
        return
    sitting.score = sum(r.score or 0.0 for r in rows)
    session.add(sitting)
    if sitting.kind == WRITTEN and sitting.exam_id is not None:
        record(
            session,
            actor_id=None,
            action="written.paper",
            subject_type="exam",
            subject_id=sitting.exam_id,
            new={"user_id": sitting.user_id, "score": sitting.percent, "retake": sitting.retake},
        )
        set_written_score(
            session=session,
            exam_id=sitting.exam_id,
            user_id=sitting.user_id,
            score=sitting.percent or 0.0,
            entered_by=None,
            retake=sitting.retake,
            at=sitting.submitted_at,
        )
    session.flush()


def expire_due(session: Session, *, bank: dict[str, Question], now: datetime) -> int:
    """Submit every sitting whose deadline and grace have passed; how many were."""
    statement = select(QuestionSitting).where(col(QuestionSitting.submitted_at).is_(None))
    count = 0
    for sitting in session.exec(statement).all():
        if now > sitting.closes_at():
            submit(session, sitting=sitting, bank=bank, now=now, reason="deadline")
            count += 1
    return count


# --- marking --------------------------------------------------------------------------------


def unmarked(session: Session) -> list[tuple[QuestionResponse, QuestionSitting]]:
    """Answers of submitted written sittings waiting for a marker, oldest first."""
    statement = (
        select(QuestionResponse, QuestionSitting)
        .join(QuestionSitting, col(QuestionSitting.id) == QuestionResponse.sitting_id)
        .where(
            col(QuestionSitting.submitted_at).is_not(None),
            col(QuestionResponse.score).is_(None),
        )
        .order_by(col(QuestionSitting.submitted_at), col(QuestionResponse.id))
    )
    return [(r, s) for r, s in session.exec(statement)]


def mark_response(
    session: Session, *, response_id: int, score: float, marker_id: int, now: datetime
) -> QuestionResponse:
    """A marker's points for a short answer (0 to the question's points)."""
    response = session.get(QuestionResponse, response_id)
    if response is None:
        raise SittingError("no_question")
    sitting = session.get(QuestionSitting, response.sitting_id)
    if sitting is None or not sitting.submitted:
        raise SittingError("not_submitted")
    if not 0 <= score <= response.points:
        raise SittingError("bad_mark")
    response.score = score
    response.correct = score >= response.points
    response.marked_by = marker_id
    response.marked_at = now
    session.add(response)
    session.flush()
    _settle(session, sitting)
    return response


# --- history, mastery, statistics ----------------------------------------------------------


def quizzes_of(session: Session, user_ids: Iterable[int], limit: int = 50) -> list[QuestionSitting]:
    ids = list(user_ids)
    if not ids:
        return []
    statement = (
        select(QuestionSitting)
        .where(QuestionSitting.kind == QUIZ, col(QuestionSitting.user_id).in_(ids))
        .order_by(col(QuestionSitting.started_at).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def _quiz_answers(session: Session, user_id: int) -> list[QuestionResponse]:
    statement = (
        select(QuestionResponse)
        .join(QuestionSitting, col(QuestionSitting.id) == QuestionResponse.sitting_id)
        .where(
            QuestionSitting.user_id == user_id,
            QuestionSitting.kind == QUIZ,
            col(QuestionResponse.answered_at).is_not(None),
        )
        .order_by(col(QuestionResponse.answered_at))
    )
    return list(session.exec(statement))


def weak_spots(session: Session, user_id: int) -> list[str]:
    """Questions whose latest quiz answer by this user was wrong (they come back)."""
    latest: dict[str, bool | None] = {}
    for response in _quiz_answers(session, user_id):
        latest[response.question_id] = response.correct
    return sorted(q for q, right in latest.items() if right is False)


@dataclass(frozen=True)
class Mastery:
    tag: str
    right: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.right / self.total) if self.total else 0


def mastery(session: Session, user_id: int, bank: dict[str, Question]) -> list[Mastery]:
    """Per tag: of the quiz answers marked, how many were right."""
    counts: dict[str, list[int]] = {}
    for response in _quiz_answers(session, user_id):
        question = bank.get(response.question_id)
        if question is None or response.correct is None:
            continue
        for tag in question.tags:
            pair = counts.setdefault(tag, [0, 0])
            pair[0] += int(response.correct)
            pair[1] += 1
    return [Mastery(t, r, n) for t, (r, n) in sorted(counts.items())]


def written_sittings(session: Session, exam_id: int) -> list[QuestionSitting]:
    statement = (
        select(QuestionSitting)
        .where(QuestionSitting.exam_id == exam_id, QuestionSitting.kind == WRITTEN)
        .order_by(col(QuestionSitting.id))
    )
    return list(session.exec(statement))


def choice_of(answer: Any) -> str:
    """What a candidate chose (a stored answer), as the statistics count it."""
    if answer is None:
        return "none"
    if isinstance(answer, bool):
        return "true" if answer else "false"
    if isinstance(answer, int):  # option numbers as people count them: 1 is the first
        return str(answer + 1)
    if isinstance(answer, list):
        return "+".join(str(a + 1) for a in answer)
    return "answered"


def stat_papers(
    session: Session, exam_id: int, bank: dict[str, Question]
) -> list[dict[str, StatResponse]]:
    """The first-sitting papers of an exam, fully marked, as the statistics read them (one
    query of plain columns: a cohort's papers hold tens of thousands of answers)."""
    statement = (
        sa_select(
            col(QuestionResponse.sitting_id),
            col(QuestionResponse.question_id),
            col(QuestionResponse.score),
            col(QuestionResponse.points),
            col(QuestionResponse.answer),
        )
        .join(QuestionSitting, col(QuestionSitting.id) == QuestionResponse.sitting_id)
        .where(
            col(QuestionSitting.exam_id) == exam_id,
            col(QuestionSitting.kind) == WRITTEN,
            col(QuestionSitting.retake).is_(False),
            col(QuestionSitting.score).is_not(None),
        )
        .order_by(col(QuestionResponse.sitting_id), col(QuestionResponse.position))
    )
    papers: dict[int, dict[str, StatResponse]] = {}
    for sitting_id, question_id, score, points, answer in session.execute(statement):
        papers.setdefault(sitting_id, {})[question_id] = StatResponse(
            score or 0.0, points, choice_of(answer)
        )
    return list(papers.values())
