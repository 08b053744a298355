"""Calibration sessions: an admin or proctor builds a set of settled conversations
(/proctor/calibration-sets); a mentor grades them blind and then sees their agreement with
the settled grades, per session and per criterion where they differed
(/mentor/calibration/sessions)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox.evaluator.calibration import session_result
from sandbox.evaluator.overrides import ReviewError
from sandbox.storage import calibration as store
from sandbox.storage.models import Attempt, User
from sandbox.storage.reviews import override_history
from sandbox.web import reviews
from sandbox.web.deps import (
    MentorUser,
    ProctorUser,
    SessionDep,
    StateDep,
    ViewerDep,
    gate,
    require_mentor,
    require_proctor,
)
from sandbox.web.state import AppState
from sandbox.web.templating import render

builder_router = APIRouter(
    prefix="/proctor/calibration-sets", tags=["proctor"], dependencies=gate(require_proctor)
)
session_router = APIRouter(
    prefix="/mentor/calibration/sessions", tags=["mentor"], dependencies=gate(require_mentor)
)


def _titles(state: AppState) -> dict[str, str]:
    return {f"{p.id}/{s.id}": s.title for p, s in state.library.scenarios()}


# --- building a set -------------------------------------------------------------------------


def builder_page(
    viewer: ViewerDep, state: AppState, session: Session, status_code: int = 200, **extra: Any
) -> Response:
    context = viewer.context(
        candidates=store.candidates(session=session),
        sets=store.sets(session=session),
        titles=_titles(state),
        form=extra.pop("form", {"name": "", "attempts": []}),
        problem=extra.pop("problem", None),
        done=extra.pop("done", None),
        **extra,
    )
    return render("calibration_sets.html", context, status_code=status_code)


@builder_router.get("")
def read_sets(
    viewer: ViewerDep, state: StateDep, session: SessionDep, user: ProctorUser, made: int = 0
) -> Response:
    """The sets built so far and the settled conversations a new one may take."""
    return builder_page(viewer, state, session, done=made or None)


@builder_router.post("")
def create_set(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    name: Annotated[str, Form()] = "",
    attempt: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Build a set of the ticked settled conversations."""
    ticked = attempt or []
    form = {"name": name, "attempts": ticked}
    try:
        ids = [int(value) for value in ticked]
    except ValueError:
        problem = {"field": "attempts", "message": viewer.t("calsession.error.none_chosen")}
        return builder_page(viewer, state, session, 400, form=form, problem=problem)
    try:
        made = store.build_set(session=session, name=name, attempt_ids=ids, actor=user)
    except ReviewError as error:
        session.rollback()
        problem = {"field": error.field, "message": viewer.t(error.key, **error.fields)}
        return builder_page(viewer, state, session, 400, form=form, problem=problem)
    session.commit()
    return RedirectResponse(f"/proctor/calibration-sets?made={made.id}", status_code=303)


# --- taking a session -----------------------------------------------------------------------


@session_router.get("")
def list_sessions(
    viewer: ViewerDep, session: SessionDep, mentor: MentorUser, problem: str = ""
) -> Response:
    """The sets a session may be taken on, and this mentor's sessions with their figures."""
    assert mentor.id is not None
    mine = []
    names = {row.id: row.name for row, _ in store.sets(session=session)}
    for row in store.mentor_sessions(session=session, mentor_id=mentor.id):
        result = session_result(store.answers(session=session, row=row))
        mine.append({"row": row, "set": names.get(row.set_id, ""), "result": result})
    context = viewer.context(
        sets=[(row, n) for row, n in store.sets(session=session) if n],
        mine=mine,
        problem=viewer.t("calsession.error.no_set") if problem else None,
    )
    return render("calibration_sessions.html", context)


@session_router.post("")
def start_session(
    session: SessionDep, mentor: MentorUser, set_id: Annotated[str, Form()] = ""
) -> Response:
    """Start a session on a set; its first conversation comes next."""
    try:
        row = store.start(
            session=session, set_id=int(set_id) if set_id.isdigit() else -1, mentor=mentor
        )
    except ReviewError:
        session.rollback()
        return RedirectResponse("/mentor/calibration/sessions?problem=1", status_code=303)
    session.commit()
    return RedirectResponse(f"/mentor/calibration/sessions/{row.id}", status_code=303)


def _own(session: Session, session_id: int, mentor: User) -> store.CalibrationSession:
    row = session.get(store.CalibrationSession, session_id)
    if row is None or row.mentor_id != mentor.id:
        raise HTTPException(status_code=404)
    return row


def item_page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    row: store.CalibrationSession,
    item: store.CalibrationItem,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    """One conversation to grade blind: the transcript and the rubric, no verdict, no
    other reviewer's decision, no name."""
    attempt = session.get(Attempt, item.attempt_id)
    assert attempt is not None
    total = len(store.items_of(session=session, set_id=row.set_id))
    context = viewer.context(
        row=row,
        item=item,
        total=total,
        criteria=[c for c in store.criteria_of(attempt) if c["id"] in item.settled],
        **reviews.unmarked_transcript(state.library, session, attempt),
        given=extra.pop("given", {}),
        problem=extra.pop("problem", None),
        **extra,
    )
    return render("calibration_item.html", context, status_code=status_code)


def result_page(
    viewer: ViewerDep, state: AppState, session: Session, row: store.CalibrationSession
) -> Response:
    """The finished session: agreement and kappa, and each criterion where the mentor's
    status differs from the settled one, with the settled evidence."""
    answers = store.answers(session=session, row=row)
    result = session_result(answers)
    items = {i.position: i for i in store.items_of(session=session, set_id=row.set_id)}
    differ = []
    for answer in result.differ:
        item = items[answer.item]
        attempt = session.get(Attempt, item.attempt_id)
        entries: list[dict[str, Any]] = ((attempt.grade if attempt else None) or {}).get(
            "criteria", []
        )
        entry: dict[str, Any] = next(
            (c for c in entries if str(c["id"]) == answer.criterion), {"id": answer.criterion}
        )
        reasons = [
            change.reason
            for change, _ in override_history(session=session, attempt_id=item.attempt_id)
            if change.criterion_id == answer.criterion and change.status == answer.settled
        ]
        differ.append(
            {
                "answer": answer,
                "description": reviews.description_of(entry),
                "evidence": [
                    {"message": int(e["message"]) + 1, "text": str(e.get("text", ""))}
                    for e in entry.get("evidence", [])
                ]
                if entry.get("status") == answer.settled
                else [],
                "reason": reasons[-1] if reasons else "",
            }
        )
    set_row = session.get(store.CalibrationSet, row.set_id)
    context = viewer.context(
        row=row,
        set_name=set_row.name if set_row else "",
        result=result,
        differ=differ,
        conversations=len(items),
    )
    return render("calibration_result.html", context)


@session_router.get("/{session_id}")
def read_session(
    session_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, mentor: MentorUser
) -> Response:
    """The next conversation to grade blind, or, once all are answered, the results."""
    row = _own(session, session_id, mentor)
    item = store.next_item(session=session, row=row)
    if item is None:
        return result_page(viewer, state, session, row)
    return item_page(viewer, state, session, row, item)


@session_router.post("/{session_id}/items/{item_id}")
def answer_item(
    session_id: int,
    item_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    mentor: MentorUser,
    criterion: Annotated[list[str] | None, Form()] = None,
    status: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Store the statuses for one conversation; the next one (or the results) follows."""
    row = _own(session, session_id, mentor)
    item = session.get(store.CalibrationItem, item_id)
    if item is None or item.set_id != row.set_id:
        raise HTTPException(status_code=404)
    given = dict(zip(criterion or [], status or [], strict=False))
    try:
        store.answer(session=session, row=row, item=item, mentor=mentor, given=given)
    except ReviewError as error:
        session.rollback()
        problem = {"field": error.field, "message": viewer.t(error.key, **error.fields)}
        if error.field == "state":
            return RedirectResponse(f"/mentor/calibration/sessions/{session_id}", status_code=303)
        return item_page(viewer, state, session, row, item, 400, given=given, problem=problem)
    session.commit()
    return RedirectResponse(f"/mentor/calibration/sessions/{session_id}", status_code=303)
