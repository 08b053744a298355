"""The calibration report (the supervision group's view): how reviewers and the grader
agree, per criterion and scenario, flagged against unflagged, with Cohen's kappa; CSV."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session

from sandbox import access
from sandbox.evaluator.calibration import Report, report, report_csv
from sandbox.storage.calibration import session_figures
from sandbox.storage.models import User
from sandbox.storage.queue import calibration_decisions, waiting
from sandbox.web.deps import MentorUser, SessionDep, ViewerDep, gate, require_mentor
from sandbox.web.regrade_jobs import regrade_scope
from sandbox.web.templating import render

router = APIRouter(prefix="/mentor", tags=["mentor"], dependencies=gate(require_mentor))


def figures_for(session: Session, reviewer: User) -> Report:
    """The report over the attempts the reviewer may see, with the calibration sessions:
    every mentor's for an admin, a mentor's own otherwise."""
    scope = regrade_scope(session, reviewer)
    mentor_id = None if access.sees_every_trainee(reviewer) else reviewer.id
    return report(
        calibration_decisions(session=session, reviewer_scope=scope),
        session_figures(session=session, mentor_id=mentor_id),
    )


@router.get("/calibration")
def read_calibration(viewer: ViewerDep, session: SessionDep, reviewer: MentorUser) -> Response:
    """The figures over every reviewed attempt the viewer may see, and the calibration
    sessions."""
    scope = regrade_scope(session, reviewer)
    figures = figures_for(session, reviewer)
    context = viewer.context(
        figures=figures, queue_count=waiting(session=session, reviewer_scope=scope)
    )
    return render("calibration.html", context)


@router.get("/calibration.csv")
def export_calibration(session: SessionDep, reviewer: MentorUser) -> Response:
    """The same figures as CSV, one row per figure."""
    figures = figures_for(session, reviewer)
    return Response(
        report_csv(figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="calibration.csv"'},
    )
