"""Extra time per exam candidate (an accommodation): seconds added to each of their
conversations' limit in that exam, set by a proctor before or during the exam. Audited
(exam.extra_time).

More time given while a conversation of theirs runs lengthens it too: its limit and its
server deadline grow by the difference, in one conditional UPDATE (only while it has not
ended). Less time, or none, applies to the conversations they start from then on: a
running one is never shortened, as the candidate has been shown their time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, col, select

from sandbox.storage.audit import record
from sandbox.storage.models import Attempt, Mode

#: The most extra time a proctor may give, per conversation.
EXTRA_MAX_S = 3600.0


class ExtraTime(SQLModel, table=True):
    __tablename__ = "exam_extra_time"

    exam_id: int = Field(foreign_key="exams.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    extra_s: float


def extra_times(session: Session, *, exam_id: int) -> dict[int, float]:
    """User id -> extra seconds per conversation in this exam."""
    rows = session.exec(select(ExtraTime).where(ExtraTime.exam_id == exam_id)).all()
    return {row.user_id: row.extra_s for row in rows}


def extra_for(session: Session, *, exam_id: int, user_id: int) -> float:
    row = session.get(ExtraTime, (exam_id, user_id))
    return row.extra_s if row else 0.0


def running_attempts(session: Session, *, exam_id: int, user_id: int) -> list[Attempt]:
    """The candidate's exam conversations still running in this exam."""
    statement = select(Attempt).where(
        Attempt.exam_id == exam_id,
        Attempt.user_id == user_id,
        Attempt.mode == Mode.EXAM,
        col(Attempt.ended_at).is_(None),
    )
    return list(session.exec(statement).all())


def lengthen_running(session: Session, *, exam_id: int, user_id: int, by_s: float) -> list[int]:
    """Add `by_s` seconds to the limit and deadline of the candidate's running conversations
    in this exam; the ids of those lengthened (an attempt that ends meanwhile is not)."""
    lengthened = []
    for attempt in running_attempts(session, exam_id=exam_id, user_id=user_id):
        if attempt.deadline_at is None:
            continue
        changed = session.execute(
            update(Attempt)
            .where(col(Attempt.id) == attempt.id, col(Attempt.ended_at).is_(None))
            .values(
                time_limit_s=attempt.time_limit_s + by_s,
                deadline_at=attempt.deadline_at + timedelta(seconds=by_s),
            )
        )
        if getattr(changed, "rowcount", 0) == 1 and attempt.id is not None:
            lengthened.append(attempt.id)
    return lengthened


def set_extra(
    session: Session, *, exam_id: int, user_id: int, extra_s: float, actor_id: int | None
) -> list[int] | None:
    """Give a candidate `extra_s` seconds more per conversation (0 takes it away); audited.
    More than before also lengthens their running conversations (`lengthen_running`).
    The ids of the conversations lengthened, or None when unchanged. Not committed."""
    row = session.get(ExtraTime, (exam_id, user_id))
    old = row.extra_s if row else 0.0
    if old == extra_s:
        return None
    lengthened: list[int] = []
    if extra_s > old:
        lengthened = lengthen_running(session, exam_id=exam_id, user_id=user_id, by_s=extra_s - old)
    if extra_s == 0 and row is not None:
        session.delete(row)
    elif row is None:
        session.add(ExtraTime(exam_id=exam_id, user_id=user_id, extra_s=extra_s))
    else:
        row.extra_s = extra_s
        session.add(row)
    record(
        session,
        actor_id=actor_id,
        action="exam.extra_time",
        subject_type="exam",
        subject_id=exam_id,
        old={"user": user_id, "extra_s": old},
        new={"user": user_id, "extra_s": extra_s}
        | ({"lengthened": lengthened} if lengthened else {}),
    )
    session.flush()
    return lengthened
