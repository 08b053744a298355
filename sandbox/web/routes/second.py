"""Second marking: the proctor chooses exam conversations and settles disagreements
(/proctor/exams/{id}/second-marking), or assigns a third reviewer who settles them
(/mentor/second/third/{id}); a second reviewer marks them blind (/mentor/second)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox.evaluator.overrides import ReviewError
from sandbox.evaluator.records import allowed_statuses
from sandbox.exams.second_marking import RULES, SelectionError, disagreements
from sandbox.storage.models import Attempt, SecondMark, User
from sandbox.storage.second import (
    assign_third,
    mark,
    marks_of_exam,
    may_mark,
    may_settle_as_third,
    select_for_second,
    settle,
    third_candidates,
    third_waiting,
)
from sandbox.storage.second import waiting_for as open_for
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
from sandbox.web.proctoring import exam_or_404
from sandbox.web.state import AppState
from sandbox.web.templating import render

proctor_router = APIRouter(prefix="/proctor", tags=["proctor"], dependencies=gate(require_proctor))
marker_router = APIRouter(
    prefix="/mentor/second", tags=["mentor"], dependencies=gate(require_mentor)
)


# --- the proctor: choose, follow, settle ------------------------------------------------


def proctor_page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    exam_id: int,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    exam = exam_or_404(session, exam_id)
    rows = []
    for row, name in marks_of_exam(session=session, exam_id=exam_id):
        attempt = session.get(Attempt, row.attempt_id)
        criteria = {c["id"]: c for c in reviews.criteria_rows(attempt.grade if attempt else None)}
        differ = disagreements(row.first, row.second or {})
        third = session.get(User, row.third_id) if row.third_id is not None else None
        settler = session.get(User, row.settled_by) if row.settled_by is not None else None
        rows.append(
            {
                "row": row,
                "name": name,
                "differ": [
                    {
                        "id": cid,
                        "description": criteria.get(cid, {}).get("description", cid),
                        "first": row.first[cid],
                        "second": (row.second or {})[cid],
                        "settled": (row.settled or {}).get(cid),
                    }
                    for cid in differ
                ],
                "thirds": third_candidates(session=session, row=row)
                if row.state == "marked"
                else [],
                "third": third.name if third is not None else None,
                "settled_by": settler.name if settler is not None else None,
                "by_third": row.third_id is not None and row.settled_by == row.third_id,
            }
        )
    context = viewer.context(
        exam=exam,
        rules=RULES,
        rows=rows,
        pass_line=exam.exam_rules.practical_pass,
        form=extra.pop("form", {"rule": "failed", "points": "5", "share": "20"}),
        problem=extra.pop("problem", None),
        **extra,
    )
    return render("second_marking.html", context, status_code=status_code)


@proctor_router.get("/exams/{exam_id}/second-marking")
def read_second_marking(
    exam_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, user: ProctorUser
) -> Response:
    """Choose conversations for a second review; follow them; settle disagreements."""
    return proctor_page(viewer, state, session, exam_id)


def _number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


@proctor_router.post("/exams/{exam_id}/second-marking")
def choose_second_marking(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    rule: Annotated[str, Form()] = "",
    points: Annotated[str, Form()] = "5",
    share: Annotated[str, Form()] = "20",
) -> Response:
    """Open a second mark for every conversation the rule picks (the first marks freeze)."""
    exam = exam_or_404(session, exam_id)
    form = {"rule": rule, "points": points, "share": share}
    near, part = _number(points), _number(share)
    try:
        if near is None:
            raise SelectionError("points", "second.error.points")
        if part is None:
            raise SelectionError("share", "second.error.share")
        select_for_second(
            session=session,
            exam_id=exam_id,
            rule=rule.strip(),
            pass_line=exam.exam_rules.practical_pass,
            actor=user,
            points=near,
            share=part,
        )
    except SelectionError as error:
        session.rollback()
        problem = {"field": error.field, "message": viewer.t(error.key, **error.fields)}
        return proctor_page(viewer, state, session, exam_id, 400, form=form, problem=problem)
    session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}/second-marking", status_code=303)


@proctor_router.post("/second-marks/{mark_id}/settle")
def settle_second_mark(
    mark_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    criterion: Annotated[list[str] | None, Form()] = None,
    status: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Settle the disagreements of one conversation; its grade takes the settled statuses."""
    row = session.get(SecondMark, mark_id)
    if row is None:
        raise HTTPException(status_code=404)
    attempt = session.get(Attempt, row.attempt_id)
    assert attempt is not None
    chosen = dict(zip(criterion or [], status or [], strict=False))
    try:
        settle(
            session=session,
            row=row,
            proctor=user,
            chosen=chosen,
            reason=reason,
            scenario=reviews.graded_view(state.library, attempt).scenario,
        )
    except ReviewError as error:
        session.rollback()
        problem = {
            "field": error.field,
            "mark": mark_id,
            "message": viewer.t(error.key, **error.fields),
        }
        return proctor_page(viewer, state, session, row.exam_id, 400, problem=problem)
    session.commit()
    return RedirectResponse(
        f"/proctor/exams/{row.exam_id}/second-marking#mark-{mark_id}", status_code=303
    )


@proctor_router.post("/second-marks/{mark_id}/third")
def assign_third_reviewer(
    mark_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    third: Annotated[str, Form()] = "",
) -> Response:
    """Give a disagreement to a third reviewer, who settles it instead of the proctor."""
    row = session.get(SecondMark, mark_id)
    if row is None:
        raise HTTPException(status_code=404)
    try:
        assign_third(
            session=session,
            row=row,
            proctor=user,
            third_id=int(third) if third.strip().isdigit() else -1,
        )
    except ReviewError as error:
        session.rollback()
        problem = {
            "field": error.field,
            "mark": mark_id,
            "message": viewer.t(error.key, **error.fields),
        }
        return proctor_page(viewer, state, session, row.exam_id, 400, problem=problem)
    session.commit()
    return RedirectResponse(
        f"/proctor/exams/{row.exam_id}/second-marking#mark-{mark_id}", status_code=303
    )


# --- the second reviewer: blind -----------------------------------------------------------


@marker_router.get("")
def list_second_marks(
    viewer: ViewerDep, session: SessionDep, reviewer: MentorUser, state: StateDep
) -> Response:
    """The conversations waiting for this reviewer's independent second mark."""
    titles = {(p.id, s.id): s.title for p, s in state.library.scenarios()}

    def titled(rows: list[SecondMark]) -> list[tuple[SecondMark, str]]:
        items = []
        for row in rows:
            attempt = session.get(Attempt, row.attempt_id)
            if attempt is not None:
                items.append((row, titles.get((attempt.pack_id, attempt.scenario_id), "")))
        return items

    context = viewer.context(
        items=titled(open_for(session=session, marker=reviewer)),
        thirds=titled(third_waiting(session=session, user=reviewer)),
    )
    return render("second_list.html", context)


def blind_page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    reviewer: User,
    row: SecondMark,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    if not may_mark(session=session, row=row, marker=reviewer) or row.state != "open":
        raise HTTPException(status_code=404)
    attempt = session.get(Attempt, row.attempt_id)
    assert attempt is not None
    criteria = [
        {
            "id": c["id"],
            "kind": c["kind"],
            "description": reviews.description_of(c),
            "critical": c.get("critical", False),
            "allowed": allowed_statuses(c["kind"]),
        }
        for c in (attempt.grade or {}).get("criteria", [])
    ]
    context = viewer.context(
        row=row,
        attempt=attempt,
        criteria=criteria,
        # The transcript without any verdict: the first mark stays hidden.
        **reviews.unmarked_transcript(state.library, session, attempt),
        given=extra.pop("given", {}),
        problem=extra.pop("problem", None),
        **extra,
    )
    return render("second_mark.html", context, status_code=status_code)


@marker_router.get("/{mark_id}")
def read_second_mark(
    mark_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, reviewer: MentorUser
) -> Response:
    """The conversation to mark, with the rubric and no one's verdicts."""
    row = session.get(SecondMark, mark_id)
    if row is None:
        raise HTTPException(status_code=404)
    return blind_page(viewer, state, session, reviewer, row)


@marker_router.post("/{mark_id}")
def create_second_mark(
    mark_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    criterion: Annotated[list[str] | None, Form()] = None,
    status: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Store the second mark: a status for every criterion."""
    row = session.get(SecondMark, mark_id)
    if row is None:
        raise HTTPException(status_code=404)
    given = dict(zip(criterion or [], status or [], strict=False))
    try:
        mark(session=session, row=row, marker=reviewer, given=given)
    except ReviewError as error:
        session.rollback()
        problem = {"field": error.field, "message": viewer.t(error.key, **error.fields)}
        return blind_page(viewer, state, session, reviewer, row, 400, given=given, problem=problem)
    session.commit()
    return RedirectResponse("/mentor/second?done=1", status_code=303)


# --- the third reviewer: both marks, unnamed ------------------------------------------------


def third_page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    reviewer: User,
    row: SecondMark,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    if not may_settle_as_third(row=row, user=reviewer):
        raise HTTPException(status_code=404)
    attempt = session.get(Attempt, row.attempt_id)
    assert attempt is not None and row.second is not None
    described = {c["id"]: c for c in reviews.criteria_rows(attempt.grade)}
    differ = disagreements(row.first, row.second)
    context = viewer.context(
        row=row,
        attempt=attempt,
        differ=[
            {
                "id": cid,
                "description": described.get(cid, {}).get("description", cid),
                "first": row.first[cid],
                "second": row.second[cid],
            }
            for cid in differ
        ],
        agreed=[
            {
                "id": cid,
                "description": described.get(cid, {}).get("description", cid),
                "status": status,
            }
            for cid, status in row.first.items()
            if cid not in differ
        ],
        # The transcript without the grader's verdicts: the two marks are what is judged.
        **reviews.unmarked_transcript(state.library, session, attempt),
        chosen=extra.pop("chosen", {}),
        reason=extra.pop("reason", ""),
        problem=extra.pop("problem", None),
        **extra,
    )
    return render("second_third.html", context, status_code=status_code)


@marker_router.get("/third/{mark_id}")
def read_third_review(
    mark_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, reviewer: MentorUser
) -> Response:
    """A disagreement to settle: both marks, unnamed, beside the transcript."""
    row = session.get(SecondMark, mark_id)
    if row is None:
        raise HTTPException(status_code=404)
    return third_page(viewer, state, session, reviewer, row)


@marker_router.post("/third/{mark_id}")
def settle_as_third(
    mark_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    criterion: Annotated[list[str] | None, Form()] = None,
    status: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Settle the disagreements as the assigned third reviewer; the grade takes them."""
    row = session.get(SecondMark, mark_id)
    if row is None or not may_settle_as_third(row=row, user=reviewer):
        raise HTTPException(status_code=404)
    attempt = session.get(Attempt, row.attempt_id)
    assert attempt is not None
    chosen = dict(zip(criterion or [], status or [], strict=False))
    try:
        settle(
            session=session,
            row=row,
            proctor=reviewer,
            chosen=chosen,
            reason=reason,
            scenario=reviews.graded_view(state.library, attempt).scenario,
            as_third=True,
        )
    except ReviewError as error:
        session.rollback()
        problem = {"field": error.field, "message": viewer.t(error.key, **error.fields)}
        return third_page(
            viewer,
            state,
            session,
            reviewer,
            row,
            400,
            chosen=chosen,
            reason=reason,
            problem=problem,
        )
    session.commit()
    return RedirectResponse("/mentor/second?settled=1", status_code=303)
