"""The figures of an exam or cohort report, counted by the database: pass rate, the final and
practical scores to draw as histograms, per-criterion facility and the service summary.

The report used to judge every candidate in Python (their rows read, `exams.standings`
applied) and to read every counted grade's JSON; at thousands of candidates that was most
of the page's time. Here GROUP BY queries over `attempts` and `criterion_verdicts` give:

- per candidate, the best first-sitting score of each exam scenario summed in tenths, how
  many scenarios have one, whether a conversation is still open, and the written score;
  candidates with the same figures are counted together, and each distinct set of figures
  is combined by the exam's own rules (`exams.policy.exam_result`), so the rules stay
  written once. A practical mean rounds exactly as `round_half_up` does, in integers.
- candidates who were granted a retake (few: only failures are) are judged as before, by
  their standings (`storage.standings`), since their result mixes two sittings;
- facility from the verdicts of each candidate's counted attempt (the best of the first
  sitting, ties to the earliest), as `exams.reports.facility` counts it;
- the communication bands from the etiquette verdicts, and the mean first response and
  handling times from the conversations' messages.

`tests/test_report_figures.py` checks every figure against the old computation on a varied
exam (retakes, open conversations, absent candidates, overrides, a closed window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, not_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from sandbox.evaluator.service_metrics import band_of as communication_band
from sandbox.exams.policy import exam_result
from sandbox.exams.reports import Facility
from sandbox.storage.exams import (
    Exam,
    ExamCandidate,
    ExamRetake,
    ExamScenario,
    WrittenScore,
    candidates,
)
from sandbox.storage.models import Attempt, AttemptMessage, Mode, Speaker
from sandbox.storage.standings import standings
from sandbox.storage.verdicts import GOOD_STATUSES, NOT_APPLICABLE, CriterionVerdict


@dataclass
class Figures:
    """What a report shows, for one exam or several added together."""

    candidates: int = 0
    passed: int = 0
    decided: int = 0
    finals: list[float] = field(default_factory=list)  # one per candidate with a final
    practicals: list[float] = field(default_factory=list)
    facility: list[Facility] = field(default_factory=list)  # not sorted


def report_figures(*, session: Session, exams: Sequence[Exam], now: datetime) -> Figures:
    """The figures of `exams` (one exam, or a cohort's) at `now`."""
    found = Figures()
    for exam in exams:
        _add_results(session, exam, now, found)
    found.facility = facility(session=session, exam_ids=[e.id for e in exams if e.id])
    return found


def _add_results(session: Session, exam: Exam, now: datetime, found: Figures) -> None:
    assert exam.id is not None
    rules = exam.exam_rules
    scenario_count = int(
        session.exec(
            select(func.count()).select_from(ExamScenario).where(ExamScenario.exam_id == exam.id)
        ).one()
    )
    found.candidates += int(
        session.exec(
            select(func.count()).select_from(ExamCandidate).where(ExamCandidate.exam_id == exam.id)
        ).one()
    )
    closed = now >= exam.closes_at
    retaken = select(ExamRetake.user_id).where(ExamRetake.exam_id == exam.id)
    # The best first-sitting score of each exam scenario per candidate, and open ones.
    per_scenario = (
        select(
            col(Attempt.user_id).label("user_id"),
            func.max(Attempt.score).label("best"),
            func.sum(case((col(Attempt.ended_at).is_(None), 1), else_=0)).label("open"),
        )
        .join(
            ExamScenario,
            and_(
                col(ExamScenario.exam_id) == col(Attempt.exam_id),
                col(ExamScenario.pack_id) == col(Attempt.pack_id),
                col(ExamScenario.scenario_id) == col(Attempt.scenario_id),
            ),
        )
        .where(
            col(Attempt.exam_id) == exam.id,
            col(Attempt.mode) == Mode.EXAM,
            col(Attempt.retake).is_(False),
        )
        .group_by(col(Attempt.user_id), col(Attempt.pack_id), col(Attempt.scenario_id))
        .subquery()
    )
    tenths = cast(func.round(per_scenario.c.best * 10), Integer)
    per_candidate = (
        select(
            per_scenario.c.user_id,
            func.count(per_scenario.c.best).label("scored"),
            func.coalesce(func.sum(tenths), 0).label("tenths"),
            func.sum(per_scenario.c.open).label("open"),
        )
        .group_by(per_scenario.c.user_id)
        .subquery()
    )
    scored = func.coalesce(per_candidate.c.scored, 0)
    summed = func.coalesce(per_candidate.c.tenths, 0)
    is_open = case((func.coalesce(per_candidate.c.open, 0) > 0, 1), else_=0)
    groups = session.execute(
        select_columns(scored, summed, is_open, col(WrittenScore.score), func.count())
        .select_from(ExamCandidate)
        .outerjoin(per_candidate, per_candidate.c.user_id == col(ExamCandidate.user_id))
        .outerjoin(
            WrittenScore,
            and_(
                col(WrittenScore.exam_id) == col(ExamCandidate.exam_id),
                col(WrittenScore.user_id) == col(ExamCandidate.user_id),
                col(WrittenScore.retake).is_(False),
            ),
        )
        .where(
            col(ExamCandidate.exam_id) == exam.id,
            not_(col(ExamCandidate.user_id).in_(retaken)),
        )
        .group_by(scored, summed, is_open, col(WrittenScore.score))
    ).all()
    for n_scored, total_tenths, any_open, written, count in groups:
        complete = scenario_count > 0 and (
            int(n_scored) >= scenario_count or (closed and not any_open)
        )
        practical: list[float] = []
        if complete:
            # round_half_up of the mean, in tenths: floor(sum / n + 1/2).
            mean_tenths = (2 * int(total_tenths) + scenario_count) // (2 * scenario_count)
            practical = [mean_tenths / 10]
        result = exam_result(practical, None if written is None else float(written), rules, 1)
        _count(found, result.passed, result.final, result.practical, int(count))
    ids = list(session.exec(retaken).all())
    if ids:
        users = candidates(session=session, exam_id=exam.id, user_ids=ids)
        for standing in standings(session=session, exam=exam, now=now, users=users):
            final = standing.final
            _count(found, final.passed, final.final, final.practical, 1)


def _count(
    found: Figures,
    passed: bool | None,
    final: float | None,
    practical: float | None,
    count: int,
) -> None:
    if passed is not None:
        found.decided += count
        found.passed += count if passed else 0
    if final is not None:
        found.finals.extend([final] * count)
    if practical is not None:
        found.practicals.extend([practical] * count)


def counted_attempts(exam_ids: Sequence[int]) -> Any:
    """The attempt that counts per candidate and exam scenario in the first sitting: the
    best graded one, the earliest stored of equal scores (`ScenarioProgress.best`)."""
    ranked = (
        select(
            col(Attempt.id).label("attempt_id"),
            col(Attempt.pack_id).label("pack_id"),
            col(Attempt.scenario_id).label("scenario_id"),
            func.row_number()
            .over(
                partition_by=(
                    col(Attempt.exam_id),
                    col(Attempt.user_id),
                    col(Attempt.pack_id),
                    col(Attempt.scenario_id),
                ),
                order_by=(col(Attempt.score).desc(), col(Attempt.id).asc()),
            )
            .label("rank"),
        )
        .join(
            ExamCandidate,
            and_(
                col(ExamCandidate.exam_id) == col(Attempt.exam_id),
                col(ExamCandidate.user_id) == col(Attempt.user_id),
            ),
        )
        .join(
            ExamScenario,
            and_(
                col(ExamScenario.exam_id) == col(Attempt.exam_id),
                col(ExamScenario.pack_id) == col(Attempt.pack_id),
                col(ExamScenario.scenario_id) == col(Attempt.scenario_id),
            ),
        )
        .where(
            col(Attempt.exam_id).in_(list(exam_ids)),
            col(Attempt.mode) == Mode.EXAM,
            col(Attempt.retake).is_(False),
            col(Attempt.score).is_not(None),
        )
        .subquery()
    )
    return select(ranked.c.attempt_id, ranked.c.pack_id, ranked.c.scenario_id).where(
        ranked.c.rank == 1
    )


def facility(*, session: Session, exam_ids: Sequence[int]) -> list[Facility]:
    """Per criterion of the exams' scenarios, how many counted attempts met it (a forbidden
    one: kept clear of it) of those where it applied; criteria are keyed PACK/SCENARIO#ID,
    described by the caller."""
    if not exam_ids:
        return []
    counted = counted_attempts(exam_ids).subquery()
    applicable = func.sum(case((col(CriterionVerdict.status) != NOT_APPLICABLE, 1), else_=0))
    met = func.sum(case((col(CriterionVerdict.status).in_(GOOD_STATUSES), 1), else_=0))
    rows = session.execute(
        select_columns(
            counted.c.pack_id,
            counted.c.scenario_id,
            col(CriterionVerdict.criterion_id),
            met,
            applicable,
            func.min(CriterionVerdict.kind),
        )
        .join(CriterionVerdict, col(CriterionVerdict.attempt_id) == counted.c.attempt_id)
        .group_by(counted.c.pack_id, counted.c.scenario_id, col(CriterionVerdict.criterion_id))
    ).all()
    return [
        Facility(f"{pack}/{scenario}#{criterion}", None, int(m), int(a), kind or None)
        for pack, scenario, criterion, m, a, kind in rows
    ]


# --- the service summary ------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFigures:
    """The service metrics of the exams' graded conversations (docs/programme.md)."""

    conversations: int
    frt_s: float | None
    aht_s: float | None
    bands: dict[str, int]


def _graded(exam_ids: Sequence[int]) -> Any:
    return and_(
        col(Attempt.exam_id).in_(list(exam_ids)),
        col(Attempt.graded_at).is_not(None),
        col(Attempt.over_limit).is_(False),
    )


def service_figures(*, session: Session, exam_ids: Sequence[int]) -> ServiceFigures:
    """Mean first response and handling time of the exams' graded conversations, and how
    many fall in each communication band (`evaluator.service_metrics`), counted by SQL."""
    ids = list(exam_ids)
    conversations = int(
        session.exec(select(func.count()).select_from(Attempt).where(_graded(ids))).one()
    )
    bands = {name: 0 for name in ("excellent", "good", "pass", "fail")}
    etiquette = and_(
        col(CriterionVerdict.kind) == "etiquette", col(CriterionVerdict.status) != NOT_APPLICABLE
    )
    weight = func.coalesce(col(CriterionVerdict.points), 1)
    per_attempt = (
        select(
            func.sum(case((col(CriterionVerdict.status) == "met", weight), else_=0)).label("met"),
            func.sum(weight).label("total"),
        )
        .join(Attempt, col(Attempt.id) == col(CriterionVerdict.attempt_id))
        .where(_graded(ids), etiquette)
        .group_by(col(CriterionVerdict.attempt_id))
        .subquery()
    )
    for met, total, count in session.exec(
        select(per_attempt.c.met, per_attempt.c.total, func.count()).group_by(
            per_attempt.c.met, per_attempt.c.total
        )
    ).all():
        if float(total) > 0:
            score = round(100.0 * float(met) / float(total), 1)
            bands[communication_band(score)] += int(count)
    frt_s, aht_s = _times(session, ids)
    return ServiceFigures(conversations, frt_s, aht_s, bands)


def _times(session: Session, exam_ids: list[int]) -> tuple[float | None, float | None]:
    """Mean FRT and AHT: from each conversation's opening (seq 0), its first trainee line
    and its last line (`service_metrics`), summed by the database."""
    per_attempt = (
        select(
            col(AttemptMessage.attempt_id).label("attempt_id"),
            func.max(AttemptMessage.seq).label("last_seq"),
            func.min(
                case(
                    (
                        and_(
                            col(AttemptMessage.role) == Speaker.TRAINEE,
                            col(AttemptMessage.seq) > 0,
                        ),
                        col(AttemptMessage.seq),
                    )
                )
            ).label("first_seq"),
        )
        .join(Attempt, col(Attempt.id) == col(AttemptMessage.attempt_id))
        .where(_graded(exam_ids))
        .group_by(col(AttemptMessage.attempt_id))
        .subquery()
    )
    opening = AttemptMessage.__table__.alias("opening")  # type: ignore[attr-defined]
    first = AttemptMessage.__table__.alias("first_line")  # type: ignore[attr-defined]
    last = AttemptMessage.__table__.alias("last_line")  # type: ignore[attr-defined]
    frt: Any = func.max(first.c.at - opening.c.at, literal(0.0))  # SQLite's scalar max
    aht: Any = func.max(last.c.at - opening.c.at, literal(0.0))
    if session.get_bind().dialect.name == "postgresql":
        frt = func.greatest(first.c.at - opening.c.at, literal(0.0))
        aht = func.greatest(last.c.at - opening.c.at, literal(0.0))
    row = session.exec(
        select(func.sum(frt), func.sum(aht), func.count())
        .select_from(per_attempt)
        .join(
            opening,
            and_(opening.c.attempt_id == per_attempt.c.attempt_id, opening.c.seq == 0),
        )
        .join(
            first,
            and_(
                first.c.attempt_id == per_attempt.c.attempt_id,
                first.c.seq == per_attempt.c.first_seq,
            ),
        )
        .join(
            last,
            and_(
                last.c.attempt_id == per_attempt.c.attempt_id, last.c.seq == per_attempt.c.last_seq
            ),
        )
    ).one()
    total_frt, total_aht, count = row
    if not count:
        return None, None
    return float(total_frt) / int(count), float(total_aht) / int(count)
