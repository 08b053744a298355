"""Retraining after a failed retake: the policies' "remedial training for those below the
line". The proctor turns a candidate whose retake failed (standing state "retraining") into
a plan: the exam's scenarios they scored below the practical line (all of them when the
written part failed), assigned to them as retraining. The trainee sees the plan on top of
the catalogue, their mentor in the assignments; once every part is done, the exam page
says so and offers a new exam."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse

from sandbox.storage.assignments import ActivityKind, Purpose, assign
from sandbox.storage.audit import record
from sandbox.storage.exams import Exam
from sandbox.storage.models import User
from sandbox.storage.standings import standing_of
from sandbox.web.deps import ProctorUser, SessionDep, StateDep, gate, require_proctor

router = APIRouter(prefix="/proctor", tags=["retraining"], dependencies=gate(require_proctor))


@router.post("/exams/{exam_id}/retraining")
def plan_retraining(
    state: StateDep,
    session: SessionDep,
    proctor: ProctorUser,
    exam_id: int,
    user_id: Annotated[int | None, Form()] = None,
) -> Response:
    """Give a candidate whose retake failed a retraining plan; audited (retraining.plan)."""
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise HTTPException(status_code=404)
    trainee = session.get(User, user_id) if user_id is not None else None
    if trainee is None:
        raise HTTPException(status_code=400)
    now = state.conversations.now()
    standing = standing_of(session=session, exam=exam, user=trainee, now=now)
    if standing.state != "retraining":
        raise HTTPException(status_code=400)
    line = exam.exam_rules.practical_pass
    scores = standing.scores
    keys = [p.scenario.key for p in standing.first]
    below = [key for key in keys if scores.get(key) is None or scores[key] < line]
    plan = below or keys
    made = []
    for key in plan:
        made += assign(
            session,
            trainees=[trainee],
            kind=ActivityKind.SCENARIO,
            ref=key,
            due_on=None,
            actor=proctor,
            purpose=Purpose.RETRAINING,
            exam_id=exam.id,
        )
    record(
        session,
        actor_id=proctor.id,
        action="retraining.plan",
        subject_type="user",
        subject_id=trainee.id,
        new={"exam": exam.id, "scenarios": plan, "made": len(made)},
    )
    session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}#candidate-{user_id}", status_code=303)
