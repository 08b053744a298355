"""The mentor's review queue: attempts with flagged verdicts, and deciding each one.

Flagged attempts come first when unreviewed, then those with a flagged critical verdict,
exam before practice. On an attempt's queue page each flagged verdict stands beside the
transcript with its evidence and the grader's reason; one form confirms it, one overrides it
(`storage.queue.decide`), by mouse or keyboard (static/queue.js).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox.evaluator.flags import REASONS
from sandbox.evaluator.overrides import ReviewError
from sandbox.storage.models import Attempt, User
from sandbox.storage.queue import (
    MODES,
    STATES,
    QueueFilters,
    decide,
    decided,
    next_in_queue,
    queue_query,
    waiting,
)
from sandbox.web import reviews
from sandbox.web.deps import MentorUser, SessionDep, StateDep, ViewerDep, gate, require_mentor
from sandbox.web.pagination import paginate, read_page
from sandbox.web.regrade_jobs import regrade_scope
from sandbox.web.routes.mentor import review_context, reviewable_attempt
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/mentor/queue", tags=["mentor"], dependencies=gate(require_mentor))


def queue_count(session: Session, reviewer: User) -> int:
    """The navigation's count: flagged attempts the reviewer may see, not reviewed yet."""
    return waiting(session=session, reviewer_scope=regrade_scope(session, reviewer))


def read_filters(
    raw: dict[str, str], known: set[tuple[str, str]]
) -> tuple[QueueFilters, dict[str, str]]:
    """The queue's filters, and each field that could not be read with its message key."""
    errors: dict[str, str] = {}
    state = raw["state"] or "unreviewed"
    if state not in STATES:
        errors["state"] = "queue.filter.error.state"
        state = "unreviewed"
    mode = raw["mode"] or "all"
    if mode not in MODES:
        errors["mode"] = "queue.filter.error.mode"
        mode = "all"
    pack_id = scenario_id = None
    if raw["scenario"]:
        pack, _, scenario = raw["scenario"].partition("/")
        if (pack, scenario) in known:
            pack_id, scenario_id = pack, scenario
        else:
            errors["scenario"] = "mentor.filter.error.scenario"
    if raw["critical"] not in ("", "yes"):
        errors["critical"] = "queue.filter.error.critical"
    critical = raw["critical"] == "yes"
    return QueueFilters(state, mode, critical, pack_id, scenario_id), errors


@router.get("")
def read_queue(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    status: str = "",
    mode: str = "",
    critical: str = "",
    scenario: str = "",
    page: str = "1",
) -> Response:
    """The flagged attempts, filtered, one page counted and sliced by the database."""
    raw = {
        "state": status.strip(),
        "mode": mode.strip(),
        "critical": critical.strip(),
        "scenario": scenario.strip(),
    }
    scenario_choices = [(p, s) for p, s in state.library.scenarios()]
    known = {(p.id, s.id) for p, s in scenario_choices}
    filters, errors = read_filters(raw, known)
    scope = regrade_scope(session, reviewer)
    shown = paginate(session, queue_query(scope, filters), read_page(page))
    kept = {
        "status": raw["state"],
        "mode": raw["mode"],
        "critical": raw["critical"],
        "scenario": raw["scenario"],
    }
    context = viewer.context(
        raw=raw,
        filters=filters,
        errors=errors,
        states=STATES,
        modes=MODES,
        scenario_choices=scenario_choices,
        titles={(p.id, s.id): s.title for p, s in scenario_choices},
        rows=shown.items,
        total=shown.total,
        page=shown.number,
        pages=shown.pages,
        page_links=shown.links("/mentor/queue", kept),
        page_problem=viewer.t(shown.problem, pages=shown.pages) if shown.problem else None,
        queue_count=waiting(session=session, reviewer_scope=scope),
        reasons_of=flag_reasons,
    )
    return render("mentor_queue.html", context, status_code=400 if errors else 200)


def flag_reasons(attempt: Attempt) -> list[str]:
    """The reason codes of an attempt's flags, in the rubric's order, each once."""
    seen: list[str] = []
    for entry in (attempt.grade or {}).get("criteria", []):
        review = entry.get("review")
        if isinstance(review, dict) and review.get("reason") not in seen:
            seen.append(str(review.get("reason")))
    return seen


def flagged_rows(record: dict[str, Any] | None, decisions: dict[str, Any]) -> list[dict[str, Any]]:
    """The flagged criteria of a record as the queue page shows them."""
    rows = []
    for row in reviews.criteria_rows(record):
        review = row.get("review")
        if not isinstance(review, dict):
            continue
        row["flag"] = review
        row["decision"] = decisions.get(row["id"])
        row["others"] = [s for s in row["allowed"] if s != row["status"]]
        rows.append(row)
    return rows


def queue_page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    reviewer: User,
    attempt: Attempt,
    owner: User,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    assert attempt.id is not None
    scope = regrade_scope(session, reviewer)
    decisions = decided(session=session, attempt_id=attempt.id)
    base = review_context(viewer, state, session, attempt, owner)
    context = {
        **base,
        "flags": flagged_rows(base["record"], decisions),
        "flag_text": REASONS,
        "queue_count": waiting(session=session, reviewer_scope=scope),
        "next_id": next_in_queue(session=session, reviewer_scope=scope, after=attempt.id),
        **extra,
    }
    return render("queue_review.html", context, status_code=status_code)


@router.get("/{attempt_id}")
def read_queue_item(
    attempt_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, reviewer: MentorUser
) -> Response:
    """One attempt's flagged verdicts beside its transcript, each to confirm or override."""
    attempt, owner = reviewable_attempt(session, reviewer, attempt_id)
    return queue_page(viewer, state, session, reviewer, attempt, owner)


@router.post("/{attempt_id}/decide")
def create_decision(
    attempt_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    criterion: Annotated[str, Form()] = "",
    decision: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Confirm or override one flagged verdict; then the next undecided one (or attempt)."""
    attempt, owner = reviewable_attempt(session, reviewer, attempt_id)
    graded = reviews.graded_view(state.library, attempt)
    try:
        decide(
            session=session,
            attempt=attempt,
            author=reviewer,
            criterion_id=criterion,
            decision=decision,
            status=status,
            note=note,
            scenario=graded.scenario,
        )
    except ReviewError as error:
        session.rollback()
        message = viewer.t(error.key, **error.fields)
        return queue_page(
            viewer,
            state,
            session,
            reviewer,
            attempt,
            owner,
            status_code=400,
            problem={"criterion": criterion, "field": error.field, "message": message},
            form={"status": status, "note": note, "decision": decision},
        )
    session.commit()
    if attempt.reviewed_at is not None:
        scope = regrade_scope(session, reviewer)
        following = next_in_queue(session=session, reviewer_scope=scope, after=attempt_id)
        if following is not None:
            return RedirectResponse(f"/mentor/queue/{following}", status_code=303)
        return RedirectResponse("/mentor/queue?done=1", status_code=303)
    return RedirectResponse(f"/mentor/queue/{attempt_id}#flags", status_code=303)
