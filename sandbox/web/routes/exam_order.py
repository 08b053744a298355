"""The proctor's controls of a running exam: reorder its scenarios (the proctor moves one
up or down; candidates see them in this order; exam.reorder), and give a candidate extra
time per conversation (exam.extra_time), which applies to the conversations they start
from then on and lengthens the one running now: its server deadline moves, and its chat
page hears the new clock over its socket (a clock event on the bus: every worker)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse

from sandbox.conversations.events import ExamEvent
from sandbox.storage.audit import record
from sandbox.storage.exams import Exam, exam_scenarios, is_candidate
from sandbox.storage.extra_time import EXTRA_MAX_S, set_extra
from sandbox.web.deps import ProctorUser, SessionDep, StateDep, ViewerDep, gate, require_proctor
from sandbox.web.routes.proctor import _exam_page

router = APIRouter(prefix="/proctor", tags=["exam order"], dependencies=gate(require_proctor))


@router.post("/exams/{exam_id}/order")
def move_scenario(
    session: SessionDep,
    proctor: ProctorUser,
    exam_id: int,
    scenario: Annotated[str, Form()] = "",
    direction: Annotated[str, Form()] = "",
) -> Response:
    """Swap a scenario with the one before it ("up") or after it ("down")."""
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise HTTPException(status_code=404)
    rows = exam_scenarios(session=session, exam_id=exam_id)
    keys = [row.key for row in rows]
    if scenario not in keys or direction not in ("up", "down"):
        raise HTTPException(status_code=400)
    index = keys.index(scenario)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rows):
        old = list(keys)
        rows[index], rows[other] = rows[other], rows[index]
        keys = [row.key for row in rows]
        for position, row in enumerate(rows):
            row.position = position
            session.add(row)
        record(
            session,
            actor_id=proctor.id,
            action="exam.reorder",
            subject_type="exam",
            subject_id=exam_id,
            old={"scenarios": old},
            new={"scenarios": keys},
        )
        session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}#exam-scenarios", status_code=303)


@router.post("/exams/{exam_id}/extra-time")
def give_extra_time(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    proctor: ProctorUser,
    exam_id: int,
    user_id: Annotated[int | None, Form()] = None,
    minutes: Annotated[str, Form()] = "",
) -> Response:
    """Set a candidate's extra minutes per conversation (0 takes them away)."""
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise HTTPException(status_code=404)
    if (
        user_id is None
        or not 0 < user_id < 2**63  # beyond any database integer: no one (SQLite would raise)
        or not is_candidate(session=session, exam_id=exam_id, user_id=user_id)
    ):
        raise HTTPException(status_code=400)
    try:
        extra_s = float(minutes) * 60
    except ValueError:
        extra_s = -1.0
    if not 0 <= extra_s <= EXTRA_MAX_S or extra_s != extra_s:
        return _exam_page(
            viewer,
            state,
            session,
            exam,
            state.conversations.now(),
            status_code=400,
            extra_error=viewer.t("extra.error", max=int(EXTRA_MAX_S // 60)),
        )
    service = state.conversations
    lengthened = set_extra(
        session, exam_id=exam_id, user_id=user_id, extra_s=extra_s, actor_id=proctor.id
    )
    if lengthened:
        # Heard after the commit: the monitor's row, and the candidate's open chat pages.
        service.bus.publish(session, ExamEvent(exam_id, user_id, clock=True))
    session.commit()
    service.clock_changed(lengthened or [])
    return RedirectResponse(f"/proctor/exams/{exam_id}#extra-time", status_code=303)
