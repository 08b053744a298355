"""The proctor's pages: exams (create, edit), candidates' results, written scores, release
of results, retakes. Every change is audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, select

from sandbox.conversations.events import ExamEvent
from sandbox.conversations.service import ConversationService
from sandbox.csvfiles import CsvEncodingError, decode_csv
from sandbox.exams.policy import (
    ScoreError,
    parse_written_scores,
    read_written_score,
    retake_scenarios,
)
from sandbox.storage.assignments import retraining_plans
from sandbox.storage.audit import record
from sandbox.storage.exams import (
    Appeal,
    AppealStatus,
    Exam,
    ExamRetake,
    cohort_member_ids,
    cohort_names,
    create_cohort,
    create_exam,
    exam_attempts,
    exam_scenarios,
    list_exams,
    set_candidates,
    set_scenarios,
    set_written_score,
    trainees,
)
from sandbox.storage.exams import candidates as exam_candidates
from sandbox.storage.extra_time import extra_times
from sandbox.storage.models import User
from sandbox.storage.queue import held_names
from sandbox.storage.standings import Standing, standings
from sandbox.web.deps import (
    ProctorUser,
    SessionDep,
    StateDep,
    ViewerDep,
    gate,
    require_proctor,
)
from sandbox.web.exam_form import (
    ExamForm,
    ExamFormInput,
    blank_values,
    exam_values,
    read_exam_form,
    read_moment,
)
from sandbox.web.i18n import N_
from sandbox.web.pagination import PageRequest, read_page
from sandbox.web.proctoring import (
    ServiceDep,
    candidates_page,
    exam_or_404,
    page_helpers,
    pager_context,
    scenario_title,
)
from sandbox.web.state import AppState
from sandbox.web.templating import render

# Handlers are plain `def`: FastAPI reads their forms (`Form()`, form models) on the event
# loop and runs them in its thread pool, so their database work never blocks a chat turn.
router = APIRouter(prefix="/proctor", tags=["proctor"], dependencies=gate(require_proctor))

CSV_MAX_BYTES = 1_000_000
#: Candidates on one page of an exam's page.
EXAM_PAGE_SIZE = 100


def exam_snapshot(session: Session, exam: Exam) -> dict[str, Any]:
    """What the audit log keeps of an exam before and after a change."""
    assert exam.id is not None
    return {
        "name": exam.name,
        "cohort": exam.cohort,
        "time_limit_s": exam.limit_s,
        "opens_at": exam.opens_at.isoformat(),
        "closes_at": exam.closes_at.isoformat(),
        "rules": exam.rules,
        "exam_only": exam.exam_only,
        "scenarios": [s.key for s in exam_scenarios(session=session, exam_id=exam.id)],
        "candidates": [u.name for u in exam_candidates(session=session, exam_id=exam.id)],
    }


def _form_context(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    form: ExamForm | None,
    values: dict[str, Any],
    exam: Exam | None,
) -> dict[str, Any]:
    scenario_choices = [
        {"key": f"{p.id}/{s.id}", "title": s.title, "pack": p.pack.title, "locale": p.locale}
        for p, s in state.library.scenarios()
    ]
    return viewer.context(
        exam=exam,
        values=values,
        errors=form.errors if form else {},
        scenario_choices=scenario_choices,
        trainees=trainees(session=session),
        cohorts=cohort_names(session=session),
        **page_helpers(),
    )


def _read_form(
    posted: ExamFormInput, viewer: ViewerDep, state: AppState, session: Session
) -> ExamForm:
    lists = {"scenario": posted.scenario, "candidate": posted.candidate}
    # Only the fields sent: a missing one reads as its default, as in `read_exam_form`.
    plain = posted.model_dump(exclude_unset=True, exclude={"scenario", "candidate"})
    trainee_ids = {u.id for u in trainees(session=session) if u.id is not None}
    cohorts = {
        name: cohort_member_ids(session=session, cohort=name)
        for name in cohort_names(session=session)
    }
    return read_exam_form(
        plain, lists, t=viewer.t, library=state.library, trainee_ids=trainee_ids, cohorts=cohorts
    )


@router.get("/exams")
def list_exams_page(
    viewer: ViewerDep, session: SessionDep, user: ProctorUser, service: ServiceDep
) -> Response:
    """Every exam with its window and candidates."""
    exams = list_exams(session=session)
    counts = {
        exam.id: len(exam_candidates(session=session, exam_id=exam.id))
        for exam in exams
        if exam.id is not None
    }
    context = viewer.context(exams=exams, counts=counts, now=service.now(), **page_helpers())
    return render("proctor_exams.html", context)


@router.get("/exams/new")
def read_new_exam(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
) -> Response:
    """The form for a new exam, with the policies' defaults."""
    values = blank_values(service.now())
    return render("exam_form.html", _form_context(viewer, state, session, None, values, None))


@router.post("/exams")
def create_exam_page(
    posted: Annotated[ExamFormInput, Form()],
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
) -> Response:
    """Create an exam, or show the form again with every problem marked."""
    form = _read_form(posted, viewer, state, session)
    if not form.ok or form.rules is None or form.opens_at is None or form.closes_at is None:
        context = _form_context(viewer, state, session, form, form.values, None)
        return render("exam_form.html", context, status_code=400)
    if form.new_cohort and form.cohort:
        create_cohort(session=session, cohort=form.cohort, user_ids=form.candidate_ids)
    exam = create_exam(
        session=session,
        name=form.name,
        time_limit_s=form.time_limit_s,
        opens_at=form.opens_at,
        closes_at=form.closes_at,
        rules=form.rules,
        scenarios=form.scenarios,
        candidate_ids=form.candidate_ids,
        cohort=form.cohort,
        created_by=user.id,
        exam_only=form.exam_only,
    )
    record(
        session,
        actor_id=user.id,
        action="exam.create",
        subject_type="exam",
        subject_id=exam.id,
        new=exam_snapshot(session, exam),
    )
    session.commit()
    return RedirectResponse(f"/proctor/exams/{exam.id}", status_code=303)


@router.get("/exams/{exam_id}/edit")
def read_edit_exam(
    exam_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, user: ProctorUser
) -> Response:
    """The form of an existing exam."""
    exam = exam_or_404(session, exam_id)
    values = exam_values(
        exam,
        exam_scenarios(session=session, exam_id=exam_id),
        [u.id for u in exam_candidates(session=session, exam_id=exam_id) if u.id is not None],
    )
    return render("exam_form.html", _form_context(viewer, state, session, None, values, exam))


@router.post("/exams/{exam_id}/edit")
def update_exam_page(
    exam_id: int,
    posted: Annotated[ExamFormInput, Form()],
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
) -> Response:
    """Change an exam; scenarios and candidates that already have attempts stay."""
    exam = exam_or_404(session, exam_id)
    form = _read_form(posted, viewer, state, session)
    attempted = exam_attempts(session=session, exam_id=exam_id)
    started = {f"{a.pack_id}/{a.scenario_id}" for a in attempted}
    kept = {f"{p}/{s}" for p, s in form.scenarios}
    if form.ok and started - kept:
        form.errors["scenario"] = viewer.t(
            "exam.error.scenario_in_use", scenario=", ".join(sorted(started - kept))
        )
    sitting = {a.user_id for a in attempted}
    if form.ok and sitting - form.candidate_ids:
        names = [
            u.name
            for u in exam_candidates(session=session, exam_id=exam_id)
            if u.id in sitting - form.candidate_ids
        ]
        form.errors["candidate"] = viewer.t("exam.error.candidate_in_use", names=", ".join(names))
    if not form.ok or form.rules is None or form.opens_at is None or form.closes_at is None:
        context = _form_context(viewer, state, session, form, form.values, exam)
        return render("exam_form.html", context, status_code=400)
    old = exam_snapshot(session, exam)
    if form.new_cohort and form.cohort:
        create_cohort(session=session, cohort=form.cohort, user_ids=form.candidate_ids)
    exam.name = form.name
    exam.cohort = form.cohort
    exam.scenario_limits = form.time_limit_s is None
    if form.time_limit_s is not None:
        exam.time_limit_s = form.time_limit_s
    exam.opens_at = form.opens_at
    exam.closes_at = form.closes_at
    exam.rules = form.rules.model_dump(mode="json")
    exam.exam_only = form.exam_only
    exam.updated_at = service.now()
    session.add(exam)
    set_scenarios(session=session, exam=exam, scenarios=form.scenarios)
    set_candidates(session=session, exam=exam, user_ids=form.candidate_ids)
    new = exam_snapshot(session, exam)
    if new != old:
        record(
            session,
            actor_id=user.id,
            action="exam.update",
            subject_type="exam",
            subject_id=exam.id,
            old=old,
            new=new,
        )
    session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}", status_code=303)


def _exam_page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    exam: Exam,
    now: datetime,
    status_code: int = 200,
    page: PageRequest | None = None,
    **extra: Any,
) -> Response:
    assert exam.id is not None
    rows = exam_scenarios(session=session, exam_id=exam.id)
    # One page of candidates: the page reads only their rows, however large the exam.
    shown = candidates_page(session, exam, page or PageRequest(), EXAM_PAGE_SIZE)
    context = viewer.context(
        exam=exam,
        rules=exam.exam_rules,
        window=exam.window(now),
        scenarios=[{"row": r, "title": scenario_title(state, r)} for r in rows],
        standings=standings(session=session, exam=exam, now=now, users=shown.items),
        **pager_context(viewer.t, shown, f"/proctor/exams/{exam.id}"),
        plans=retraining_plans(session, exam_id=exam.id, today=now.date()),
        extra_times=extra_times(session, exam_id=exam.id),
        # The extra-time form chooses among every candidate, not the page's only.
        all_candidates=[(u.id, u.name) for u in exam_candidates(session=session, exam_id=exam.id)],
        extra_error=None,
        now=now,
        import_errors=[],
        written_error=None,
        csv_text="",
        imported=0,
        **page_helpers(),
    )
    context.update(extra)
    return render("proctor_exam.html", context, status_code=status_code)


@router.get("/exams/{exam_id}")
def read_exam(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
    imported: int = 0,
    page: str | None = None,
) -> Response:
    """An exam: its rules, and each candidate's parts, result and retake state (a page of
    `EXAM_PAGE_SIZE` candidates by name)."""
    exam = exam_or_404(session, exam_id)
    return _exam_page(
        viewer,
        state,
        session,
        exam,
        service.now(),
        page=read_page(page),
        imported=max(imported, 0),
    )


class CandidateForm(BaseModel):
    """A form that names one candidate (a written score, a retake)."""

    user_id: str = ""
    retake: str = ""
    score: str = ""


def _candidate(session: Session, exam: Exam, raw: Any) -> User | None:
    assert exam.id is not None
    text = str(raw or "")
    if not text.isdigit():
        return None
    return next(
        (u for u in exam_candidates(session=session, exam_id=exam.id) if u.id == int(text)),
        None,
    )


@router.post("/exams/{exam_id}/written")
def update_written_score(
    exam_id: int,
    form: Annotated[CandidateForm, Form()],
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
) -> Response:
    """Enter (or correct) one candidate's written score."""
    exam = exam_or_404(session, exam_id)
    candidate = _candidate(session, exam, form.user_id)
    retake = form.retake == "1"
    raw = form.score.strip()
    score: float | None = None
    problem = N_("written.error.trainee") if candidate is None else None
    try:
        score = read_written_score(raw)
    except ScoreError as error:
        plain = error.problem != "not_plain"
        problem = problem or (
            N_("written.error.score") if plain else N_("written.error.not_decimal")
        )
    if candidate is None or score is None:
        return _exam_page(
            viewer,
            state,
            session,
            exam,
            service.now(),
            status_code=400,
            written_error=viewer.t(
                problem or "written.error.score",
                score=raw,
                name=candidate.name if candidate else "",
            ),
        )
    old = enter_written_score(session, service, exam_id, candidate, score, user, retake)
    record(
        session,
        actor_id=user.id,
        action="written.update",
        subject_type="exam",
        subject_id=exam_id,
        old=None if old is None else {candidate.name: old},
        new={candidate.name: score, "retake": retake},
    )
    session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}#candidate-{candidate.id}", status_code=303)


def enter_written_score(
    session: Session,
    service: ConversationService,
    exam_id: int,
    candidate: User,
    score: float,
    user: User,
    retake: bool,
) -> float | None:
    """Store one candidate's written score and tell the monitor; the score it replaced."""
    assert candidate.id is not None
    previous = set_written_score(
        session=session,
        exam_id=exam_id,
        user_id=candidate.id,
        score=score,
        entered_by=user.id,
        retake=retake,
        at=service.now(),
    )
    service.bus.publish(session, ExamEvent(exam_id, candidate.id))
    return previous


@router.post("/exams/{exam_id}/written/import")
def import_written_scores(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
    retake_flag: Annotated[str, Form(alias="retake")] = "",
    csv_text: Annotated[str, Form()] = "",
    csv_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Import written scores from CSV: all rows or, if any is bad, none (with every problem)."""
    exam = exam_or_404(session, exam_id)
    retake = retake_flag == "1"
    text = csv_text
    problem: str | None = None
    if csv_file is not None:
        # The upload is spooled to a temporary file by now (FastAPI closes it after the
        # response); reading it here, in the thread pool, blocks no socket.
        data = csv_file.file.read(CSV_MAX_BYTES + 1)
        if len(data) > CSV_MAX_BYTES:
            problem = N_("written.error.too_big")
        elif data:
            try:
                text = decode_csv(data)  # UTF-8, with or without a BOM, or GBK
            except CsvEncodingError:
                problem = N_("written.error.encoding")
    if problem is not None:
        return _exam_page(
            viewer,
            state,
            session,
            exam,
            service.now(),
            status_code=400,
            import_errors=[viewer.t(problem)],
        )
    people = {u.name: u for u in exam_candidates(session=session, exam_id=exam_id)}
    parsed = parse_written_scores(text, list(people))
    if not parsed.ok:
        return _exam_page(
            viewer,
            state,
            session,
            exam,
            service.now(),
            status_code=400,
            import_errors=parsed.errors,
            csv_text=text,
        )
    if not parsed.scores:
        return _exam_page(
            viewer,
            state,
            session,
            exam,
            service.now(),
            status_code=400,
            import_errors=[viewer.t("written.error.no_rows")],
            csv_text=text,
        )
    old: dict[str, float] = {}
    for name, score in parsed.scores.items():
        previous = enter_written_score(session, service, exam_id, people[name], score, user, retake)
        if previous is not None:
            old[name] = previous
    record(
        session,
        actor_id=user.id,
        action="written.import",
        subject_type="exam",
        subject_id=exam_id,
        old=old or None,
        new={"scores": parsed.scores, "retake": retake},
    )
    session.commit()
    return RedirectResponse(
        f"/proctor/exams/{exam_id}?imported={len(parsed.scores)}", status_code=303
    )


@dataclass
class Pending:
    """What is still unfinished when results are released: the confirmation lists it."""

    window_open: bool
    not_started: list[str]
    in_progress: list[str]
    written_missing: list[str]
    results_pending: list[str]
    open_appeals: int
    under_review: list[str] = field(default_factory=list)  # results held (ExamRules.provisional)

    def __bool__(self) -> bool:
        return bool(
            self.under_review
            or self.window_open
            or self.not_started
            or self.in_progress
            or self.written_missing
            or self.results_pending
            or self.open_appeals
        )

    def as_dict(self) -> dict[str, Any]:
        """For the audit log."""
        return {
            "window_open": self.window_open,
            "not_started": self.not_started,
            "in_progress": self.in_progress,
            "written_missing": self.written_missing,
            "results_pending": self.results_pending,
            "open_appeals": self.open_appeals,
            "under_review": self.under_review,
        }


def release_pending(session: Session, exam: Exam, now: datetime) -> Pending:
    """The exam's unfinished business at `now`."""
    assert exam.id is not None
    found = standings(session=session, exam=exam, now=now)
    appeals = session.exec(
        select(func.count())
        .select_from(Appeal)
        .where(Appeal.exam_id == exam.id, Appeal.status == AppealStatus.OPEN)
    ).one()
    return Pending(
        window_open=exam.window(now) != "closed",
        not_started=[s.user.name for s in found if s.progress == "not_started"],
        in_progress=[s.user.name for s in found if s.open_attempt is not None],
        written_missing=[s.user.name for s in found if s.written is None],
        results_pending=[s.user.name for s in found if s.final.status == "pending"],
        open_appeals=int(appeals),
        under_review=(
            held_names(session=session, exam_id=exam.id) if exam.exam_rules.provisional else []
        ),
    )


def _release_page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    exam: Exam,
    now: datetime,
    status_code: int = 200,
    error: str | None = None,
    release_at: str = "",
) -> Response:
    context = viewer.context(
        exam=exam,
        window=exam.window(now),
        pending=release_pending(session, exam, now),
        visible=exam.results_visible(now),
        scheduled=exam.release_scheduled(now),
        error=error,
        release_at=release_at,
        now=now,
        **page_helpers(),
    )
    return render("proctor_release.html", context, status_code=status_code)


@router.get("/exams/{exam_id}/release")
def read_release(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
) -> Response:
    """The confirmation of a release: what is still pending, now or at a chosen time."""
    exam = exam_or_404(session, exam_id)
    return _release_page(viewer, state, session, exam, service.now())


class ReleaseForm(BaseModel):
    """The release confirmation: confirmed, and when (empty: now)."""

    confirm: str = ""
    release_at: str = ""
    release_at_utc: str = ""


@router.post("/exams/{exam_id}/release")
def release_results(
    exam_id: int,
    form: Annotated[ReleaseForm, Form()],
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
) -> Response:
    """Let the candidates see their results (score, band, passed; never the rubric), now or
    from a chosen moment; only once confirmed on the page that lists what is pending."""
    exam = exam_or_404(session, exam_id)
    now = service.now()
    if form.confirm != "1":
        return RedirectResponse(f"/proctor/exams/{exam_id}/release", status_code=303)
    if exam.results_visible(now):
        return RedirectResponse(f"/proctor/exams/{exam_id}", status_code=303)
    raw = {"release_at": form.release_at.strip(), "release_at_utc": form.release_at_utc.strip()}
    when = now
    if any(raw.values()):
        errors: dict[str, str] = {}
        moment = read_moment(raw, "release_at", errors, viewer.t)
        if moment is None:
            return _release_page(
                viewer,
                state,
                session,
                exam,
                now,
                status_code=400,
                error=errors.get("release_at"),
                release_at=raw["release_at"],
            )
        when = max(moment, now)  # a moment already past releases now
    old = exam.results_released_at
    exam.results_released_at = when
    session.add(exam)
    record(
        session,
        actor_id=user.id,
        action="exam.release",
        subject_type="exam",
        subject_id=exam_id,
        old=None if old is None else {"released_at": old.isoformat()},
        new={
            "released_at": when.isoformat(),
            "scheduled": when > now,
            "pending": release_pending(session, exam, now).as_dict(),
        },
    )
    session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}", status_code=303)


@router.post("/exams/{exam_id}/release/withdraw")
def withdraw_release(
    exam_id: int,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
) -> Response:
    """Take a release (shown or scheduled) back: the candidates no longer see their results."""
    exam = exam_or_404(session, exam_id)
    old = exam.results_released_at
    if old is not None:
        now = service.now()
        exam.results_released_at = None
        session.add(exam)
        record(
            session,
            actor_id=user.id,
            action="exam.release_withdraw",
            subject_type="exam",
            subject_id=exam_id,
            old={"released_at": old.isoformat(), "was_visible": old <= now},
        )
        session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}", status_code=303)


@router.post("/exams/{exam_id}/retakes")
def grant_retake(
    exam_id: int,
    form: Annotated[CandidateForm, Form()],
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: ProctorUser,
    service: ServiceDep,
) -> Response:
    """Grant a failed candidate their one retake, on the parts they failed."""
    exam = exam_or_404(session, exam_id)
    candidate = _candidate(session, exam, form.user_id)
    now = service.now()
    found: Standing | None = None
    if candidate is not None:
        found = next(
            (
                s
                for s in standings(session=session, exam=exam, now=now)
                if s.user.id == candidate.id
            ),
            None,
        )
    if found is None or found.state != "eligible" or found.finished_at is None:
        return _exam_page(
            viewer,
            state,
            session,
            exam,
            now,
            status_code=400,
            written_error=viewer.t("retake.error.not_eligible"),
        )
    assert candidate is not None and candidate.id is not None
    rules = exam.exam_rules
    scores = {p.scenario.key: p.score or 0.0 for p in found.first}
    written_failed = found.result.written_passed is False
    retake = ExamRetake(
        exam_id=exam_id,
        user_id=candidate.id,
        scenarios=retake_scenarios(scores, rules),
        written=written_failed,
        granted_by=user.id,
        granted_at=now,
        expires_at=found.finished_at + timedelta(days=rules.retake_days),
    )
    session.add(retake)
    record(
        session,
        actor_id=user.id,
        action="retake.grant",
        subject_type="exam",
        subject_id=exam_id,
        new={
            "trainee": candidate.name,
            "scenarios": retake.scenarios,
            "written": written_failed,
            "expires_at": retake.expires_at.isoformat(),
        },
    )
    service.bus.publish(session, ExamEvent(exam_id, candidate.id))
    session.commit()
    return RedirectResponse(f"/proctor/exams/{exam_id}#candidate-{candidate.id}", status_code=303)
