"""Reports for an exam or a cohort: pass rate against the target, score histograms,
per-criterion facility (hardest first), and every grade as CSV."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from sqlmodel import Session, col, select

from sandbox.evaluator.service_metrics import communication, mean, service_metrics
from sandbox.exams.reports import (
    Facility,
    HistogramLayout,
    PassRate,
    facility,
    grades_csv,
    histogram,
    histogram_layout,
    pass_rate,
)
from sandbox.exams.xapi import GradedConversation, statements
from sandbox.storage.attempts import message_times
from sandbox.storage.exams import Exam, exams_of_cohort
from sandbox.storage.models import Attempt, User
from sandbox.storage.standings import Standing, standings
from sandbox.web.deps import SessionDep, StateDep, ViewerDep, gate, require_proctor
from sandbox.web.i18n import Translate
from sandbox.web.proctoring import ServiceDep, exam_or_404, page_helpers
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/proctor", tags=["proctor"], dependencies=gate(require_proctor))

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


@dataclass(frozen=True)
class ServiceSummary:
    """The service metrics of the exams' graded conversations (docs/programme.md)."""

    conversations: int
    frt_s: float | None
    aht_s: float | None
    bands: dict[str, int]


def service_summary(session: Session, exams: Sequence[Exam]) -> ServiceSummary:
    """Average FRT and AHT of the exams' graded conversations, and how many fall in each
    communication band."""
    ids = [exam.id for exam in exams if exam.id is not None]
    attempts = session.exec(
        select(Attempt).where(
            col(Attempt.exam_id).in_(ids),
            col(Attempt.graded_at).is_not(None),
            col(Attempt.over_limit).is_(False),
        )
    ).all()
    times = message_times(session=session, attempt_ids=[a.id for a in attempts if a.id])
    metrics = [service_metrics(times.get(a.id or 0, [])) for a in attempts]
    bands = {name: 0 for name in ("excellent", "good", "pass", "fail")}
    for attempt in attempts:
        found = communication(attempt.grade)
        if found is not None:
            bands[found.band] += 1
    return ServiceSummary(
        len(attempts),
        mean(m.frt_s for m in metrics),
        mean(m.aht_s for m in metrics),
        bands,
    )


def _csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
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
    context = viewer.context(
        report=report,
        exam=exam,
        cohort=None,
        service=service_summary(session, [exam]),
        csv_url=f"/proctor/exams/{exam_id}/grades.csv",
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
    exam = exam_or_404(session, exam_id)
    _, everyone = build_report(
        t=viewer.t, state=state, session=session, exams=[exam], title=exam.name, now=service.now()
    )
    rows, columns = grade_rows(everyone, state)
    return _csv_response(grades_csv(rows, columns), f"exam-{exam_id}-grades.csv")


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
        service=service_summary(session, exams),
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
    _, everyone = build_report(
        t=viewer.t, state=state, session=session, exams=exams, title=cohort, now=service.now()
    )
    rows, columns = grade_rows(everyone, state)
    return _csv_response(grades_csv(rows, columns), "cohort-grades.csv")


@router.get("/exams/{exam_id}/xapi.json")
def read_exam_xapi(
    exam_id: int, request: Request, state: StateDep, session: SessionDep
) -> Response:
    """The exam's graded conversations as xAPI statements (exams/xapi.py), a download."""
    exam = exam_or_404(session, exam_id)
    attempts = session.exec(
        select(Attempt, User.name)
        .join(User, col(User.id) == col(Attempt.user_id))
        .where(
            Attempt.exam_id == exam_id,
            col(Attempt.graded_at).is_not(None),
            col(Attempt.over_limit).is_(False),
        )
        .order_by(col(Attempt.id))
    ).all()
    titles = {(p.id, s.id): s.title for p, s in state.library.scenarios()}
    graded = [
        GradedConversation(
            attempt_id=a.id or 0,
            trainee=name,
            exam_id=exam_id,
            exam_name=exam.name,
            pack_id=a.pack_id,
            scenario_id=a.scenario_id,
            scenario_title=titles.get((a.pack_id, a.scenario_id), a.scenario_id),
            started_at=_utc(a.started_at),
            ended_at=_utc(a.ended_at or a.started_at),
            score=a.score or 0.0,
            passed=bool(a.passed),
            criteria=(a.grade or {}).get("criteria", []),
        )
        for a, name in attempts
    ]
    home = str(request.base_url).rstrip("/")
    body = json.dumps(statements(graded, home), ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-xapi.json"'},
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
