"""Assignments in the mentor area: give scenarios or quizzes (of a trade or a tag) to
trainees or a cohort with a due date, and see who has done them. A mentor assigns to their
own trainees; an admin to anyone. `activity_titles` names every activity for people."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox import access
from sandbox.storage.assignments import (
    ActivityKind,
    Assignment,
    Purpose,
    assign,
    progress_for,
    quiz_ref,
    read_quiz_ref,
    scenario_ref,
    withdraw,
)
from sandbox.storage.cohorts import list_cohorts, members_of
from sandbox.storage.models import User
from sandbox.web.deps import MentorUser, SessionDep, StateDep, ViewerDep, gate, require_mentor
from sandbox.web.i18n import N_, Translate
from sandbox.web.routes.mentor import trainees_of
from sandbox.web.routes.questions import TRADES, quiz_tags
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(
    prefix="/mentor/assignments", tags=["assignments"], dependencies=gate(require_mentor)
)

NOTICES = {"assigned": N_("assign.done.assigned"), "withdrawn": N_("assign.done.withdrawn")}


#: The value of a quiz in the form's list of activities: "quiz:trade:pharmacy".
QUIZ_PREFIX = "quiz:"
#: A quiz assignment's name, by what it asks for.
QUIZ_TITLES = {"trade": N_("assign.quiz_trade"), "tag": N_("assign.quiz_tag")}


def quiz_choices(state: AppState) -> list[tuple[str, str]]:
    """Every quiz a mentor may assign, as (choice, value): each trade, then each tag."""
    return [("trade", trade) for trade in TRADES] + [("tag", tag) for tag in quiz_tags(state)]


def activity_titles(state: AppState, t: Translate) -> dict[str, str]:
    """An activity's reference -> its name for people: a scenario's title, "Quiz:
    pharmacy", "Quiz on dosage"."""
    titles = {scenario_ref(p.id, s.id): s.title for p, s in state.library.scenarios()}
    for choice, value in quiz_choices(state):
        shown = t(f"trade.{value}") if choice == "trade" else value
        titles[quiz_ref(choice, value)] = t(QUIZ_TITLES[choice], name=shown)
    return titles


def today(state: AppState) -> date:
    """Today (UTC) on the exam service's clock, which the tests can move."""
    return state.conversations.now().date()


def _page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    user: User,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    trainees = trainees_of(session, user)
    progress = progress_for(
        session, user_ids=[t.id for t in trainees if t.id is not None], today=today(state)
    )
    context = viewer.context(
        trainees=trainees,
        cohorts=[row.name for row in list_cohorts(session)],
        scenarios=state.library.scenarios(),
        quizzes=[QUIZ_PREFIX + quiz_ref(c, v) for c, v in quiz_choices(state)],
        titles=activity_titles(state, viewer.t),
        progress=progress,
        **({"errors": {}, "form": {}, "notice": None} | extra),
    )
    return render("mentor_assignments.html", context, status_code=status_code)


@router.get("")
def read_assignments(
    viewer: ViewerDep, state: StateDep, session: SessionDep, user: MentorUser, done: str = ""
) -> Response:
    """What the trainees have been given, done first last, and a form to assign more."""
    key = NOTICES.get(done)
    return _page(viewer, state, session, user, notice=viewer.t(key) if key else None)


@router.post("")
def create_assignments(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: MentorUser,
    activity: Annotated[str, Form()] = "",
    trainee_ids: Annotated[list[int] | None, Form(alias="trainees")] = None,
    cohort: Annotated[str, Form()] = "",
    due_on: Annotated[str, Form()] = "",
) -> Response:
    """Assign one scenario or quiz to the chosen trainees and to a cohort's members."""
    errors: dict[str, str] = {}
    kind, ref = ActivityKind.SCENARIO, activity
    if activity.startswith(QUIZ_PREFIX):
        kind, ref = ActivityKind.QUIZ, activity.removeprefix(QUIZ_PREFIX)
        if read_quiz_ref(ref) not in quiz_choices(state):
            errors["activity"] = viewer.t("assign.error.activity")
    else:
        pack_id, _, scenario_id = activity.partition("/")
        if state.library.find(pack_id, scenario_id) is None:
            errors["activity"] = viewer.t("assign.error.activity")
    due: date | None = None
    if due_on:
        try:
            due = date.fromisoformat(due_on)
        except ValueError:
            errors["due_on"] = viewer.t("assign.error.due_on")
        else:
            if due < today(state):
                errors["due_on"] = viewer.t("assign.error.past")
    allowed = {t.id: t for t in trainees_of(session, user)}
    chosen = {tid: allowed[tid] for tid in trainee_ids or [] if tid in allowed}
    if len(chosen) != len(set(trainee_ids or [])):
        errors["trainees"] = viewer.t("assign.error.trainees")
    cohort_members: list[User] = []
    if cohort:
        cohort_members = members_of(session, cohort)
        if not cohort_members:
            errors["cohort"] = viewer.t("assign.error.cohort")
        # A mentor gives work to their own trainees of the cohort only.
        cohort_members = [m for m in cohort_members if access.can_review(user, m)]
    targets = list(chosen.values()) + [m for m in cohort_members if m.id not in chosen]
    if not targets and not errors:
        errors["trainees"] = viewer.t("assign.error.none")
    if errors:
        form = {"activity": activity, "cohort": cohort, "due_on": due_on}
        return _page(viewer, state, session, user, status_code=400, errors=errors, form=form)
    assign(
        session,
        trainees=targets,
        kind=kind,
        ref=ref,
        due_on=due,
        actor=user,
        cohort=cohort or None,
    )
    session.commit()
    return RedirectResponse("/mentor/assignments?done=assigned", status_code=303)


@router.post("/{assignment_id}/withdraw")
def withdraw_assignment(session: SessionDep, user: MentorUser, assignment_id: int) -> Response:
    """Take an assignment back."""
    assignment = session.get(Assignment, assignment_id)
    owner = session.get(User, assignment.user_id) if assignment else None
    if assignment is None or owner is None or assignment.purpose != Purpose.ASSIGNMENT:
        raise HTTPException(status_code=404)
    if not access.can_review(user, owner):
        raise HTTPException(status_code=404)
    withdraw(session, assignment=assignment, actor=user)
    session.commit()
    return RedirectResponse("/mentor/assignments?done=withdrawn", status_code=303)
