"""Reordering an exam's scenarios: the proctor moves one up or down; candidates see the
scenarios in this order. Audited (exam.reorder)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse

from sandbox.storage.audit import record
from sandbox.storage.exams import Exam, exam_scenarios
from sandbox.web.deps import ProctorUser, SessionDep, gate, require_proctor

router = APIRouter(prefix="/proctor", tags=["exam order"], dependencies=gate(require_proctor))


@router.post("/exams/{exam_id}/order")
def move_scenario(
    session: SessionDep,
    proctor: ProctorUser,
    exam_id: int,
    scenario: Annotated[str, Form()],
    direction: Annotated[str, Form()],
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
