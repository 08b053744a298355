"""Appeals against exam grades, resolved by a proctor, an admin or the trainee's mentor.

To resolve is to keep the grade, or to override criteria: each override goes through the
mentor review's `override_criterion` (the same rows, the same recomputation with
`apply_overrides` + `score_verdicts`, kept across a regrade), with the appeal's note as
its reason. Opening and resolving are audited (`appeal.open`, `appeal.resolve`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from sandbox import access
from sandbox.conversations.events import ExamEvent
from sandbox.evaluator import records
from sandbox.evaluator.overrides import ReviewError
from sandbox.storage.attempts import list_messages
from sandbox.storage.audit import record
from sandbox.storage.exams import Appeal, AppealStatus, Exam, list_appeals
from sandbox.storage.models import Attempt, User
from sandbox.storage.reviews import override_criterion
from sandbox.web.deps import (
    AppealJudge,
    Forbidden,
    SessionDep,
    StateDep,
    ViewerDep,
    gate,
    require_appeal_judge,
)
from sandbox.web.proctoring import ServiceDep, page_helpers
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/appeals", tags=["appeals"], dependencies=gate(require_appeal_judge))

NOTE_MAX_CHARS = 2000
STATUS_PREFIX = "status-"  # the field of each criterion's new status: `status-ID`


class AppealDecision(BaseModel):
    """The resolution form: keep or change, the note, and a `status-ID` field per criterion
    (kept as extra fields: the criteria are the attempt's)."""

    model_config = ConfigDict(extra="allow")

    decision: str = ""
    note: str = ""

    def status_of(self, criterion: str) -> str:
        value = (self.model_extra or {}).get(STATUS_PREFIX + criterion, "")
        return value if isinstance(value, str) else ""


@router.get("")
def list_appeals_page(viewer: ViewerDep, session: SessionDep, user: AppealJudge) -> Response:
    """Open appeals first, then resolved ones, of the trainees this user may judge."""
    rows: list[dict[str, Any]] = []
    for appeal in list_appeals(session=session):
        trainee = session.get(User, appeal.user_id)
        if not access.can_resolve_appeal(user, trainee):
            continue
        rows.append(
            {
                "appeal": appeal,
                "trainee": trainee,
                "exam": session.get(Exam, appeal.exam_id),
                "open": appeal.status == AppealStatus.OPEN,
            }
        )
    rows.sort(key=lambda row: not row["open"])
    return render("appeals.html", viewer.context(rows=rows, **page_helpers()))


def _appeal_parts(session: Session, appeal_id: int, user: User) -> tuple[Appeal, Attempt, User]:
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise HTTPException(status_code=404)
    attempt = session.get(Attempt, appeal.attempt_id)
    trainee = session.get(User, appeal.user_id)
    if attempt is None or trainee is None:
        raise HTTPException(status_code=404)
    if not access.can_resolve_appeal(user, trainee):
        raise Forbidden()
    return appeal, attempt, trainee


def _page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    appeal: Appeal,
    attempt: Attempt,
    trainee: User,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    found = state.library.find(attempt.pack_id, attempt.scenario_id)
    scenario = found[1] if found and found[0].version == attempt.pack_version else None
    grade = records.complete(attempt.grade or {"criteria": []}, scenario)
    criteria = [
        {**c, "choices": records.allowed_statuses(c["kind"])} for c in grade.get("criteria", [])
    ]
    context = viewer.context(
        appeal=appeal,
        attempt=attempt,
        trainee=trainee,
        exam=session.get(Exam, appeal.exam_id),
        title=found[1].title if found else f"{attempt.pack_id}/{attempt.scenario_id}",
        criteria=criteria,
        messages=list_messages(session=session, attempt_id=attempt.id or 0),
        persona_name=found[1].persona.name if found else "",
        content_lang=found[0].locale if found else "",
        errors=errors or {},
        values=values or {"decision": "", "note": ""},
        **page_helpers(),
    )
    return render("appeal.html", context, status_code=status_code)


@router.get("/{appeal_id}")
def read_appeal(
    appeal_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, user: AppealJudge
) -> Response:
    """The appeal, the attempt's transcript and criteria, and the form to resolve it."""
    appeal, attempt, trainee = _appeal_parts(session, appeal_id, user)
    return _page(viewer, state, session, appeal, attempt, trainee)


@router.post("/{appeal_id}")
def resolve_appeal(
    appeal_id: int,
    form: Annotated[AppealDecision, Form()],
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: AppealJudge,
    service: ServiceDep,
) -> Response:
    """Keep the grade, or override criteria and recompute; a note is required either way."""
    appeal, attempt, trainee = _appeal_parts(session, appeal_id, user)
    decision = form.decision
    note = form.note.strip()
    current = {c["id"]: c["status"] for c in (attempt.grade or {}).get("criteria", [])}
    wanted = {criterion: form.status_of(criterion) for criterion in current}
    changes = {c: s for c, s in wanted.items() if s and s != current[c]}
    errors: dict[str, str] = {}
    if appeal.status != AppealStatus.OPEN:
        errors["decision"] = viewer.t("appeal.error.resolved")
    elif decision not in ("keep", "change"):
        errors["decision"] = viewer.t("appeal.error.decision")
    elif decision == "change" and not changes:
        errors["decision"] = viewer.t("appeal.error.no_change")
    if not note:
        errors["note"] = viewer.t("appeal.error.note_required")
    elif len(note) > NOTE_MAX_CHARS:
        errors["note"] = viewer.t("appeal.error.too_long", limit=NOTE_MAX_CHARS)
    values = {
        "decision": decision,
        "note": note,
        **{STATUS_PREFIX + k: v for k, v in wanted.items()},
    }
    if errors:
        return _page(
            viewer,
            state,
            session,
            appeal,
            attempt,
            trainee,
            errors=errors,
            values=values,
            status_code=400,
        )
    found = state.library.find(attempt.pack_id, attempt.scenario_id)
    scenario = found[1] if found and found[0].version == attempt.pack_version else None
    old_score = attempt.score
    if decision == "change":
        try:
            for criterion, status in changes.items():
                override_criterion(
                    session=session,
                    attempt=attempt,
                    author=user,
                    criterion_id=criterion,
                    status=status,
                    reason=f"appeal {appeal.id}: {note}",
                    scenario=scenario,
                )
        except (ReviewError, records.OverrideError):
            session.rollback()
            errors["decision"] = viewer.t("appeal.error.bad_status")
            return _page(
                viewer,
                state,
                session,
                appeal,
                attempt,
                trainee,
                errors=errors,
                values=values,
                status_code=400,
            )
    appeal.status = AppealStatus.CHANGED if decision == "change" else AppealStatus.KEPT
    appeal.note = note
    appeal.overrides = changes if decision == "change" else None
    appeal.old_score = old_score
    appeal.new_score = attempt.score
    appeal.resolved_by = user.id
    appeal.resolved_at = service.now()
    session.add(appeal)
    record(
        session,
        actor_id=user.id,
        action="appeal.resolve",
        subject_type="appeal",
        subject_id=appeal.id,
        old={"status": AppealStatus.OPEN.value, "score": old_score},
        new={"status": appeal.status.value, "score": attempt.score, "overrides": appeal.overrides},
        reason=note,
    )
    service.bus.publish(session, ExamEvent(appeal.exam_id, appeal.user_id))
    session.commit()
    return RedirectResponse(f"/appeals/{appeal_id}", status_code=303)
