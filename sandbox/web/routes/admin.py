"""The admin area: users (search, create, edit, import), mentors, cohorts, packs.

Every change is audited with the signed-in admin as its actor (storage/admin.py,
storage/users.py, storage/cohorts.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox.storage import admin as users_admin
from sandbox.storage import jobs
from sandbox.storage.audit import record
from sandbox.storage.cohorts import (
    CohortError,
    add_member,
    check_name,
    cohorts_of,
    list_cohorts,
    members_of,
    remove_member,
)
from sandbox.storage.exams import trainees
from sandbox.storage.models import Role, User
from sandbox.storage.throttle import unlock
from sandbox.storage.users import UserError, change_role, create_user, get_user_by_name, parse_role
from sandbox.web.deps import AdminUser, SessionDep, StateDep, ViewerDep, gate, require_admin
from sandbox.web.i18n import N_
from sandbox.web.import_jobs import IMPORT_USERS, payload_of
from sandbox.web.jobs import JobError
from sandbox.web.jobs import start as start_job
from sandbox.web.templating import render

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=gate(require_admin))

#: The notices a redirect may ask a page to show (`?done=...`), by message key.
NOTICES = {
    "created": N_("admin.done.created"),
    "role": N_("admin.done.role"),
    "mentor": N_("admin.done.mentor"),
    "deactivated": N_("admin.done.deactivated"),
    "activated": N_("admin.done.activated"),
    "unlocked": N_("admin.done.unlocked"),
    "unchanged": N_("admin.done.unchanged"),
    "added": N_("admin.done.added"),
    "removed": N_("admin.done.removed"),
}
ROLES = [role.value for role in Role]
#: How many of the latest background imports the users page lists.
IMPORT_JOBS_SHOWN = 5
#: The message keys storage/cohorts.py raises (CohortError.key).
COHORT_KEYS = (N_("admin.cohort.error.name"),)


def _notice(viewer: Any, done: str) -> str | None:
    key = NOTICES.get(done)
    return viewer.t(key) if key else None


def user_or_404(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404)
    return user


# --- users -------------------------------------------------------------------------------


def _users_page(
    viewer: ViewerDep,
    session: Session,
    *,
    q: str = "",
    role: str = "",
    status_code: int = 200,
    **extra: Any,
) -> Response:
    chosen = Role(role) if role in ROLES else None
    rows = users_admin.search_users(session, q, chosen)
    context = viewer.context(
        rows=rows,
        q=q,
        role=role if chosen else "",
        roles=ROLES,
        mentors=users_admin.mentors(session),
        import_jobs=jobs.list_jobs(
            session=session, created_by=None, kinds=[IMPORT_USERS.name], limit=IMPORT_JOBS_SHOWN
        ),
        job_rows=users_admin.IMPORT_JOB_ROWS,
        job_passwords=users_admin.IMPORT_JOB_PASSWORDS,
        **({"form": {"name": "", "role": "trainee", "mentor": ""}, "errors": {}} | extra),
    )
    return render("admin_users.html", context, status_code=status_code)


@router.get("")
def read_admin_home(
    viewer: ViewerDep,
    session: SessionDep,
    q: str = "",
    role: str = "",
    done: str = "",
) -> Response:
    """The users: search by name and role, create one, import a file."""
    return _users_page(viewer, session, q=q[:64], role=role, notice=_notice(viewer, done))


@router.post("/users")
def create_user_form(
    viewer: ViewerDep,
    session: SessionDep,
    admin: AdminUser,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "trainee",
    mentor: Annotated[str, Form()] = "",
) -> Response:
    """Create a user with a temporary password, shown once on the next page."""
    errors: dict[str, str] = {}
    chosen = Role.TRAINEE
    try:
        chosen = parse_role(role)
    except UserError:
        errors["role"] = viewer.t("admin.error.role")
    mentor_user = get_user_by_name(session=session, name=mentor) if mentor else None
    if mentor and (mentor_user is None or mentor_user.role != Role.MENTOR):
        errors["mentor"] = viewer.t("admin.error.mentor", name=mentor)
    password = users_admin.temporary_password()
    user: User | None = None
    if not errors:
        try:
            user = create_user(
                session=session,
                name=name.strip(),
                role=chosen,
                password=password,
                mentor=mentor_user,
            )
        except UserError as error:
            errors[error.field] = (
                viewer.t("admin.error.name_taken", name=name.strip())
                if "already exists" in error.message
                else viewer.t("admin.error.name")
            )
    if user is None:
        return _users_page(
            viewer,
            session,
            status_code=400,
            form={"name": name, "role": role, "mentor": mentor},
            errors=errors,
        )
    record(
        session,
        actor_id=admin.id,
        action="user.create",
        subject_type="user",
        subject_id=user.id,
        new={"role": chosen.value, "mentor": mentor or None},
    )
    session.commit()
    return _user_page(viewer, session, user, temporary_password=password, notice_key="created")


def _user_page(
    viewer: ViewerDep,
    session: Session,
    user: User,
    *,
    temporary_password: str | None = None,
    notice_key: str = "",
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    assert user.id is not None
    mentor = session.get(User, user.mentor_id) if user.mentor_id else None
    locked = any(row.locked for row in users_admin.search_users(session, user.name))
    context = viewer.context(
        subject=user,
        mentor=mentor,
        mentors=[m for m in users_admin.mentors(session) if m.id != user.id],
        roles=ROLES,
        locked=locked,
        cohorts=cohorts_of(session, user.id),
        temporary_password=temporary_password,
        notice=_notice(viewer, notice_key),
        errors=errors or {},
    )
    response = render("admin_user.html", context, status_code=status_code)
    if temporary_password:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/users/{user_id}")
def read_user(viewer: ViewerDep, session: SessionDep, user_id: int, done: str = "") -> Response:
    """One user: role, mentor, active, failed logins, password, cohorts."""
    return _user_page(viewer, session, user_or_404(session, user_id), notice_key=done)


def _back(user: User, done: str) -> Response:
    return RedirectResponse(f"/admin/users/{user.id}?done={done}", status_code=303)


@router.post("/users/{user_id}/role")
def update_role(
    viewer: ViewerDep,
    session: SessionDep,
    admin: AdminUser,
    user_id: int,
    role: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Change the user's role; audited (user.role) with the admin as actor."""
    user = user_or_404(session, user_id)
    try:
        chosen = parse_role(role)
    except UserError:
        return _user_page(
            viewer, session, user, status_code=400, errors={"role": viewer.t("admin.error.role")}
        )
    if user.id == admin.id and chosen != Role.ADMIN:
        return _user_page(
            viewer, session, user, status_code=400, errors={"role": viewer.t("admin.error.self")}
        )
    changed = change_role(
        session=session, user=user, role=chosen, actor_id=admin.id, reason=reason.strip() or None
    )
    session.commit()
    return _back(user, "role" if changed else "unchanged")


@router.post("/users/{user_id}/mentor")
def update_mentor(
    viewer: ViewerDep,
    session: SessionDep,
    admin: AdminUser,
    user_id: int,
    mentor: Annotated[str, Form()] = "",
) -> Response:
    """Assign or change the user's mentor (empty: none); audited (user.mentor)."""
    user = user_or_404(session, user_id)
    mentor_user = get_user_by_name(session=session, name=mentor) if mentor else None
    try:
        if mentor and mentor_user is None:
            raise UserError("mentor", "no such user")
        changed = users_admin.set_mentor(session, user=user, mentor=mentor_user, actor_id=admin.id)
    except UserError:
        return _user_page(
            viewer,
            session,
            user,
            status_code=400,
            errors={"mentor": viewer.t("admin.error.mentor", name=mentor)},
        )
    session.commit()
    return _back(user, "mentor" if changed else "unchanged")


@router.post("/users/{user_id}/active")
def update_active(
    viewer: ViewerDep,
    session: SessionDep,
    admin: AdminUser,
    user_id: int,
    active: Annotated[str, Form()] = "",
) -> Response:
    """Deactivate (signing the user out everywhere) or reactivate; audited."""
    user = user_or_404(session, user_id)
    want = active == "1"
    if user.id == admin.id and not want:
        return _user_page(
            viewer, session, user, status_code=400, errors={"active": viewer.t("admin.error.self")}
        )
    changed = users_admin.set_active(session, user=user, active=want, actor_id=admin.id)
    session.commit()
    return _back(user, ("activated" if want else "deactivated") if changed else "unchanged")


@router.post("/users/{user_id}/unlock")
def unlock_user(session: SessionDep, admin: AdminUser, user_id: int) -> Response:
    """Clear the user's failed logins, so they may try again at once; audited."""
    user = user_or_404(session, user_id)
    assert user.id is not None
    cleared = unlock(session, user_id=user.id)
    record(
        session,
        actor_id=admin.id,
        action="login.unlock",
        subject_type="user",
        subject_id=user.id,
        new={"cleared": cleared},
    )
    session.commit()
    return _back(user, "unlocked")


@router.post("/users/{user_id}/password")
def reset_password(
    viewer: ViewerDep, session: SessionDep, admin: AdminUser, user_id: int
) -> Response:
    """A temporary password, shown once on this page (never stored in clear or sent again)."""
    user = user_or_404(session, user_id)
    password = users_admin.reset_password(session, user=user, actor_id=admin.id)
    session.commit()
    return _user_page(viewer, session, user, temporary_password=password)


# --- import ------------------------------------------------------------------------------


@router.post("/import")
def import_users(
    viewer: ViewerDep,
    session: SessionDep,
    admin: AdminUser,
    table: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Create or update users from CSV or XLSX, with a report of what each row did. The file
    is read and checked here; one of more than `IMPORT_JOB_ROWS` rows or that sets more than
    `IMPORT_JOB_PASSWORDS` passwords is then written by a background job (its page shows
    the progress, then the same report), a smaller one here."""
    data = table.file.read(users_admin.IMPORT_BYTES_MAX + 1) if table is not None else b""
    filename = Path(table.filename or "").name if table is not None else ""
    report = users_admin.UpsertReport()
    if not data:
        report.problem = viewer.t("admin.import.error.empty")
    else:
        try:
            rows = users_admin.read_table(data, filename)
        except users_admin.TableError as error:
            report.problem = str(error)
        else:
            checked = users_admin.check_table(rows)
            if checked.problem is not None:
                report.problem = checked.problem
            elif checked.runs_as_job:
                return _import_job(viewer, session, admin, filename, rows, checked)
            else:
                report = users_admin.upsert_users(session, rows, actor_id=admin.id)
                session.commit()
    context = viewer.context(report=report, filename=filename)
    return render(
        "admin_import.html", context, status_code=400 if report.problem is not None else 200
    )


def _import_job(
    viewer: ViewerDep,
    session: Session,
    admin: User,
    filename: str,
    rows: list[tuple[int, list[str]]],
    checked: users_admin.CheckedTable,
) -> Response:
    """Queue the checked file's rows as a background import; its page."""
    params = {
        "filename": filename[:255],
        "rows": len(checked.rows),
        "bad_rows": sum(1 for row in checked.rows if row.problems),
    }
    try:
        job = start_job(
            session=session,
            kind=IMPORT_USERS.name,
            params=params,
            payload=payload_of(rows),
            created_by=admin.id,
        )
    except JobError as error:  # not expected: the parameters come from the checked file
        report = users_admin.UpsertReport(problem=error.detail)
        context = viewer.context(report=report, filename=filename)
        return render("admin_import.html", context, status_code=400)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# --- cohorts -----------------------------------------------------------------------------


def _cohorts_page(
    viewer: ViewerDep, session: Session, *, status_code: int = 200, **extra: Any
) -> Response:
    context = viewer.context(
        cohorts=list_cohorts(session),
        trainees=trainees(session=session),
        **({"error": None, "error_field": "", "form_name": ""} | extra),
    )
    return render("admin_cohorts.html", context, status_code=status_code)


@router.get("/cohorts")
def read_cohorts(viewer: ViewerDep, session: SessionDep) -> Response:
    """The cohorts with their sizes, and a form to start one."""
    return _cohorts_page(viewer, session)


@router.post("/cohorts")
def create_cohort(
    viewer: ViewerDep,
    session: SessionDep,
    admin: AdminUser,
    name: Annotated[str, Form()] = "",
    members: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Start a cohort with its first members (a cohort exists while it has members)."""
    chosen = [user for user_id in members or [] if (user := session.get(User, user_id))]
    try:
        cohort = check_name(name)
        if members_of(session, cohort):
            raise CohortError("name", N_("admin.cohort.error.taken"))
        if not chosen:
            raise CohortError("members", N_("admin.cohort.error.members"))
    except CohortError as error:
        return _cohorts_page(
            viewer,
            session,
            status_code=400,
            error=viewer.t(error.key),
            error_field=error.field,
            form_name=name,
        )
    for user in chosen:
        add_member(session, cohort=cohort, user=user, actor_id=admin.id)
    session.commit()
    return RedirectResponse(f"/admin/cohorts/{cohort}?done=added", status_code=303)


@router.get("/cohorts/{cohort}")
def read_cohort(viewer: ViewerDep, session: SessionDep, cohort: str, done: str = "") -> Response:
    """A cohort's members, with forms to add and remove them."""
    members = members_of(session, cohort)
    if not members:
        raise HTTPException(status_code=404)
    ids = {member.id for member in members}
    context = viewer.context(
        cohort=cohort,
        members=members,
        others=[user for user in trainees(session=session) if user.id not in ids],
        notice=_notice(viewer, done),
    )
    return render("admin_cohort.html", context)


@router.post("/cohorts/{cohort}/add")
def add_to_cohort(
    session: SessionDep,
    admin: AdminUser,
    cohort: str,
    user_id: Annotated[int, Form()],
) -> Response:
    if not members_of(session, cohort):
        raise HTTPException(status_code=404)
    user = user_or_404(session, user_id)
    add_member(session, cohort=cohort, user=user, actor_id=admin.id)
    session.commit()
    return RedirectResponse(f"/admin/cohorts/{cohort}?done=added", status_code=303)


@router.post("/cohorts/{cohort}/remove")
def remove_from_cohort(
    session: SessionDep,
    admin: AdminUser,
    cohort: str,
    user_id: Annotated[int, Form()],
) -> Response:
    """Take a member out; removing the last one ends the cohort."""
    user = user_or_404(session, user_id)
    if not remove_member(session, cohort=cohort, user=user, actor_id=admin.id):
        raise HTTPException(status_code=404)
    session.commit()
    if not members_of(session, cohort):
        return RedirectResponse("/admin/cohorts", status_code=303)
    return RedirectResponse(f"/admin/cohorts/{cohort}?done=removed", status_code=303)


# --- packs -------------------------------------------------------------------------------


@router.get("/packs")
def read_packs(viewer: ViewerDep, state: StateDep) -> Response:
    """What packs loaded (id, version, scenarios) and what was skipped, and why."""
    packs = sorted(state.library.packs.values(), key=lambda pack: pack.id)
    context = viewer.context(packs=packs, skipped=state.library.errors)
    return render("admin_packs.html", context)
