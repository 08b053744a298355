"""The trainee's exams: the list, an exam's scenarios, starting one, results, appeals.

No rubric reaches a trainee here: an exam shows each scenario's brief (the situation,
never the answer key), and results show only score, band and passed, and only once the
proctor has released them (at once or from a scheduled moment, compared with the clock when
a page is read; a withdrawn release shows nothing again). Released results do not change
afterwards except through an appeal, which the trainee can then see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox.conversations.events import ExamEvent
from sandbox.storage.audit import record
from sandbox.storage.exams import (
    AppealExists,
    Exam,
    StartRefused,
    add_appeal,
    appeals_for_attempts,
    exam_scenarios,
    exams_for,
    is_candidate,
)
from sandbox.storage.models import Attempt, Mode, User
from sandbox.storage.questions import written_part
from sandbox.storage.queue import held_for_review
from sandbox.storage.standings import ScenarioProgress, Standing, standing_of
from sandbox.web.deps import (
    CsrfChecked,
    CurrentUser,
    Forbidden,
    SessionDep,
    StateDep,
    Viewer,
    ViewerDep,
)
from sandbox.web.i18n import N_
from sandbox.web.proctoring import ServiceDep, exam_or_404, page_helpers, scenario_title
from sandbox.web.routes.questions import current_paper, retake_open
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/exams", tags=["exams"])

REASON_MAX_CHARS = 2000


def candidate_exam(session: Session, exam_id: int, user: User) -> Exam:
    """The exam, if `user` sits it."""
    exam = exam_or_404(session, exam_id)
    assert user.id is not None
    if not is_candidate(session=session, exam_id=exam_id, user_id=user.id):
        raise Forbidden()
    return exam


def start_refusal(
    standing: Standing, exam: Exam, progress: ScenarioProgress, now: datetime
) -> str | None:
    """Why the candidate may not start this scenario now (a message key), or None."""
    if progress.open_attempt is not None:
        return None  # resuming is always allowed; the server ends it at its deadline
    current = standing.open_attempt
    if current is not None:
        return N_("exam.refused.other_open")
    if standing.retake is not None:
        if progress not in standing.retake_progress:
            return N_("exam.refused.not_in_retake")
        if now > standing.retake.expires_at:
            return N_("exam.refused.retake_expired")
    elif exam.window(now) == "upcoming":
        return N_("exam.refused.not_open")
    elif exam.window(now) == "closed":
        return N_("exam.refused.closed")
    if progress.attempts_left <= 0:
        return N_("exam.refused.no_attempts")
    return None


def _rows(state: AppState, standing: Standing, exam: Exam, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for progress in standing.sitting:
        found = state.library.find(progress.scenario.pack_id, progress.scenario.scenario_id)
        rows.append(
            {
                "progress": progress,
                "title": scenario_title(state, progress.scenario),
                "pack": found[0] if found else None,
                "scenario": found[1] if found else None,
                "refusal": start_refusal(standing, exam, progress, now)
                if found
                else N_("exam.refused.unavailable"),
            }
        )
    return rows


@router.get("")
def list_my_exams(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
) -> Response:
    """The exams the trainee sits, with their windows and attempts left."""
    assert user.id is not None
    now = service.now()
    items = []
    for exam in exams_for(session=session, user_id=user.id):
        standing = standing_of(session=session, exam=exam, user=user, now=now)
        items.append(
            {
                "exam": exam,
                "window": exam.window(now),
                "scenarios": len(standing.first),
                "attempts_left": sum(p.attempts_left for p in standing.sitting),
                "standing": standing,
                "released": exam.results_visible(now),
            }
        )
    return render("trainee_exams.html", viewer.context(items=items, now=now, **page_helpers()))


@router.get("/{exam_id}")
def read_my_exam(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
    refused: str = "",
) -> Response:
    """An exam's scenarios with their briefs, and what the trainee may do now."""
    exam = candidate_exam(session, exam_id, user)
    now = service.now()
    standing = standing_of(session=session, exam=exam, user=user, now=now)
    context = viewer.context(
        exam=exam,
        rules=exam.exam_rules,
        window=exam.window(now),
        standing=standing,
        released=exam.results_visible(now),
        rows=_rows(state, standing, exam, now),
        refused=refused if refused.startswith(("exam.refused.", "written.refused.")) else "",
        written_part=written_part(session, exam_id),
        written_sitting=current_paper(session, exam_id, user.id or 0),
        written_retake=retake_open(session, exam_id, user.id or 0, now),
        **page_helpers(),
    )
    return render("trainee_exam.html", context)


@router.post("/{exam_id}/attempts", dependencies=[CsrfChecked])
def start_exam_attempt(
    exam_id: int,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
    scenario: Annotated[str, Form()] = "",
) -> Response:
    """Start an exam conversation on the server's clock (or resume the one running)."""
    exam = candidate_exam(session, exam_id, user)
    now = service.now()
    standing = standing_of(session=session, exam=exam, user=user, now=now)
    progress = next((p for p in standing.sitting if p.scenario.key == scenario), None)
    if progress is None:
        raise HTTPException(status_code=404)
    # One exam conversation at a time, and its clock is running: a request to start
    # another (a stale tab, a double click, a racing request) is sent to the one open.
    running = progress.open_attempt or standing.open_attempt
    if running is not None:
        return RedirectResponse(f"/attempts/{running.id}", status_code=303)
    found = state.library.find(progress.scenario.pack_id, progress.scenario.scenario_id)
    refusal = (
        start_refusal(standing, exam, progress, now) if found else (N_("exam.refused.unavailable"))
    )
    if refusal is not None or found is None:
        return RedirectResponse(f"/exams/{exam_id}?refused={refusal}", status_code=303)
    pack, found_scenario = found
    try:
        attempt = service.start_exam(
            session,
            exam=exam,
            user=user,
            pack_id=pack.id,
            pack_version=pack.version,
            scenario=found_scenario,
            retake=standing.retake is not None,
        )
    except StartRefused as refused:
        # Another request (a double click, a second tab) started first: go where it went.
        if refused.open_attempt is not None:
            return RedirectResponse(f"/attempts/{refused.open_attempt.id}", status_code=303)
        query = "?refused=exam.refused.no_attempts" if refused.reason == "no_attempts" else ""
        return RedirectResponse(f"/exams/{exam_id}{query}", status_code=303)
    session.commit()
    service.schedule()
    return RedirectResponse(f"/attempts/{attempt.id}", status_code=303)


def _results_context(
    state: AppState, session: Session, exam: Exam, standing: Standing, now: datetime
) -> dict[str, Any]:
    graded = [a for a in standing.attempts if a.score is not None and a.id is not None]
    appeals = appeals_for_attempts(session=session, attempt_ids=[a.id for a in graded if a.id])
    titles = {
        row.key: scenario_title(state, row)
        for row in exam_scenarios(session=session, exam_id=exam.id or 0)
    }
    provisional = exam.exam_rules.provisional
    held = {a.id for a in graded if held_for_review(a, provisional)}
    return {
        "exam": exam,
        "rules": exam.exam_rules,
        "standing": standing,
        # A scheduled release shows from its moment on, read against the clock now; a
        # withdrawn one shows nothing again.
        "released": exam.results_visible(now),
        "graded": [
            {
                "attempt": a,
                "title": titles.get(f"{a.pack_id}/{a.scenario_id}", a.scenario_id),
                "appeal": appeals.get(a.id or 0),
                "under_review": a.id in held,
            }
            for a in graded
        ],
        # A held conversation holds the whole result: the candidate sees "under review".
        "under_review": bool(held),
    }


@router.get("/{exam_id}/results")
def read_my_results(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
) -> Response:
    """Scores, bands and passed of the trainee's exam, once released; appeals."""
    exam = candidate_exam(session, exam_id, user)
    now = service.now()
    standing = standing_of(session=session, exam=exam, user=user, now=now)
    context = viewer.context(
        **_results_context(state, session, exam, standing, now),
        appeal_error=None,
        appeal_attempt=None,
        reason="",
        **page_helpers(),
    )
    return render("exam_results.html", context)


def _appeal_refused(
    viewer: Viewer,
    state: AppState,
    session: Session,
    exam: Exam,
    user: User,
    attempt_id: int | None,
    reason: str,
    problem: str,
    now: datetime,
) -> Response:
    """The results page again, with the appeal's problem and the reason as typed."""
    standing = standing_of(session=session, exam=exam, user=user, now=now)
    context = viewer.context(
        **_results_context(state, session, exam, standing, now),
        appeal_error=viewer.t(problem, limit=REASON_MAX_CHARS),
        appeal_attempt=attempt_id,
        reason=reason,
        **page_helpers(),
    )
    return render("exam_results.html", context, status_code=400)


@router.post("/{exam_id}/appeals", dependencies=[CsrfChecked])
def open_appeal(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
    attempt_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Ask for a review of a graded exam attempt, with a reason."""
    exam = candidate_exam(session, exam_id, user)
    attempt = session.get(Attempt, int(attempt_id)) if attempt_id.isdigit() else None
    if (
        attempt is None
        or attempt.user_id != user.id
        or attempt.exam_id != exam_id
        or attempt.mode != Mode.EXAM
    ):
        raise HTTPException(status_code=404)
    reason = reason.strip()
    problem = None
    now = service.now()
    if not exam.results_visible(now) or attempt.score is None:
        problem = N_("appeal.error.not_released")
    elif appeals_for_attempts(session=session, attempt_ids=[attempt.id or 0]):
        problem = N_("appeal.error.already")
    elif not reason:
        problem = N_("appeal.error.reason_required")
    elif len(reason) > REASON_MAX_CHARS:
        problem = "appeal.error.too_long"
    if problem is not None:
        return _appeal_refused(viewer, state, session, exam, user, attempt.id, reason, problem, now)
    assert user.id is not None and attempt.id is not None
    try:
        appeal = add_appeal(
            session=session,
            exam_id=exam_id,
            attempt_id=attempt.id,
            user_id=user.id,
            reason=reason,
            opened_at=service.now(),
        )
    except AppealExists:
        # Sent twice at once: the other request stored it.
        return _appeal_refused(
            viewer,
            state,
            session,
            exam,
            user,
            attempt.id,
            reason,
            N_("appeal.error.already"),
            service.now(),
        )
    record(
        session,
        actor_id=user.id,
        action="appeal.open",
        subject_type="appeal",
        subject_id=appeal.id,
        new={"attempt": attempt.id, "exam": exam_id, "score": attempt.score},
        reason=reason,
    )
    service.bus.publish(session, ExamEvent(exam_id, user.id))
    session.commit()
    return RedirectResponse(f"/exams/{exam_id}/results#attempt-{attempt.id}", status_code=303)
