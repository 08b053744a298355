"""`/work`: where staff land after signing in, their work first.

A mentor sees their trainees' open and overdue assignments and recent attempts; a proctor
the exams by state (upcoming, running, awaiting release) and the open appeals, with counts;
an admin the users and pack health, and the exams. A trainee's work is the catalogue, whose
top lists what is assigned to them, so `/work` sends them there.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from sqlmodel import col, select

from sandbox import access
from sandbox.storage.assignments import progress_for
from sandbox.storage.exams import AppealStatus, list_appeals, list_exams
from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.throttle import LoginThrottle
from sandbox.web.deps import CurrentUser, SessionDep, StateDep, ViewerDep
from sandbox.web.routes.assignments import activity_titles
from sandbox.web.routes.mentor import trainees_of
from sandbox.web.templating import render

router = APIRouter(tags=["work"])

RECENT_ATTEMPTS = 10


@router.get("/work")
def read_work(
    viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """The signed-in staff member's work queue."""
    if Role(user.role) == Role.TRAINEE:
        return RedirectResponse("/", status_code=303)
    now = state.conversations.now()
    context: dict[str, object] = {"now": now}
    if access.can_enter_mentor_area(user):
        trainees = trainees_of(session, user)
        ids = [t.id for t in trainees if t.id is not None]
        progress = progress_for(session, user_ids=ids, today=now.date())
        names = {t.id: t.name for t in trainees}
        recent = session.exec(
            select(Attempt)
            .where(col(Attempt.user_id).in_(ids), col(Attempt.graded_at).is_not(None))
            .order_by(col(Attempt.graded_at).desc())
            .limit(RECENT_ATTEMPTS)
        ).all()
        titles = {(p.id, s.id): s.title for p, s in state.library.scenarios()}
        context["mentor"] = {
            "trainees": len(trainees),
            "overdue": [p for p in progress if p.state == "overdue"],
            # A scenario's or a quiz's title, as the assignments page names them.
            "titles": activity_titles(state, viewer.t),
            "open": sum(1 for p in progress if p.state == "open"),
            "recent": [
                (a, names.get(a.user_id, ""), titles.get((a.pack_id, a.scenario_id), a.scenario_id))
                for a in recent
            ],
        }
    if access.can_run_exams(user):
        exams = list_exams(session=session)
        upcoming = [e for e in exams if e.window(now) == "upcoming"]
        running = [e for e in exams if e.window(now) == "open"]
        awaiting = [e for e in exams if e.window(now) == "closed" and e.results_released_at is None]
        appeals = list_appeals(session=session, status=AppealStatus.OPEN)
        context["proctor"] = {
            "upcoming": upcoming,
            "running": running,
            "awaiting": awaiting,
            "appeals": len(appeals),
        }
    if access.can_administer(user):
        users = session.exec(select(User)).all()
        locked = set(
            session.exec(
                select(LoginThrottle.user_id).where(col(LoginThrottle.user_id).is_not(None))
            ).all()
        )
        context["admin"] = {
            "by_role": {role.value: sum(1 for u in users if u.role == role) for role in Role},
            "inactive": sum(1 for u in users if not u.active),
            "locked": len(locked),
            "packs": len(state.library.packs),
            "skipped": len(state.library.errors),
        }
    return render("work.html", viewer.context(**context))
