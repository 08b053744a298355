"""Peer review: a mentor opens a trainee's graded practice transcript to the peers of one
of the trainee's cohorts; each peer rates it once against the rubric and comments. What a
rating means and how a review is checked is the core's (`sandbox.exams.peer_review`); the
process score's inputs are read here too (`process_inputs`, judged by
`sandbox.exams.process`).

The database keeps the rules that races could break: a transcript is shared once per cohort
(`uq_peer_shares_attempt_cohort`) and a peer reviews a share once
(`uq_peer_reviews_share_reviewer`). A mentor may withdraw a share: peers no longer list,
open or review it, and the reviews already given stay (the author and the mentor still read
them); sharing to the same cohort again reopens it. Audited: `peer.share`, `peer.review`,
`peer.withdraw`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, String, col, select

from sandbox.exams.peer_review import (
    PeerReviewError,
    check_review,
    masked_label,
    rating_percent,
)
from sandbox.exams.process import ProcessInputs, ProcessScore, process_score
from sandbox.storage.audit import record
from sandbox.storage.cohorts import members_of
from sandbox.storage.exams import CohortMember
from sandbox.storage.models import Attempt, Mode, Role, User, utcnow
from sandbox.storage.questions import QUIZ, QuestionResponse, QuestionSitting


class PeerShare(SQLModel, table=True):
    """A practice transcript opened to the peers of one cohort (names masked)."""

    __tablename__ = "peer_shares"
    __table_args__ = (
        UniqueConstraint("attempt_id", "cohort", name="uq_peer_shares_attempt_cohort"),
    )

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempts.id", index=True)
    cohort: str = Field(sa_type=String(64), index=True)
    shared_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    withdrawn_at: datetime | None = None  # closed to peers by a mentor (reviews kept)


class PeerReview(SQLModel, table=True):
    """One peer's ratings of a shared transcript, criterion by criterion, and a comment."""

    __tablename__ = "peer_reviews"
    __table_args__ = (
        UniqueConstraint("share_id", "reviewer_id", name="uq_peer_reviews_share_reviewer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    share_id: int = Field(foreign_key="peer_shares.id", index=True)
    reviewer_id: int = Field(foreign_key="users.id", index=True)
    ratings: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    comment: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def percent(self) -> float | None:
        return rating_percent(self.ratings)


def is_member(session: Session, cohort: str, user_id: int) -> bool:
    return session.get(CohortMember, (cohort, user_id)) is not None


def shareable(attempt: Attempt) -> bool:
    """Only graded practice conversations are opened to peers (never an exam's)."""
    return attempt.mode == Mode.PRACTICE and attempt.ended and attempt.grade is not None


def share(
    session: Session, *, attempt: Attempt, cohort: str, actor: User
) -> tuple[PeerShare, bool]:
    """Open `attempt` to the peers of `cohort` (one of its trainee's cohorts); the share and
    whether it is new (a second share to the same cohort is the first one). Not committed.
    `PeerReviewError` when the attempt may not be shared or the trainee is not a member."""
    assert attempt.id is not None
    if not shareable(attempt):
        raise PeerReviewError("attempt", "peer.error.not_shareable")
    if not is_member(session, cohort, attempt.user_id):
        raise PeerReviewError("cohort", "peer.error.cohort")
    existing = share_of(session, attempt.id, cohort)
    if existing is not None:
        if existing.withdrawn_at is None:
            return existing, False
        existing.withdrawn_at = None  # shared again after it was withdrawn: open it again
        _audited(session, actor, "peer.share", existing, reopened=True)
        return existing, True
    made = PeerShare(attempt_id=attempt.id, cohort=cohort, shared_by=actor.id)
    try:
        with session.begin_nested():
            session.add(made)
    except IntegrityError:  # shared by someone else at the same moment
        found = share_of(session, attempt.id, cohort)
        assert found is not None
        return found, False
    _audited(session, actor, "peer.share", made)
    return made, True


def withdraw(session: Session, *, peer_share: PeerShare, actor: User) -> bool:
    """Close the share to peers (its reviews stay); False when it was withdrawn already.
    Not committed."""
    if peer_share.withdrawn_at is not None:
        return False
    peer_share.withdrawn_at = utcnow()
    _audited(session, actor, "peer.withdraw", peer_share)
    return True


def _audited(
    session: Session, actor: User, action: str, peer_share: PeerShare, **more: Any
) -> None:
    """Store the share's change and its audit record (`peer.share`, `peer.withdraw`)."""
    session.add(peer_share)
    record(
        session,
        actor_id=actor.id,
        action=action,
        subject_type="attempt",
        subject_id=peer_share.attempt_id,
        new={"share": peer_share.id, "cohort": peer_share.cohort, **more},
    )
    session.flush()


def share_of(session: Session, attempt_id: int, cohort: str) -> PeerShare | None:
    return session.exec(
        select(PeerShare).where(PeerShare.attempt_id == attempt_id, PeerShare.cohort == cohort)
    ).first()


def shares_of_attempt(session: Session, attempt_id: int) -> list[PeerShare]:
    statement = (
        select(PeerShare).where(PeerShare.attempt_id == attempt_id).order_by(col(PeerShare.id))
    )
    return list(session.exec(statement).all())


def is_peer(session: Session, peer_share: PeerShare, attempt: Attempt, user: User) -> bool:
    """`user` may open and review the share: a trainee of its cohort, not its author."""
    return (
        user.id is not None
        and Role(user.role) == Role.TRAINEE
        and user.id != attempt.user_id
        and is_member(session, peer_share.cohort, user.id)
    )


@dataclass(frozen=True)
class ShareRow:
    share: PeerShare
    attempt: Attempt
    reviews: int  # how many peers reviewed it
    mine: PeerReview | None  # the viewer's own review of it


def _review_counts(session: Session, share_ids: Sequence[int]) -> dict[int, int]:
    if not share_ids:
        return {}
    statement = (
        select(PeerReview.share_id, func.count())
        .where(col(PeerReview.share_id).in_(list(share_ids)))
        .group_by(col(PeerReview.share_id))
    )
    return {share_id: int(count) for share_id, count in session.exec(statement).all()}


def _rows(
    session: Session, pairs: Sequence[tuple[PeerShare, Attempt]], viewer_id: int | None
) -> list[ShareRow]:
    ids = [s.id for s, _ in pairs if s.id is not None]
    counts = _review_counts(session, ids)
    mine: dict[int, PeerReview] = {}
    if viewer_id is not None and ids:
        for review in session.exec(
            select(PeerReview).where(
                col(PeerReview.share_id).in_(ids), PeerReview.reviewer_id == viewer_id
            )
        ).all():
            mine[review.share_id] = review
    return [ShareRow(s, a, counts.get(s.id or 0, 0), mine.get(s.id or 0)) for s, a in pairs]


def shares_for_peer(session: Session, user_id: int) -> list[ShareRow]:
    """The open shares of the user's cohorts that are not their own, newest first."""
    cohorts = select(CohortMember.cohort).where(CohortMember.user_id == user_id)
    statement = (
        select(PeerShare, Attempt)
        .join(Attempt, col(Attempt.id) == col(PeerShare.attempt_id))
        .where(
            col(PeerShare.cohort).in_(cohorts),
            Attempt.user_id != user_id,
            col(PeerShare.withdrawn_at).is_(None),
        )
        .order_by(col(PeerShare.id).desc())
    )
    return _rows(session, list(session.exec(statement).all()), user_id)


def shares_by_authors(session: Session, user_ids: Iterable[int]) -> list[ShareRow]:
    """The shares of these trainees' transcripts, newest first."""
    ids = list(user_ids)
    if not ids:
        return []
    statement = (
        select(PeerShare, Attempt)
        .join(Attempt, col(Attempt.id) == col(PeerShare.attempt_id))
        .where(col(Attempt.user_id).in_(ids))
        .order_by(col(PeerShare.id).desc())
    )
    return _rows(session, list(session.exec(statement).all()), None)


def author_letters(session: Session, cohort: str) -> dict[int, str]:
    """User id -> the letter that stands for each author of the cohort's shares ("A" for
    the first author to be shared, and so on): the same in every list of that cohort."""
    statement = (
        select(Attempt.user_id, func.min(PeerShare.id))
        .join(Attempt, col(Attempt.id) == col(PeerShare.attempt_id))
        .where(PeerShare.cohort == cohort)
        .group_by(col(Attempt.user_id))
        .order_by(func.min(PeerShare.id))
    )
    return {
        user_id: masked_label(index)
        for index, (user_id, _) in enumerate(session.exec(statement).all())
    }


def reviews_of(session: Session, share_id: int) -> list[PeerReview]:
    """A share's reviews, oldest first."""
    statement = (
        select(PeerReview).where(PeerReview.share_id == share_id).order_by(col(PeerReview.id))
    )
    return list(session.exec(statement).all())


def review_of(session: Session, share_id: int, reviewer_id: int) -> PeerReview | None:
    return session.exec(
        select(PeerReview).where(
            PeerReview.share_id == share_id, PeerReview.reviewer_id == reviewer_id
        )
    ).first()


def add_review(
    session: Session,
    *,
    peer_share: PeerShare,
    attempt: Attempt,
    reviewer: User,
    criteria: Sequence[str],
    ratings: Mapping[str, str],
    comment: str,
) -> PeerReview:
    """Store a peer's review (not committed). `PeerReviewError`: the reviewer is the author
    (`self`), has reviewed it already (`twice`, kept by the database against two requests
    at once), the share was withdrawn (`withdrawn`), or a rating or the comment is wrong
    (`check_review`)."""
    assert peer_share.id is not None and reviewer.id is not None
    if reviewer.id == attempt.user_id:
        raise PeerReviewError("review", "peer.error.self")
    if peer_share.withdrawn_at is not None:
        raise PeerReviewError("review", "peer.error.withdrawn")
    if review_of(session, peer_share.id, reviewer.id) is not None:
        raise PeerReviewError("review", "peer.error.twice")
    checked = check_review(criteria, ratings, comment)
    review = PeerReview(
        share_id=peer_share.id,
        reviewer_id=reviewer.id,
        ratings=checked.ratings,
        comment=checked.comment,
    )
    try:
        with session.begin_nested():
            session.add(review)
    except IntegrityError:
        raise PeerReviewError("review", "peer.error.twice") from None
    record(
        session,
        actor_id=reviewer.id,
        action="peer.review",
        subject_type="attempt",
        subject_id=attempt.id,
        new={"share": peer_share.id, "review": review.id, "ratings": checked.ratings},
    )
    session.flush()
    return review


# --- the process score's inputs ------------------------------------------------------------


def process_inputs(session: Session, user_ids: Iterable[int]) -> dict[int, ProcessInputs]:
    """What `sandbox.exams.process.process_score` reads, for each user: a few grouped
    queries for all of them, however many."""
    ids = list(user_ids)
    if not ids:
        return {}
    best: dict[int, list[float]] = {i: [] for i in ids}
    statement: Any = (
        select(Attempt.user_id, func.max(Attempt.score))
        .where(
            col(Attempt.user_id).in_(ids),
            Attempt.mode == Mode.PRACTICE,
            col(Attempt.score).is_not(None),
        )
        .group_by(col(Attempt.user_id), col(Attempt.pack_id), col(Attempt.scenario_id))
    )
    for user_id, score in session.exec(statement).all():
        best[user_id].append(float(score))
    quizzes: dict[int, tuple[int, int]] = {}
    statement = (
        select(QuestionSitting.user_id, QuestionResponse.correct, func.count())
        .join(QuestionSitting, col(QuestionSitting.id) == col(QuestionResponse.sitting_id))
        .where(
            col(QuestionSitting.user_id).in_(ids),
            QuestionSitting.kind == QUIZ,
            col(QuestionResponse.correct).is_not(None),
        )
        .group_by(col(QuestionSitting.user_id), col(QuestionResponse.correct))
    )
    for user_id, correct, count in session.exec(statement).all():
        right, marked = quizzes.get(user_id, (0, 0))
        quizzes[user_id] = (right + (int(count) if correct else 0), marked + int(count))
    given: dict[int, int] = {}
    statement = (
        select(PeerReview.reviewer_id, func.count())
        .where(col(PeerReview.reviewer_id).in_(ids))
        .group_by(col(PeerReview.reviewer_id))
    )
    for user_id, count in session.exec(statement).all():
        given[user_id] = int(count)
    # Transcripts each could review: shares of their cohorts by someone else.
    reviewable: dict[int, set[int]] = {}
    statement = (
        select(CohortMember.user_id, PeerShare.id, Attempt.user_id)
        .join(PeerShare, col(PeerShare.cohort) == col(CohortMember.cohort))
        .join(Attempt, col(Attempt.id) == col(PeerShare.attempt_id))
        .where(col(CohortMember.user_id).in_(ids))
    )
    for member, share_id, author in session.exec(statement).all():
        if member != author:
            reviewable.setdefault(member, set()).add(share_id)
    received: dict[int, list[float]] = {}
    statement = (
        select(Attempt.user_id, PeerReview.ratings)
        .join(PeerShare, col(PeerShare.id) == col(PeerReview.share_id))
        .join(Attempt, col(Attempt.id) == col(PeerShare.attempt_id))
        .where(col(Attempt.user_id).in_(ids))
    )
    for user_id, ratings in session.exec(statement).all():
        percent = rating_percent(ratings or {})
        if percent is not None:
            received.setdefault(user_id, []).append(percent)
    return {
        i: ProcessInputs(
            best_scores=tuple(best[i]),
            quiz_right=quizzes.get(i, (0, 0))[0],
            quiz_marked=quizzes.get(i, (0, 0))[1],
            reviews_given=given.get(i, 0),
            reviewable=len(reviewable.get(i, set())),
            ratings_received=tuple(received.get(i, [])),
        )
        for i in ids
    }


def process_of(session: Session, user_id: int) -> ProcessScore:
    """One trainee's process score (docs/programme.md)."""
    return process_score(process_inputs(session, [user_id])[user_id])


def cohort_process(session: Session, cohort: str) -> list[tuple[User, ProcessScore]]:
    """Each member of the cohort with their process score, by name."""
    members = [m for m in members_of(session, cohort) if m.id is not None]
    inputs = process_inputs(session, [m.id for m in members if m.id is not None])
    return [(m, process_score(inputs[m.id])) for m in members if m.id is not None]
