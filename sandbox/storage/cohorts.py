"""Cohorts for the admin area: named groups of trainees (the `cohort_members` rows of
storage/exams.py that exams and cohort reports name). A cohort exists while it has a
member: it is created with its first members and ends with its last."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from sandbox.storage.audit import record
from sandbox.storage.exams import CohortMember
from sandbox.storage.models import User

COHORT_NAME = re.compile(r"^\S(.{0,62}\S)?$")


class CohortError(ValueError):
    """A cohort cannot be changed as asked; `field` names the input and `key` the message."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key


@dataclass(frozen=True)
class CohortRow:
    name: str
    members: int


def list_cohorts(session: Session) -> list[CohortRow]:
    """Every cohort by name, with its member count."""
    statement = (
        select(CohortMember.cohort, func.count())
        .group_by(col(CohortMember.cohort))
        .order_by(col(CohortMember.cohort))
    )
    return [CohortRow(name, int(count)) for name, count in session.exec(statement).all()]


def members_of(session: Session, cohort: str) -> list[User]:
    """The cohort's members by name (none: there is no such cohort)."""
    statement = (
        select(User)
        .join(CohortMember, col(CohortMember.user_id) == col(User.id))
        .where(CohortMember.cohort == cohort)
        .order_by(col(User.name))
    )
    return list(session.exec(statement).all())


def cohorts_of(session: Session, user_id: int) -> list[str]:
    """The names of the cohorts `user_id` belongs to."""
    statement = (
        select(CohortMember.cohort)
        .where(CohortMember.user_id == user_id)
        .order_by(col(CohortMember.cohort))
    )
    return list(session.exec(statement).all())


def check_name(name: str) -> str:
    """`name` trimmed, or CohortError when it cannot name a cohort."""
    name = name.strip()
    if not COHORT_NAME.match(name):
        raise CohortError("name", "admin.cohort.error.name")
    return name


def add_member(session: Session, *, cohort: str, user: User, actor_id: int | None) -> bool:
    """Put `user` in `cohort` (creating it with them); False when already a member."""
    assert user.id is not None
    cohort = check_name(cohort)
    if session.get(CohortMember, (cohort, user.id)) is not None:
        return False
    session.add(CohortMember(cohort=cohort, user_id=user.id))
    record(
        session,
        actor_id=actor_id,
        action="cohort.add",
        subject_type="cohort",
        subject_id=cohort,
        new={"user": user.name},
    )
    session.flush()
    return True


def remove_member(session: Session, *, cohort: str, user: User, actor_id: int | None) -> bool:
    """Take `user` out of `cohort`; False when not a member."""
    assert user.id is not None
    member = session.get(CohortMember, (cohort, user.id))
    if member is None:
        return False
    session.delete(member)
    record(
        session,
        actor_id=actor_id,
        action="cohort.remove",
        subject_type="cohort",
        subject_id=cohort,
        old={"user": user.name},
    )
    session.flush()
    return True
