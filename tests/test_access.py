"""The access policy (sandbox/access.py), without a server: who may see and do what.

The routes, sockets and pages only ask these functions; tests/test_security_access.py walks
every route and socket against its table, this file pins the rules themselves."""

from __future__ import annotations

import pytest

from sandbox import access
from sandbox.storage.models import Role, User


def person(user_id: int, role: Role, mentor_id: int | None = None) -> User:
    return User(
        id=user_id, name=f"user-{user_id}", role=role, mentor_id=mentor_id, password_hash="-"
    )


MENTOR = person(1, Role.MENTOR)
OTHER_MENTOR = person(2, Role.MENTOR)
PROCTOR = person(3, Role.PROCTOR)
ADMIN = person(4, Role.ADMIN)
TRAINEE = person(10, Role.TRAINEE, mentor_id=MENTOR.id)
OTHER_TRAINEE = person(11, Role.TRAINEE, mentor_id=OTHER_MENTOR.id)
UNMENTORED = person(12, Role.TRAINEE)
EVERYONE = {
    "mentor": MENTOR,
    "other_mentor": OTHER_MENTOR,
    "proctor": PROCTOR,
    "admin": ADMIN,
    "trainee": TRAINEE,
    "other_trainee": OTHER_TRAINEE,
}


def who(check: object, *args: User) -> set[str]:
    assert callable(check)
    return {name for name, user in EVERYONE.items() if check(user, *args)}


def test_review_is_for_admins_and_the_owners_own_mentor() -> None:
    """The one rule both former `may_review` functions agreed on: the mentor review page,
    the case page's review link and the feedback page all ask it."""
    assert who(access.can_review, TRAINEE) == {"mentor", "admin"}
    assert who(access.can_review, OTHER_TRAINEE) == {"other_mentor", "admin"}
    assert who(access.can_review, UNMENTORED) == {"admin"}


def test_nobody_reviews_their_own_attempt_but_everyone_reads_its_feedback() -> None:
    mentor_practising = person(5, Role.MENTOR, mentor_id=None)
    assert not access.can_review(mentor_practising, mentor_practising)
    assert access.can_read_feedback(mentor_practising, mentor_practising)
    assert not access.can_review(TRAINEE, TRAINEE)


def test_feedback_is_for_the_owner_and_whoever_may_review() -> None:
    assert who(access.can_read_feedback, TRAINEE) == {"trainee", "mentor", "admin"}
    assert who(access.can_read_feedback, OTHER_TRAINEE) == {
        "other_trainee",
        "other_mentor",
        "admin",
    }
    for owner in (TRAINEE, OTHER_TRAINEE, UNMENTORED):
        for viewer in EVERYONE.values():
            if access.can_review(viewer, owner):
                assert access.can_read_feedback(viewer, owner)


def test_a_mentor_id_alone_is_not_enough() -> None:
    """A proctor (or a former mentor given another role) named as someone's mentor does
    not review them: the role counts too."""
    proctor_as_mentor = person(6, Role.PROCTOR)
    trainee = person(13, Role.TRAINEE, mentor_id=proctor_as_mentor.id)
    assert not access.can_review(proctor_as_mentor, trainee)
    assert not access.can_read_feedback(proctor_as_mentor, trainee)
    unsaved = User(name="new", role=Role.MENTOR, password_hash="-")
    assert not access.can_review(unsaved, UNMENTORED)


def test_areas_by_role() -> None:
    assert who(access.can_enter_mentor_area) == {"mentor", "other_mentor", "admin"}
    assert who(access.can_run_exams) == {"proctor", "admin"}
    assert who(access.can_monitor) == {"proctor", "admin"}
    assert who(access.can_judge_appeals) == {"mentor", "other_mentor", "proctor", "admin"}
    assert who(access.can_see_rubric) == set(EVERYONE) - {"trainee", "other_trainee"}
    assert who(access.can_see_pack_errors) == {"admin"}
    assert {Role(user.role) for user in EVERYONE.values() if access.can_monitor(user)} == set(
        access.EXAM_STAFF
    )


def test_an_appeal_is_resolved_by_exam_staff_or_the_trainees_mentor() -> None:
    assert who(access.can_resolve_appeal, TRAINEE) == {"mentor", "proctor", "admin"}
    assert who(access.can_resolve_appeal, UNMENTORED) == {"proctor", "admin"}
    assert who(access.can_resolve_appeal, None) == {"proctor", "admin"}
    for name, user in EVERYONE.items():
        if access.can_resolve_appeal(user, TRAINEE):
            assert access.can_judge_appeals(user), name


@pytest.mark.parametrize("name", sorted(EVERYONE))
def test_only_the_owner_holds_the_conversation(name: str) -> None:
    user = EVERYONE[name]
    assert access.can_converse(user, TRAINEE.id or 0) == (name == "trainee")
