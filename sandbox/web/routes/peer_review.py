"""Peer review: a mentor opens a trainee's graded practice transcript to the peers of one of
the trainee's cohorts (/mentor/attempts/{id}/peer-review); the peers find it on
/peer-reviews, read it with names masked ("Trainee A") and rate each rubric criterion
(met, partly, missed) with a comment, once; the author reads the ratings with the
reviewers masked ("Reviewer 1"); the mentor reads them with names, and may withdraw the
share (peers no longer list, open or review it; the reviews given stay). Who may do what is
`sandbox/access.py` (`can_peer_review`, `can_share_for_peer_review`); anyone else gets 403.

A transcript of a scenario closed to a peer for practice (an exam keeps it: web/practice.py)
is neither listed for nor opened by that peer, as the rubric would tell them what scores.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox import access
from sandbox.exams.peer_review import LEVELS, PeerReviewError, level_counts
from sandbox.storage.attempts import list_messages
from sandbox.storage.cohorts import cohorts_of
from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.peer_reviews import (
    PeerShare,
    add_review,
    author_letters,
    is_member,
    review_of,
    reviews_of,
    share,
    shares_by_authors,
    shares_for_peer,
    shares_of_attempt,
    withdraw,
)
from sandbox.web import reviews
from sandbox.web.deps import (
    CsrfChecked,
    CurrentUser,
    Forbidden,
    MentorUser,
    SessionDep,
    StateDep,
    Viewer,
    ViewerDep,
)
from sandbox.web.i18n import N_
from sandbox.web.practice import closed_for_practice
from sandbox.web.routes.cases import Maskers
from sandbox.web.routes.mentor import reviewable_attempt, trainees_of
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(tags=["peer review"])

#: The messages of a refused share or review (`PeerReviewError.key`), for the catalogues.
ERROR_KEYS = (
    N_("peer.error.not_shareable"),
    N_("peer.error.cohort"),
    N_("peer.error.rating"),
    N_("peer.error.comment"),
    N_("peer.error.comment_long"),
    N_("peer.error.self"),
    N_("peer.error.twice"),
    N_("peer.error.withdrawn"),
)
#: Each level's words, for an ordinary criterion and for a forbidden one (kept clear of).
LEVEL_KEYS = {
    (False, "met"): N_("peer.level.met"),
    (False, "partly"): N_("peer.level.partly"),
    (False, "missed"): N_("peer.level.missed"),
    (True, "met"): N_("peer.level.forbidden.met"),
    (True, "partly"): N_("peer.level.forbidden.partly"),
    (True, "missed"): N_("peer.level.forbidden.missed"),
}


def _titles(state: AppState) -> dict[str, str]:
    return {f"{p.id}/{s.id}": s.title for p, s in state.library.scenarios()}


def _title(state: AppState, attempt: Attempt) -> str:
    key = f"{attempt.pack_id}/{attempt.scenario_id}"
    return _titles(state).get(key, key)


def _closed_to(state: AppState, session: Session, user: User, attempt: Attempt) -> bool:
    closed = closed_for_practice(session, user, state.conversations.now())
    return (attempt.pack_id, attempt.scenario_id) in closed


# --- the mentor opens a transcript to peers ------------------------------------------------


def _share_page(
    viewer: Viewer,
    state: AppState,
    session: Session,
    attempt: Attempt,
    owner: User,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    assert attempt.id is not None and owner.id is not None
    shares = shares_of_attempt(session, attempt.id)
    context = viewer.context(
        attempt=attempt,
        owner=owner,
        title=_title(state, attempt),
        cohorts=cohorts_of(session, owner.id),
        shares=[(s, len(reviews_of(session, s.id or 0))) for s in shares],
        shareable=attempt.mode == "practice" and attempt.grade is not None,
        error=error,
        notice=notice,
    )
    return render("peer_share.html", context, status_code=status_code)


@router.get("/mentor/attempts/{attempt_id}/peer-review")
def read_share(
    attempt_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: MentorUser,
    done: str = "",
) -> Response:
    """Open a transcript to a cohort's peers, and see who reviewed it."""
    attempt, owner = reviewable_attempt(session, user, attempt_id)
    notices = {"shared": N_("peer.shared"), "withdrawn": N_("peer.withdrawn")}
    notice = viewer.t(notices[done]) if done in notices else None
    return _share_page(viewer, state, session, attempt, owner, notice=notice)


@router.post("/mentor/attempts/{attempt_id}/peer-review", dependencies=[CsrfChecked])
def create_share(
    attempt_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: MentorUser,
    cohort: Annotated[str, Form()] = "",
) -> Response:
    attempt, owner = reviewable_attempt(session, user, attempt_id)
    if not access.can_share_for_peer_review(user, owner):
        raise Forbidden()
    try:
        share(session, attempt=attempt, cohort=cohort, actor=user)
    except PeerReviewError as error:
        session.rollback()
        return _share_page(
            viewer, state, session, attempt, owner, status_code=400, error=viewer.t(error.key)
        )
    session.commit()
    return RedirectResponse(f"/mentor/attempts/{attempt_id}/peer-review?done=shared", 303)


@router.post(
    "/mentor/attempts/{attempt_id}/peer-review/{share_id}/withdraw", dependencies=[CsrfChecked]
)
def withdraw_share(
    attempt_id: int, share_id: int, session: SessionDep, user: MentorUser
) -> Response:
    """Close a share to the cohort's peers; the reviews already given stay. Withdrawing a
    withdrawn share again changes nothing."""
    attempt, owner = reviewable_attempt(session, user, attempt_id)
    if not access.can_share_for_peer_review(user, owner):
        raise Forbidden()
    found = session.get(PeerShare, share_id)
    if found is None or found.attempt_id != attempt.id:
        raise HTTPException(status_code=404)
    withdraw(session, peer_share=found, actor=user)
    session.commit()
    return RedirectResponse(f"/mentor/attempts/{attempt_id}/peer-review?done=withdrawn", 303)


# --- the peers' list and the review ---------------------------------------------------------


@router.get("/peer-reviews")
def read_peer_reviews(
    viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Transcripts to review (a trainee's cohorts), one's own shared transcripts and their
    reviews; for a mentor, their trainees' shared transcripts."""
    assert user.id is not None
    titles = _titles(state)
    to_review: list[dict[str, Any]] = []
    mine: list[Any] = []
    trainees: list[Any] = []
    if Role(user.role) == Role.TRAINEE:
        closed = closed_for_practice(session, user, state.conversations.now())
        letters: dict[str, dict[int, str]] = {}
        for row in shares_for_peer(session, user.id):
            if (row.attempt.pack_id, row.attempt.scenario_id) in closed:
                continue
            cohort = row.share.cohort
            if cohort not in letters:
                letters[cohort] = author_letters(session, cohort)
            to_review.append({"row": row, "author": letters[cohort].get(row.attempt.user_id, "?")})
        mine = shares_by_authors(session, [user.id])
    if access.can_enter_mentor_area(user):
        people = {t.id: t.name for t in trainees_of(session, user)}
        trainees = [
            (r, people.get(r.attempt.user_id, ""))
            for r in shares_by_authors(session, [i for i in people if i is not None])
        ]
    context = viewer.context(to_review=to_review, mine=mine, trainees=trainees, titles=titles)
    return render("peer_reviews.html", context)


def _share_or_404(session: Session, share_id: int) -> tuple[PeerShare, Attempt, User]:
    found = session.get(PeerShare, share_id)
    attempt = session.get(Attempt, found.attempt_id) if found else None
    owner = session.get(User, attempt.user_id) if attempt else None
    if found is None or attempt is None or owner is None:
        raise HTTPException(status_code=404)
    return found, attempt, owner


def _criteria(state: AppState, attempt: Attempt) -> list[dict[str, Any]]:
    """The rubric's criteria as the attempt was graded against them: id, kind, description
    (never the grader's verdicts: a peer judges for themselves)."""
    graded = reviews.graded_view(state.library, attempt)
    return [
        {"id": c["id"], "kind": c.get("kind", ""), "description": c["description"]}
        for c in reviews.criteria_rows(graded.record)
    ]


def _gone_for_peers(peer_share: PeerShare) -> None:
    """A withdrawn share is gone for the cohort's peers: 404 to them, on the page and on a
    review posted to it (its author and the staff still see it, docs/programme.md)."""
    if peer_share.withdrawn_at is not None:
        raise HTTPException(status_code=404)


def _review_page(
    viewer: Viewer,
    state: AppState,
    session: Session,
    share_id: int,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    refusal: str | None = None,
) -> Response:
    user = viewer.user
    assert user is not None and user.id is not None
    peer_share, attempt, owner = _share_or_404(session, share_id)
    assert attempt.id is not None
    author = user.id == owner.id
    peer = access.can_peer_review(
        user, owner.id or 0, is_member(session, peer_share.cohort, user.id)
    )
    staff = access.can_share_for_peer_review(user, owner)
    if not (peer or author or staff):
        raise Forbidden()
    if peer and _closed_to(state, session, user, attempt):
        raise Forbidden()
    if not (author or staff):
        _gone_for_peers(peer_share)
    found = state.library.find(attempt.pack_id, attempt.scenario_id)
    messages = list_messages(session=session, attempt_id=attempt.id)
    letter = author_letters(session, peer_share.cohort).get(owner.id or 0, "A")
    label = viewer.t("peer.trainee", letter=letter)
    if peer:
        trainee_lines = [m.text for m in messages if m.role == "trainee"]
        clean = Maskers(session, viewer.t)(owner.id or 0, trainee_lines)
    else:
        clean = str
    criteria = _criteria(state, attempt)
    received = reviews_of(session, peer_share.id or 0) if (author or staff) else []
    names: dict[int, str] = {}
    if staff and received:
        for review in received:
            reviewer = session.get(User, review.reviewer_id)
            names[review.reviewer_id] = reviewer.name if reviewer else ""
    context = viewer.context(
        share=peer_share,
        attempt=attempt,
        title=_title(state, attempt),
        scenario=found[1] if found else None,
        persona_name=found[1].persona.name if found else "",
        content_lang=found[0].locale if found else "",
        rows=reviews.timed_rows(messages, None),
        seconds=reviews.format_seconds,
        clean=clean,
        trainee_label=label if peer else owner.name,
        can_comment=False,
        criteria=criteria,
        levels=LEVELS,
        level_text=lambda kind, level: viewer.t(LEVEL_KEYS[(kind == "forbidden", level)]),
        peer=peer,
        author=author,
        staff=staff,
        mine=review_of(session, peer_share.id or 0, user.id) if peer else None,
        received=received,
        counts={c["id"]: level_counts([r.ratings for r in received], c["id"]) for c in criteria},
        reviewer_names=names,
        errors=errors or {},
        form=form or {},
        refusal=refusal,
    )
    return render("peer_review.html", context, status_code=status_code)


@router.get("/peer-reviews/{share_id}")
def read_peer_review(
    share_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """A peer: the masked transcript and the rating form (or their review). The author and
    their mentor: the reviews received."""
    return _review_page(viewer, state, session, share_id)


@router.post("/peer-reviews/{share_id}", dependencies=[CsrfChecked])
async def create_peer_review(
    share_id: int,
    request: Request,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    """Store a peer's ratings and comment: 403 for anyone but a peer of the cohort (the
    author included), 409 for a second review, 400 with the fields marked for bad input."""
    assert user.id is not None
    peer_share, attempt, owner = _share_or_404(session, share_id)
    if user.id == owner.id:
        return _review_page(
            viewer, state, session, share_id, status_code=403, refusal="peer.error.self"
        )
    if not access.can_peer_review(
        user, owner.id or 0, is_member(session, peer_share.cohort, user.id)
    ) or _closed_to(state, session, user, attempt):
        raise Forbidden()
    _gone_for_peers(peer_share)
    raw = await request.form()
    form = {key: value for key, value in raw.items() if isinstance(value, str)}
    criteria = _criteria(state, attempt)
    try:
        add_review(
            session,
            peer_share=peer_share,
            attempt=attempt,
            reviewer=user,
            criteria=[c["id"] for c in criteria],
            ratings={c["id"]: form.get(f"rating-{c['id']}", "") for c in criteria},
            comment=form.get("comment", ""),
        )
    except PeerReviewError as error:
        session.rollback()
        if error.key == "peer.error.twice":
            return _review_page(
                viewer, state, session, share_id, status_code=409, refusal=error.key
            )
        return _review_page(
            viewer,
            state,
            session,
            share_id,
            status_code=400,
            errors={error.field: viewer.t(error.key)},
            form=form,
        )
    session.commit()
    return RedirectResponse(f"/peer-reviews/{share_id}", status_code=303)
