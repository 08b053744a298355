"""Background jobs' pages (/jobs): the list of a staff member's jobs (an admin's: everyone's),
a job's page with its progress (polled by htmx while it runs), its result, the download of
its file, and cancelling it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from sandbox import access
from sandbox.storage import jobs
from sandbox.storage.jobs import BackgroundJob
from sandbox.storage.models import User
from sandbox.web.deps import SessionDep, StaffUser, ViewerDep, gate, require_staff
from sandbox.web.jobs import KINDS
from sandbox.web.templating import render

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=gate(require_staff))

#: Seconds between two polls of a running job's progress by its page.
POLL_S = 1


def _job_or_404(session: Session, user: User, job_id: int) -> BackgroundJob:
    job = jobs.get_job(session=session, job_id=job_id)
    if job is None or not access.can_see_job(user, job.created_by):
        raise HTTPException(status_code=404)  # another's job is not even said to exist
    return job


def _names(session: Session, found: list[BackgroundJob]) -> dict[int, str]:
    ids = {job.created_by for job in found if job.created_by is not None}
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.name).where(col(User.id).in_(ids))).all()
    return {user_id: name for user_id, name in rows if user_id is not None}


def _title(kind: str) -> str:
    found = KINDS.get(kind)
    return found.title if found is not None else "jobs.kind.unknown"


def _job_context(viewer: ViewerDep, session: Session, job: BackgroundJob) -> dict[str, object]:
    return viewer.context(
        job=job,
        title_key=_title(job.kind),
        starter=_names(session, [job]).get(job.created_by or 0, ""),
        poll_s=POLL_S,
    )


@router.get("")
def read_jobs(viewer: ViewerDep, session: SessionDep, user: StaffUser) -> Response:
    """The newest 100 jobs the user started (an admin: everyone's), with their state."""
    everyone = access.sees_every_trainee(user)
    found = jobs.list_jobs(session=session, created_by=None if everyone else user.id)
    context = viewer.context(
        jobs=found,
        names=_names(session, found),
        titles={job.kind: _title(job.kind) for job in found},
        everyone=everyone,
    )
    return render("jobs.html", context)


@router.get("/{job_id}")
def read_job(job_id: int, viewer: ViewerDep, session: SessionDep, user: StaffUser) -> Response:
    """A job: its progress while it runs (the page polls it), then its result."""
    job = _job_or_404(session, user, job_id)
    return render("job.html", _job_context(viewer, session, job))


@router.get("/{job_id}/progress")
def read_job_progress(
    job_id: int, viewer: ViewerDep, session: SessionDep, user: StaffUser
) -> Response:
    """The progress block, for htmx's poll; once the job has ended, the page reloads to
    show the result."""
    job = _job_or_404(session, user, job_id)
    headers = {"HX-Refresh": "true"} if job.finished else None
    return render("job.html", _job_context(viewer, session, job), block="progress", headers=headers)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: int, session: SessionDep, user: StaffUser) -> Response:
    """Cancel: a queued job at once, a running one when its current batch ends."""
    job = _job_or_404(session, user, job_id)
    jobs.cancel(session=session, job=job)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/{job_id}/download")
def download_job_result(job_id: int, session: SessionDep, user: StaffUser) -> Response:
    """The file the job wrote (a CSV export, an import's report; a cancelled or stopped job
    keeps the file of what it did, when its kind writes one)."""
    job = _job_or_404(session, user, job_id)
    if not job.finished or job.result_text is None:
        raise HTTPException(status_code=404)
    name = job.result_name or f"job-{job_id}.csv"
    return Response(
        job.result_text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
