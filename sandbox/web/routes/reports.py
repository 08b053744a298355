"""Reports for an exam or a cohort: pass rate against the target, score histograms,
per-criterion facility (hardest first), and every grade as CSV."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from sqlalchemy import func
from sqlmodel import Session, select

from sandbox.exams.reports import (
    Facility,
    HistogramLayout,
    PassRate,
    csv_header,
    csv_rows,
    histogram,
    histogram_layout,
)
from sandbox.exams.xapi import all_statements
from sandbox.questions.stats import item_statistics
from sandbox.storage.exams import Exam, ExamCandidate, exam_scenarios, exams_of_cohort
from sandbox.storage.jobs import Outcome
from sandbox.storage.peer_reviews import cohort_process
from sandbox.storage.questions import stat_papers, written_part
from sandbox.storage.report_figures import ServiceFigures, report_figures, service_figures
from sandbox.storage.standings import Standing, standings
from sandbox.storage.xapi import exam_records, sitting_records
from sandbox.web.deps import SessionDep, StateDep, ViewerDep, gate, require_proctor
from sandbox.web.i18n import N_, Translate
from sandbox.web.jobs import JobContext, Kind, register
from sandbox.web.jobs import start as start_job
from sandbox.web.lrs import LrsError, lrs_configured, push_statements
from sandbox.web.pagination import PageRequest
from sandbox.web.proctoring import ServiceDep, candidates_page, exam_or_404, page_helpers
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/proctor", tags=["proctor"], dependencies=gate(require_proctor))

#: Candidates read at a time while a grades CSV streams out.
CSV_BATCH = 500

BASE_COLUMNS = (
    "exam",
    "trainee",
    "practical",
    "written",
    "final",
    "band",
    "passed",
    "status",
    "retake",
)


@dataclass
class Report:
    title: str
    exams: list[Exam]
    rate: PassRate
    final_chart: HistogramLayout  # drawn by the `histogram` macro of _charts.html
    practical_chart: HistogramLayout
    facility: list[tuple[Facility, str]]  # with the scenario's title
    candidates: int


def _sorted_facility(items: list[Facility]) -> list[Facility]:
    return sorted(items, key=lambda f: (f.percent is None, f.percent or 0.0, f.criterion))


def build_report(
    *,
    t: Translate,
    state: AppState,
    session: Session,
    exams: list[Exam],
    title: str,
    now: datetime,
) -> Report:
    """The report's figures, counted by the database (storage/report_figures.py): neither
    the candidates nor their grades are read one by one."""
    figures = report_figures(session=session, exams=exams, now=now)
    target = exams[-1].exam_rules.pass_rate_target if exams else 90.0
    pass_line = exams[-1].exam_rules.practical_pass if exams else None
    rate = PassRate(figures.passed, figures.decided, target)
    descriptions: dict[str, str] = {}
    titles: dict[str, str] = {}
    for pack, scenario in state.library.scenarios():
        titles[f"{pack.id}/{scenario.id}"] = scenario.title
        for criterion in scenario.rubric.criteria:
            descriptions[f"{pack.id}/{scenario.id}#{criterion.id}"] = (
                criterion.description or criterion.id
            )
    shown = []
    for item in _sorted_facility(figures.facility):
        scenario_key = item.criterion.partition("#")[0]
        described = Facility(
            item.criterion,
            descriptions.get(item.criterion, item.criterion),
            item.met,
            item.applicable,
            item.kind,
        )
        shown.append((described, titles.get(scenario_key, scenario_key)))
    return Report(
        title=title,
        exams=exams,
        rate=rate,
        final_chart=histogram_layout(histogram(figures.finals)),
        practical_chart=histogram_layout(histogram(figures.practicals), pass_line),
        facility=shown,
        candidates=figures.candidates,
    )


def grade_rows(
    everyone: list[tuple[Exam, Standing]], state: AppState
) -> tuple[list[dict[str, Any]], list[str]]:
    """One CSV row per candidate per exam, with each scenario's counted score."""
    scenario_keys: list[str] = []
    rows = []
    for exam, s in everyone:
        result = s.final
        row: dict[str, Any] = {
            "exam": exam.name,
            "trainee": s.user.name,
            "practical": result.practical,
            "written": result.written,
            "final": result.final,
            "band": result.band,
            "passed": None if result.passed is None else ("yes" if result.passed else "no"),
            "status": result.status,
            "retake": s.state,
        }
        for key, score in s.scores.items():
            column = f"score {key}"
            if column not in scenario_keys:
                scenario_keys.append(column)
            row[column] = score
        rows.append(row)
    return rows, [*BASE_COLUMNS, *scenario_keys]


def service_summary(session: Session, exams: Sequence[Exam]) -> ServiceFigures:
    """Average FRT and AHT of the exams' graded conversations, and how many fall in each
    communication band, counted by the database."""
    return service_figures(session=session, exam_ids=[e.id for e in exams if e.id is not None])


def grade_csv_chunks(
    state: AppState, exam_ids: list[int], now: datetime
) -> Iterator[tuple[str, int, int]]:
    """Every candidate's grades in the exams as CSV text, a batch at a time: `CSV_BATCH`
    candidates are read, judged and written at a time, each batch in a transaction of its
    own, so neither memory nor the time to the first byte grows with the exams. Yields
    (text, candidates so far, candidates in all); the header comes first, with (0, total).
    Its columns are the base ones and a score per scenario of the exams, in their order."""
    with Session(state.engine) as session:
        keys: list[str] = []
        total = 0
        for exam_id in exam_ids:
            for row in exam_scenarios(session=session, exam_id=exam_id):
                if f"score {row.key}" not in keys:
                    keys.append(f"score {row.key}")
            counted = select(func.count()).select_from(ExamCandidate)
            total += int(session.exec(counted.where(ExamCandidate.exam_id == exam_id)).one())
    columns = [*BASE_COLUMNS, *keys]
    yield csv_header(columns), 0, total
    done = 0
    for exam_id in exam_ids:
        number, pages = 1, 1
        while number <= pages:
            with Session(state.engine) as session:
                exam = session.get(Exam, exam_id)
                if exam is None:  # deleted while the file was being written
                    break
                shown = candidates_page(session, exam, PageRequest(number), CSV_BATCH)
                found = standings(session=session, exam=exam, now=now, users=shown.items)
                rows, _ = grade_rows([(exam, s) for s in found], state)
            done += len(shown.items)
            yield csv_rows(rows, columns), done, max(total, done)
            number, pages = number + 1, shown.pages


def _csv_response(state: AppState, exam_ids: list[int], now: datetime, filename: str) -> Response:
    """Every candidate's grades in the exams, streamed (`grade_csv_chunks`)."""
    return StreamingResponse(
        (text for text, _, _ in grade_csv_chunks(state, exam_ids, now)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


#: A grades export's file name: what `_csv_response` names it, checked again by the job.
EXPORT_NAME = re.compile(r"^[a-z0-9-]{1,120}\.csv$")


def _check_export(params: dict[str, Any]) -> list[str]:
    ids = params.get("exam_ids")
    good_ids = (
        isinstance(ids, list)
        and bool(ids)
        and all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
    )
    name = params.get("filename")
    good_name = isinstance(name, str) and EXPORT_NAME.match(name) is not None
    return [] if good_ids and good_name else [N_("jobs.error.params")]


def _run_export(context: JobContext) -> Outcome:
    """The grades CSV of the exams, written a batch of candidates at a time, kept for
    download."""
    parts: list[str] = []
    rows = 0
    now = context.state.conversations.now()
    for text, done, total in grade_csv_chunks(context.state, context.params["exam_ids"], now):
        parts.append(text)
        rows = done
        context.progress(done, total)
    return Outcome(result={"rows": rows}, text="".join(parts), name=context.params["filename"])


EXPORT_GRADES = register(
    Kind("export.grades", N_("jobs.kind.export.grades"), _run_export, _check_export)
)


def _export_job(session: Session, viewer: Any, exam_ids: list[int], filename: str) -> Response:
    job = start_job(
        session=session,
        kind=EXPORT_GRADES.name,
        params={"exam_ids": exam_ids, "filename": filename},
        created_by=viewer.user.id,
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _statements(
    state: AppState, session: Session, exams: list[Exam], cohort: str | None = None
) -> list[dict[str, Any]]:
    """The exams' conversations, then their written parts, then (for a cohort) the quizzes
    its members took."""
    titles = {f"{pack.id}/{sc.id}": sc.title for pack, sc in state.library.scenarios()}
    records = exam_records(session=session, exams=exams, titles=titles)
    records += sitting_records(
        session=session, exams=exams, cohort=cohort, bank=state.questions.questions
    )
    return all_statements(records, state.settings.xapi_base)


def _xapi_response(statements: list[dict[str, Any]], filename: str) -> Response:
    return JSONResponse(
        statements,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


#: The page's status after a push: no store configured is the request's conflict with the
#: settings (409); a store that refused or could not be reached failed a dependency (424).
#: Never a 5xx: the product itself did not fail.
PUSH_STATUS = {"sent": 200, "no_store": 409, "store_failed": 424}


def _push(
    viewer: Any, state: AppState, statements: list[dict[str, Any]]
) -> tuple[tuple[str, bool], int]:
    """The notice to show after pushing (text, whether it went well) and the status."""
    if not lrs_configured(state.settings):
        return (viewer.t("report.xapi_no_lrs"), False), PUSH_STATUS["no_store"]
    try:
        sent = push_statements(state.settings, statements)
    except LrsError as error:
        notice = viewer.t("report.xapi_push_failed", problem=str(error))
        return (notice, False), PUSH_STATUS["store_failed"]
    return (viewer.t.tn("report.xapi_pushed", sent), True), PUSH_STATUS["sent"]


def _exam_report(
    exam: Exam,
    viewer: Any,
    state: AppState,
    session: Session,
    now: datetime,
    push_notice: tuple[str, bool] | None = None,
    status_code: int = 200,
) -> Response:
    assert exam.id is not None
    report = build_report(
        t=viewer.t, state=state, session=session, exams=[exam], title=exam.name, now=now
    )
    items = None
    if written_part(session, exam.id) is not None:
        items = item_statistics(stat_papers(session, exam.id, state.questions.questions))
    context = viewer.context(
        report=report,
        exam=exam,
        cohort=None,
        service=service_summary(session, [exam]),
        items=items,
        csv_url=f"/proctor/exams/{exam.id}/grades.csv",
        csv_job_url=f"/proctor/exams/{exam.id}/grades-job",
        xapi_url=f"/proctor/exams/{exam.id}/xapi.json",
        push_url=f"/proctor/exams/{exam.id}/xapi/push",
        lrs=lrs_configured(state.settings),
        push_notice=push_notice,
        **page_helpers(),
    )
    return render("report.html", context, status_code=status_code)


@router.get("/exams/{exam_id}/report")
def read_exam_report(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    """Pass rate, histograms and facility of one exam."""
    exam = exam_or_404(session, exam_id)
    return _exam_report(exam, viewer, state, session, service.now())


@router.get("/exams/{exam_id}/xapi.json")
def read_exam_xapi(exam_id: int, state: StateDep, session: SessionDep) -> Response:
    """Every attempt of the exam as xAPI statements (docs/exams.md)."""
    exam = exam_or_404(session, exam_id)
    return _xapi_response(_statements(state, session, [exam]), f"exam-{exam_id}-xapi.json")


@router.post("/exams/{exam_id}/xapi/push")
def push_exam_xapi(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    """Send the exam's statements to the configured learning record store."""
    exam = exam_or_404(session, exam_id)
    notice, status = _push(viewer, state, _statements(state, session, [exam]))
    return _exam_report(exam, viewer, state, session, service.now(), notice, status)


@router.get("/exams/{exam_id}/grades.csv")
def read_exam_grades(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    """Every candidate's grades in the exam, as CSV."""
    exam_or_404(session, exam_id)
    return _csv_response(state, [exam_id], service.now(), f"exam-{exam_id}-grades.csv")


@router.post("/exams/{exam_id}/grades-job")
def create_exam_grades_job(exam_id: int, viewer: ViewerDep, session: SessionDep) -> Response:
    """Write the exam's grades CSV in the background; its job page offers the file."""
    exam_or_404(session, exam_id)
    return _export_job(session, viewer, [exam_id], f"exam-{exam_id}-grades.csv")


def _cohort_exams(session: Session, cohort: str) -> list[Exam]:
    exams = exams_of_cohort(session=session, cohort=cohort)
    if not exams:
        raise HTTPException(status_code=404)
    return exams


def _cohort_report(
    cohort: str,
    exams: list[Exam],
    viewer: Any,
    state: AppState,
    session: Session,
    now: datetime,
    push_notice: tuple[str, bool] | None = None,
    status_code: int = 200,
) -> Response:
    report = build_report(
        t=viewer.t, state=state, session=session, exams=exams, title=cohort, now=now
    )
    context = viewer.context(
        report=report,
        exam=None,
        cohort=cohort,
        service=service_summary(session, exams),
        process=cohort_process(session, cohort),
        csv_url=f"/proctor/cohorts/{cohort}/grades.csv",
        csv_job_url=f"/proctor/cohorts/{cohort}/grades-job",
        xapi_url=f"/proctor/cohorts/{cohort}/xapi.json",
        push_url=f"/proctor/cohorts/{cohort}/xapi/push",
        lrs=lrs_configured(state.settings),
        push_notice=push_notice,
        **page_helpers(),
    )
    return render("report.html", context, status_code=status_code)


@router.get("/cohorts/{cohort}/report")
def read_cohort_report(
    cohort: str,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    """The same report over every exam of a cohort."""
    exams = _cohort_exams(session, cohort)
    return _cohort_report(cohort, exams, viewer, state, session, service.now())


@router.get("/cohorts/{cohort}/xapi.json")
def read_cohort_xapi(cohort: str, state: StateDep, session: SessionDep) -> Response:
    """Every attempt of every exam of the cohort as xAPI statements."""
    exams = _cohort_exams(session, cohort)
    return _xapi_response(_statements(state, session, exams, cohort), "cohort-xapi.json")


@router.post("/cohorts/{cohort}/xapi/push")
def push_cohort_xapi(
    cohort: str,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    """Send the cohort's statements to the configured learning record store."""
    exams = _cohort_exams(session, cohort)
    notice, status = _push(viewer, state, _statements(state, session, exams, cohort))
    return _cohort_report(cohort, exams, viewer, state, session, service.now(), notice, status)


@router.get("/cohorts/{cohort}/grades.csv")
def read_cohort_grades(
    cohort: str,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    """Every grade of every exam of a cohort, as CSV."""
    exams = _cohort_exams(session, cohort)
    ids = [exam.id for exam in exams if exam.id is not None]
    return _csv_response(state, ids, service.now(), "cohort-grades.csv")


@router.post("/cohorts/{cohort}/grades-job")
def create_cohort_grades_job(cohort: str, viewer: ViewerDep, session: SessionDep) -> Response:
    """Write the cohort's grades CSV in the background; its job page offers the file."""
    exams = _cohort_exams(session, cohort)
    ids = [exam.id for exam in exams if exam.id is not None]
    return _export_job(session, viewer, ids, "cohort-grades.csv")
