"""The calibration report (the supervision group's view): how reviewers and the grader
agree, per criterion and scenario, flagged against unflagged, with Cohen's kappa; CSV."""

from __future__ import annotations

from fastapi import APIRouter, Response

from sandbox.evaluator.calibration import report, report_csv
from sandbox.storage.queue import calibration_decisions, waiting
from sandbox.web.deps import MentorUser, SessionDep, ViewerDep, gate, require_mentor
from sandbox.web.regrade_jobs import regrade_scope
from sandbox.web.templating import render

router = APIRouter(prefix="/mentor", tags=["mentor"], dependencies=gate(require_mentor))


@router.get("/calibration")
def read_calibration(viewer: ViewerDep, session: SessionDep, reviewer: MentorUser) -> Response:
    """The figures over every reviewed attempt the viewer may see."""
    scope = regrade_scope(session, reviewer)
    figures = report(calibration_decisions(session=session, reviewer_scope=scope))
    context = viewer.context(
        figures=figures, queue_count=waiting(session=session, reviewer_scope=scope)
    )
    return render("calibration.html", context)


@router.get("/calibration.csv")
def export_calibration(session: SessionDep, reviewer: MentorUser) -> Response:
    """The same figures as CSV, one row per figure."""
    scope = regrade_scope(session, reviewer)
    figures = report(calibration_decisions(session=session, reviewer_scope=scope))
    return Response(
        report_csv(figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="calibration.csv"'},
    )
