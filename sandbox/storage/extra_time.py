"""Extra time per exam candidate (an accommodation): seconds added to each of their
conversations' limit in that exam, set by a proctor before they start. Audited
(exam.extra_time)."""

from __future__ import annotations

from sqlmodel import Field, Session, SQLModel, select

from sandbox.storage.audit import record

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


def set_extra(
    session: Session, *, exam_id: int, user_id: int, extra_s: float, actor_id: int | None
) -> bool:
    """Give a candidate `extra_s` seconds more per conversation (0 takes it away); audited.
    False when unchanged. Not committed."""
    row = session.get(ExtraTime, (exam_id, user_id))
    old = row.extra_s if row else 0.0
    if old == extra_s:
        return False
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
        new={"user": user_id, "extra_s": extra_s},
    )
    session.flush()
    return True
