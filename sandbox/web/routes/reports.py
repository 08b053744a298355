"""Reports for an exam or a cohort: pass rate against the target, score histograms,
per-criterion facility (hardest first), and every grade as CSV."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from sandbox.exams.reports import (
    Facility,
    HistogramLayout,
    PassRate,
    csv_header,
    csv_rows,
    facility,
    histogram,
    histogram_layout,
    pass_rate,
)
from sandbox.questions.stats import item_statistics
from sandbox.storage.exams import Exam, exam_scenarios, exams_of_cohort
from sandbox.storage.questions import stat_papers, written_part
from sandbox.storage.standings import Standing, standings
from sandbox.web.deps import SessionDep, StateDep, ViewerDep, gate, require_proctor
from sandbox.web.i18n import Translate
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


def _records(found: Sequence[Standing]) -> list[dict[str, Any]]:
    """The grade of each candidate's counted attempt per scenario (first sitting). A stored
    grade holds the statuses in force, overrides included (`evaluator.records`)."""
    return [
        {"scenario": f"{a.pack_id}/{a.scenario_id}", "criteria": a.grade.get("criteria", [])}
        for a in (p.best for s in found for p in s.first)
        if a is not None and a.grade
    ]


def build_report(
    *,
    t: Translate,
    state: AppState,
    session: Session,
    exams: list[Exam],
    title: str,
    now: datetime,
) -> tuple[Report, list[tuple[Exam, Standing]]]:
    everyone = [(exam, s) for exam in exams for s in standings(session=session, exam=exam, now=now)]
    target = exams[-1].exam_rules.pass_rate_target if exams else 90.0
    pass_line = exams[-1].exam_rules.practical_pass if exams else None
    rate = pass_rate([s.final.passed for _, s in everyone], target)
    finals = [s.final.final for _, s in everyone if s.final.final is not None]
    practicals = [s.final.practical for _, s in everyone if s.final.practical is not None]
    descriptions: dict[str, str] = {}
    titles: dict[str, str] = {}
    for pack, scenario in state.library.scenarios():
        titles[f"{pack.id}/{scenario.id}"] = scenario.title
        for criterion in scenario.rubric.criteria:
            descriptions[f"{pack.id}/{scenario.id}#{criterion.id}"] = (
                criterion.description or criterion.id
            )
    items = _sorted_facility(facility(_records([s for _, s in everyone])))
    shown = []
    for item in items:
        scenario_key = item.criterion.partition("#")[0]
        described = Facility(
            item.criterion,
            descriptions.get(item.criterion, item.criterion),
            item.met,
            item.applicable,
        )
        shown.append((described, titles.get(scenario_key, scenario_key)))
    report = Report(
        title=title,
        exams=exams,
        rate=rate,
        final_chart=histogram_layout(histogram(finals)),
        practical_chart=histogram_layout(histogram(practicals), pass_line),
        facility=shown,
        candidates=len(everyone),
    )
    return report, everyone


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


def _csv_response(state: AppState, exam_ids: list[int], now: datetime, filename: str) -> Response:
    """Every candidate's grades in the exams, streamed: `CSV_BATCH` candidates are read,
    judged and written at a time, each batch in a transaction of its own, so neither memory
    nor the time to the first byte grows with the exams. Its columns are the base ones and
    a score per scenario of the exams, in their order."""

    def lines() -> Iterator[str]:
        with Session(state.engine) as session:
            keys: list[str] = []
            for exam_id in exam_ids:
                for row in exam_scenarios(session=session, exam_id=exam_id):
                    if f"score {row.key}" not in keys:
                        keys.append(f"score {row.key}")
        columns = [*BASE_COLUMNS, *keys]
        yield csv_header(columns)
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
                yield csv_rows(rows, columns)
                number, pages = number + 1, shown.pages

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


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
    report, _ = build_report(
        t=viewer.t, state=state, session=session, exams=[exam], title=exam.name, now=service.now()
    )
    items = None
    if written_part(session, exam_id) is not None:
        items = item_statistics(stat_papers(session, exam_id, state.questions.questions))
    context = viewer.context(
        report=report,
        exam=exam,
        cohort=None,
        csv_url=f"/proctor/exams/{exam_id}/grades.csv",
        items=items,
        **page_helpers(),
    )
    return render("report.html", context)


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


def _cohort_exams(session: Session, cohort: str) -> list[Exam]:
    exams = exams_of_cohort(session=session, cohort=cohort)
    if not exams:
        raise HTTPException(status_code=404)
    return exams


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
    report, _ = build_report(
        t=viewer.t, state=state, session=session, exams=exams, title=cohort, now=service.now()
    )
    context = viewer.context(
        report=report,
        exam=None,
        cohort=cohort,
        csv_url=f"/proctor/cohorts/{cohort}/grades.csv",
        **page_helpers(),
    )
    return render("report.html", context)


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
