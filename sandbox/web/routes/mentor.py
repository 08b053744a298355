"""The mentor's pages: their trainees' attempts, the review page, overrides, cases, regrade."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import func
from sqlmodel import Session, col, select

from sandbox import access
from sandbox.evaluator.overrides import ReviewError
from sandbox.storage.attempts import list_messages
from sandbox.storage.jobs import list_jobs
from sandbox.storage.knowledge import searches_in
from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.queue import waiting
from sandbox.storage.reviews import (
    EXAMPLES,
    ReviewComment,
    TeachingCase,
    add_comment,
    case_for,
    comments_for,
    mark_case,
    override_criterion,
    override_history,
    tags_of,
    unmark_case,
)
from sandbox.storage.verdicts import missed
from sandbox.web import regrade_jobs, reviews
from sandbox.web.deps import (
    Forbidden,
    MentorUser,
    SessionDep,
    StateDep,
    ViewerDep,
    gate,
    require_mentor,
)
from sandbox.web.i18n import N_
from sandbox.web.jobs import start as start_job
from sandbox.web.pagination import (
    KeysetPage,
    Page,
    keyset_paginate,
    paginate,
    read_keyset,
    read_page,
)
from sandbox.web.practice import under_exam
from sandbox.web.regrade_jobs import regrade_scope
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/mentor", tags=["mentor"], dependencies=gate(require_mentor))

PASSED_CHOICES = ("yes", "no")
CRITERION_PATTERN = re.compile(r"^[a-z0-9-]{1,64}$")
AUTOMATIC = "automatic"  # the override form's choice that hands a criterion back


def trainees_of(session: Session, reviewer: User) -> list[User]:
    """Whose attempts the reviewer may see, by name."""
    statement = select(User).order_by(col(User.name))
    if not access.sees_every_trainee(reviewer):
        statement = statement.where(User.mentor_id == reviewer.id)
    else:
        statement = statement.where(User.role == Role.TRAINEE)
    return list(session.exec(statement).all())


def reviewable_attempt(session: Session, reviewer: User, attempt_id: int) -> tuple[Attempt, User]:
    """The attempt and its owner; 404 when there is none, 403 when not the reviewer's."""
    attempt = session.get(Attempt, attempt_id)
    owner = session.get(User, attempt.user_id) if attempt is not None else None
    if attempt is None or owner is None:
        raise HTTPException(status_code=404)
    if not access.can_review(reviewer, owner):
        raise Forbidden()
    return attempt, owner


@router.get("")
def read_mentor_home() -> Response:
    """The mentor area starts at the attempt list."""
    return RedirectResponse("/mentor/attempts", status_code=303)


# --- the attempt list -------------------------------------------------------------------


@dataclass
class Filters:
    """The list's filters as typed values, and the fields that could not be read."""

    raw: dict[str, str]
    trainee_id: int | None = None
    pack_id: str | None = None
    scenario_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    passed: bool | None = None
    criterion: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


def parse_filters(
    raw: dict[str, str], trainees: list[User], scenarios: set[tuple[str, str]]
) -> Filters:
    """Read the list's query; each unreadable value is named in `errors` with its message key."""
    parsed = Filters(raw=raw)
    if raw["trainee"]:
        allowed = {str(u.id): u.id for u in trainees}
        if raw["trainee"] in allowed:
            parsed.trainee_id = allowed[raw["trainee"]]
        else:
            parsed.errors["trainee"] = N_("mentor.filter.error.trainee")
    if raw["scenario"]:
        pack_id, _, scenario_id = raw["scenario"].partition("/")
        if (pack_id, scenario_id) in scenarios:
            parsed.pack_id, parsed.scenario_id = pack_id, scenario_id
        else:
            parsed.errors["scenario"] = N_("mentor.filter.error.scenario")
    for name in ("date_from", "date_to"):
        if raw[name]:
            try:
                setattr(parsed, name, date.fromisoformat(raw[name]))
            except ValueError:
                parsed.errors[name] = N_("mentor.filter.error.date")
    if parsed.date_from and parsed.date_to and parsed.date_to < parsed.date_from:
        parsed.errors["date_to"] = N_("mentor.filter.error.date_order")
    if raw["passed"]:
        if raw["passed"] in PASSED_CHOICES:
            parsed.passed = raw["passed"] == "yes"
        else:
            parsed.errors["passed"] = N_("mentor.filter.error.passed")
    if raw["criterion"]:
        if CRITERION_PATTERN.match(raw["criterion"]):
            parsed.criterion = raw["criterion"]
        else:
            parsed.errors["criterion"] = N_("mentor.filter.error.criterion")
    return parsed


def attempts_query(reviewer: User, filters: Filters) -> Any:
    """The reviewer's attempts with their owners' names, filtered (not ordered: the pages
    order them newest first)."""
    statement = select(Attempt, User.name).join(User, col(User.id) == col(Attempt.user_id))
    if not access.sees_every_trainee(reviewer):
        statement = statement.where(User.mentor_id == reviewer.id)
    if filters.trainee_id is not None:
        statement = statement.where(Attempt.user_id == filters.trainee_id)
    if filters.pack_id is not None:
        statement = statement.where(
            Attempt.pack_id == filters.pack_id, Attempt.scenario_id == filters.scenario_id
        )
    if filters.date_from is not None:
        start = datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        statement = statement.where(col(Attempt.started_at) >= start)
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=UTC)
        statement = statement.where(col(Attempt.started_at) < end)
    if filters.passed is not None:
        statement = statement.where(Attempt.passed == filters.passed)
    if filters.criterion is not None:
        # Answered by the verdict table's index (storage/verdicts.py), not by the grades.
        statement = statement.where(missed(filters.criterion))
    return statement


def page_of_attempts(
    session: Session, reviewer: User, filters: Filters, page: str, after: str, before: str
) -> Page[tuple[Attempt, str]] | KeysetPage[tuple[Attempt, str]]:
    """One page of the filtered attempts, newest first, counted and read by the database:
    by keyset (`after`/`before` an attempt id, what the list's links use, however deep), or
    by number (`page`, an older link's way; OFFSET)."""
    statement = attempts_query(reviewer, filters)
    keys = (col(Attempt.started_at), col(Attempt.id))
    if page.strip() and not (after.strip() or before.strip()):
        return paginate(
            session, statement.order_by(keys[0].desc(), keys[1].desc()), read_page(page)
        )
    return keyset_paginate(session, statement, keys, read_keyset(after, before))


def list_extras(session: Session, ids: list[int]) -> tuple[dict[int, int], set[int]]:
    """Comment counts and which attempts are teaching cases, for one page of the list."""
    if not ids:
        return {}, set()
    counts = session.exec(
        select(ReviewComment.attempt_id, func.count())
        .where(col(ReviewComment.attempt_id).in_(ids))
        .group_by(col(ReviewComment.attempt_id))
    ).all()
    cases = session.exec(
        select(TeachingCase.attempt_id).where(col(TeachingCase.attempt_id).in_(ids))
    ).all()
    return {attempt_id: int(count) for attempt_id, count in counts}, set(cases)


@router.get("/attempts")
def list_attempts(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    trainee: str = "",
    scenario: str = "",
    date_from: str = "",
    date_to: str = "",
    passed: str = "",
    criterion: str = "",
    page: str = "",
    after: str = "",
    before: str = "",
) -> Response:
    """The reviewer's trainees' attempts, filtered and paginated."""
    raw = {
        "trainee": trainee.strip(),
        "scenario": scenario.strip(),
        "date_from": date_from.strip(),
        "date_to": date_to.strip(),
        "passed": passed.strip(),
        "criterion": criterion.strip(),
    }
    trainees = trainees_of(session, reviewer)
    scenario_choices = [(p, s) for p, s in state.library.scenarios()]
    known = {(p.id, s.id) for p, s in scenario_choices}
    filters = parse_filters(raw, trainees, known)
    shown: Page[tuple[Attempt, str]] | KeysetPage[tuple[Attempt, str]] = Page([], 1, 1, 0)
    if not filters.errors:
        shown = page_of_attempts(session, reviewer, filters, page, after, before)
    rows = shown.items
    ids = [a.id for a, _ in rows if a.id is not None]
    comment_counts, cases = list_extras(session, ids)
    titles = {(p.id, s.id): s.title for p, s in scenario_choices}
    criteria = sorted({c.id for _, s in scenario_choices for c in s.rubric.criteria})
    context = viewer.context(
        filters=filters,
        trainees=trainees,
        scenario_choices=scenario_choices,
        criteria_choices=criteria,
        rows=rows,
        titles=titles,
        comment_counts=comment_counts,
        cases=cases,
        total=shown.total,
        page=shown.number,
        pages=shown.pages,
        page_links=shown.links("/mentor/attempts", raw),
        page_problem=viewer.t(shown.problem, pages=shown.pages) if shown.problem else None,
        queue_count=waiting(session=session, reviewer_scope=regrade_scope(session, reviewer)),
    )
    return render("mentor_attempts.html", context, status_code=400 if filters.errors else 200)


# --- the review page --------------------------------------------------------------------


def review_context(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    attempt: Attempt,
    owner: User,
    **extra: Any,
) -> dict[str, Any]:
    """Everything the review page shows of an attempt."""
    assert attempt.id is not None
    messages = list_messages(session=session, attempt_id=attempt.id)
    graded = reviews.graded_view(state.library, attempt)
    comments = comments_for(session=session, attempt_id=attempt.id)
    rows = reviews.timed_rows(messages, graded.record, comments)
    found = state.library.find(attempt.pack_id, attempt.scenario_id)
    case = case_for(session=session, attempt_id=attempt.id)
    case_tags = tags_of(session=session, case_ids=[case.id])[case.id] if case and case.id else []
    values: dict[str, Any] = {
        "attempt": attempt,
        "owner": owner,
        "record": graded.record,
        "overridden": graded.overridden,
        "rubric_loaded": graded.scenario is not None,
        "scenario": found[1] if found else None,
        "persona_name": found[1].persona.name if found else "",
        "content_lang": found[0].locale if found else "",
        "rows": rows,
        "criteria": reviews.criteria_rows(graded.record),
        "reasons": reviews.verdict_reasons(graded, attempt, messages, staff=True),
        "attempt_comments": [(c, name) for c, name in comments if c.message_seq is None],
        "history": override_history(session=session, attempt_id=attempt.id),
        "searches": searches_in(session, attempt.id or 0),
        "case": case,
        "case_tags": case_tags,
        "examples": EXAMPLES,
        "automatic": AUTOMATIC,
        "duration_s": rows[-1].at if rows else 0.0,
        "seconds": reviews.format_seconds,
        "clean": str,
        "form": {},
        "errors": {},
        "open_form": None,
    }
    if viewer.user is not None:
        scope = regrade_scope(session, viewer.user)
        values["queue_count"] = waiting(session=session, reviewer_scope=scope)
    values.update(extra)
    return viewer.context(**values)


@router.get("/attempts/{attempt_id}")
def read_review(
    attempt_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, reviewer: MentorUser
) -> Response:
    """The transcript with timing, verdicts, replay, comments, overrides and case marking."""
    attempt, owner = reviewable_attempt(session, reviewer, attempt_id)
    return render("mentor_review.html", review_context(viewer, state, session, attempt, owner))


def refused(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    attempt: Attempt,
    owner: User,
    error: ReviewError,
    form_name: str,
    form: dict[str, Any],
) -> Response:
    """The review page again, with the refused form open and its problem marked."""
    session.rollback()
    message = viewer.t(error.key, **error.fields)
    context = review_context(
        viewer,
        state,
        session,
        attempt,
        owner,
        form=form,
        errors={f"{form_name}.{error.field}": message},
        open_form=form_name,
    )
    return render("mentor_review.html", context, status_code=400)


@router.post("/attempts/{attempt_id}/comments")
def create_comment(
    attempt_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    text: Annotated[str, Form()] = "",
    message_seq: Annotated[str, Form()] = "",
) -> Response:
    """A comment on the whole attempt, or on one message when `message_seq` is given."""
    attempt, owner = reviewable_attempt(session, reviewer, attempt_id)
    form_name = f"comment-{message_seq}" if message_seq else "comment"
    form = {"text": text, "message_seq": message_seq}
    try:
        seq = int(message_seq) if message_seq.strip() else None
    except ValueError:
        seq = -1
    try:
        messages = list_messages(session=session, attempt_id=attempt_id)
        comment = add_comment(
            session=session,
            attempt=attempt,
            author=reviewer,
            text=text,
            message_seq=seq,
            message_count=len(messages),
        )
    except ReviewError as error:
        if error.field == "message_seq":
            form_name = "comment"
            error = ReviewError("text", error.key)
        return refused(viewer, state, session, attempt, owner, error, form_name, form)
    session.commit()
    anchor = f"msg-{seq}" if seq is not None else f"comment-{comment.id}"
    return RedirectResponse(f"/mentor/attempts/{attempt_id}#{anchor}", status_code=303)


@router.post("/attempts/{attempt_id}/overrides")
def create_override(
    attempt_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    criterion: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Change a criterion's status, with the reason it needs; the grade is recomputed."""
    attempt, owner = reviewable_attempt(session, reviewer, attempt_id)
    form = {"criterion": criterion, "status": status, "reason": reason}
    form_name = f"override-{criterion}" if CRITERION_PATTERN.match(criterion) else "override"
    graded = reviews.graded_view(state.library, attempt)
    try:
        if not status:
            raise ReviewError("status", "review.error.bad_status")
        override_criterion(
            session=session,
            attempt=attempt,
            author=reviewer,
            criterion_id=criterion,
            status=None if status == AUTOMATIC else status,
            reason=reason,
            scenario=graded.scenario,
        )
    except ReviewError as error:
        return refused(viewer, state, session, attempt, owner, error, form_name, form)
    session.commit()
    return RedirectResponse(f"/mentor/attempts/{attempt_id}#criterion-{criterion}", status_code=303)


@router.post("/attempts/{attempt_id}/case")
def update_case(
    attempt_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    example: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Mark the attempt as a teaching case (good or bad example), or change its tags."""
    attempt, owner = reviewable_attempt(session, reviewer, attempt_id)
    form = {"example": example, "tags": tags, "note": note}
    try:
        if attempt.exam_id is not None and under_exam(
            session, attempt.pack_id, attempt.scenario_id, state.conversations.now()
        ):
            # An exam conversation shows candidates still sitting what scores: not a case
            # until every exam and retake window on its scenario has closed (web/practice.py).
            raise ReviewError("example", "review.error.exam_running")
        mark_case(
            session=session, attempt=attempt, author=reviewer, example=example, tags=tags, note=note
        )
    except ReviewError as error:
        return refused(viewer, state, session, attempt, owner, error, "case", form)
    session.commit()
    return RedirectResponse(f"/mentor/attempts/{attempt_id}#case", status_code=303)


@router.post("/attempts/{attempt_id}/case/delete")
def delete_case(attempt_id: int, session: SessionDep, reviewer: MentorUser) -> Response:
    """Take the attempt out of the case library."""
    attempt, _ = reviewable_attempt(session, reviewer, attempt_id)
    unmark_case(session=session, attempt=attempt, author=reviewer)
    session.commit()
    return RedirectResponse(f"/mentor/attempts/{attempt_id}#case", status_code=303)


# --- regrade ----------------------------------------------------------------------------
# The dry run and applying run as background jobs (web/regrade_jobs.py); their pages are
# the job pages of routes/jobs.py.


def regrade_choice(
    state: AppState, pack: str, scenario: str
) -> tuple[str | None, str | None, dict[str, str]]:
    """The pack and scenario chosen on the regrade form, or the fields in error."""
    errors: dict[str, str] = {}
    if pack not in state.library.packs:
        errors["pack"] = N_("mentor.regrade.error.pack")
        return None, None, errors
    if scenario and state.library.find(pack, scenario) is None:
        errors["scenario"] = N_("mentor.regrade.error.scenario")
    return pack, scenario or None, errors


def _regrade_page(
    viewer: Any,
    state: AppState,
    session: Session,
    reviewer: User,
    chosen: dict[str, str],
    errors: dict[str, str],
) -> Response:
    context = viewer.context(
        packs=list(state.library.packs.values()),
        chosen=chosen,
        errors={key: viewer.t(value) for key, value in errors.items()},
        regrade_jobs=list_jobs(
            session=session, created_by=reviewer.id, kinds=regrade_jobs.KINDS, limit=10
        ),
    )
    return render("mentor_regrade.html", context, status_code=400 if errors else 200)


@router.get("/regrade")
def read_regrade(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    pack: str = "",
    scenario: str = "",
) -> Response:
    """Choose a pack (and scenario) for a dry run; the reviewer's recent regrade jobs."""
    errors: dict[str, str] = {}
    if pack or scenario:
        _, _, errors = regrade_choice(state, pack.strip(), scenario.strip())
    chosen = {"pack": pack, "scenario": scenario}
    return _regrade_page(viewer, state, session, reviewer, chosen, errors)


@router.post("/regrade/dry-run")
def create_regrade_dry_run(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    pack: Annotated[str, Form()] = "",
    scenario: Annotated[str, Form()] = "",
) -> Response:
    """Start the dry run as a job: it lists every attempt whose result would change."""
    pack_id, scenario_id, errors = regrade_choice(state, pack.strip(), scenario.strip())
    if errors or pack_id is None:
        chosen = {"pack": pack, "scenario": scenario}
        return _regrade_page(viewer, state, session, reviewer, chosen, errors)
    job = start_job(
        session=session,
        kind=regrade_jobs.DRY_RUN.name,
        params={"pack": pack_id, "scenario": scenario_id},
        created_by=reviewer.id,
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/regrade")
def create_regrade(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    reviewer: MentorUser,
    pack: Annotated[str, Form()] = "",
    scenario: Annotated[str, Form()] = "",
    attempt: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Regrade the attempts chosen from a dry run, as a job; overrides are re-applied;
    every change is audited."""
    chosen = attempt or []
    pack_id, scenario_id, errors = regrade_choice(state, pack.strip(), scenario.strip())
    ids = sorted({int(value) for value in chosen if value.isdigit() and 0 < len(value) < 19})
    if not errors and not ids:
        errors["attempt"] = N_("mentor.regrade.error.none_chosen")
    if not errors and len(ids) > regrade_jobs.APPLY_MAX:
        errors["attempt"] = N_("jobs.error.params")
    if errors or pack_id is None:
        form = {"pack": pack, "scenario": scenario}
        return _regrade_page(viewer, state, session, reviewer, form, errors)
    job = start_job(
        session=session,
        kind=regrade_jobs.APPLY.name,
        params={
            "pack": pack_id,
            "scenario": scenario_id,
            "attempts": ids,
            "reason": reason.strip()[: regrade_jobs.REASON_MAX] or None,
        },
        created_by=reviewer.id,
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
