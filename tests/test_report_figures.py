"""The report's figures counted by the database (storage/report_figures.py) equal what the
report computed before, judging every candidate in Python: on a varied exam and a cohort of
two exams, at moments inside the window, after the close and after the retakes expired.
SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from sandbox.evaluator.scoring import DEFAULT_BANDS, score_verdicts, verdicts_from_record
from sandbox.evaluator.service_metrics import communication, mean, service_metrics
from sandbox.exams.policy import ExamRules
from sandbox.exams.reports import facility, histogram, pass_rate
from sandbox.storage.attempts import message_times, store_grade
from sandbox.storage.exams import Exam, ExamRetake, create_exam, set_written_score
from sandbox.storage.models import Attempt, AttemptMessage, Mode, Role, Speaker, User
from sandbox.storage.report_figures import report_figures, service_figures
from sandbox.storage.reviews import override_criterion
from sandbox.storage.standings import standings

pytestmark = pytest.mark.backends("sqlite", "postgres")

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCENARIOS = [("pack-a", "one"), ("pack-a", "two"), ("pack-b", "three")]
#: (id, kind, weight or penalty, critical)
RUBRIC = [
    ("greet", "etiquette", 1, False),
    ("ask-allergies", "required", 2, True),
    ("warn", "required", 3, False),
    ("thanks", "etiquette", 2, False),
    ("no-promise", "forbidden", 20, True),
    ("no-price", "forbidden", 5, False),
]
STATUSES = {
    "etiquette": ("met", "missed", "not_applicable"),
    "required": ("met", "missed", "missed", "not_applicable"),
    "forbidden": ("clear", "clear", "violated", "not_applicable"),
}


def record_of(scenario: str, rng: random.Random) -> dict[str, Any]:
    """A grade record as grading stores one, with random statuses and its true score."""
    criteria = []
    for criterion_id, kind, amount, critical in RUBRIC:
        entry: dict[str, Any] = {
            "id": criterion_id,
            "kind": kind,
            "status": rng.choice(STATUSES[kind]),
            "critical": critical,
            "evidence": [],
        }
        entry["penalty" if kind == "forbidden" else "weight"] = amount
        if rng.random() < 0.15:
            entry["review"] = {"reason": "near_miss", "message": "unsure"}
        criteria.append(entry)
    record: dict[str, Any] = {"scenario": scenario, "criteria": criteria, "pass_mark": 70.0}
    outcome = score_verdicts(verdicts_from_record(record), 70.0, DEFAULT_BANDS)
    record.update(
        score=outcome.score,
        band=outcome.band,
        passed=outcome.passed,
        critical_missed=outcome.critical_missed,
        critical_violated=outcome.critical_violated,
        ignored_messages=[],
    )
    return record


def seed(session: Session, rng: random.Random, name: str, size: int) -> Exam:
    """An exam of `size` candidates: absent ones, open conversations, two attempts at a
    scenario (ties too), attempts outside the exam's scenarios, written scores with awkward
    decimals, overrides, retakes with their own attempts."""
    staff = User(name=f"{name}-proctor", role=Role.PROCTOR, password_hash="-")
    people = [
        User(name=f"{name}-c{i:03d}", role=Role.TRAINEE, password_hash="-") for i in range(size)
    ]
    session.add_all([staff, *people])
    session.flush()
    rules = ExamRules(attempts_allowed=2, written_weight=0.3, practical_weight=0.7)
    exam = create_exam(
        session=session,
        name=name,
        time_limit_s=600,
        opens_at=START,
        closes_at=START + timedelta(days=1),
        rules=rules,
        scenarios=SCENARIOS,
        candidate_ids=[p.id for p in people if p.id is not None],
        cohort="cohort-x",
        created_by=staff.id,
    )
    session.flush()
    assert exam.id is not None
    for n, person in enumerate(people):
        assert person.id is not None
        if n % 11 == 5:
            continue  # never came
        attempts = 0
        left_open = False
        for pack_id, scenario_id in [*SCENARIOS, ("pack-z", "elsewhere")]:
            for retake in (False, True):
                if retake and n % 4 != 1:
                    continue
                tries = 2 if rng.random() < 0.3 else (0 if rng.random() < 0.15 else 1)
                for _ in range(tries):
                    attempts += 1
                    key = f"{pack_id}/{scenario_id}"
                    started = START + timedelta(minutes=attempts * 7 + n)
                    over_limit = rng.random() < 0.03
                    # Still open: one a candidate at most, as the database keeps it.
                    stays_open = not left_open and not over_limit and rng.random() < 0.08
                    left_open = left_open or stays_open
                    attempt = Attempt(
                        user_id=person.id,
                        pack_id=pack_id,
                        pack_version=1,
                        scenario_id=scenario_id,
                        mode=Mode.EXAM,
                        time_limit_s=600,
                        started_at=started,
                        exam_id=exam.id,
                        retake=retake,
                        over_limit=over_limit,
                        ended_at=None if stays_open else started + timedelta(minutes=5),
                        end_reason=None if stays_open else "finished",
                    )
                    session.add(attempt)
                    session.flush()
                    assert attempt.id is not None
                    lines = rng.randint(0, 5)
                    at = 0.0
                    for seq in range(lines + 1):
                        role = (
                            Speaker.PERSONA if seq == 0 or rng.random() < 0.4 else Speaker.TRAINEE
                        )
                        session.add(
                            AttemptMessage(
                                attempt_id=attempt.id, seq=seq, role=role, text="-", at=at
                            )
                        )
                        at += rng.choice((0.5, 3.25, 11.0, 42.7))
                    if stays_open:
                        continue
                    record = record_of(key, rng)
                    if rng.random() < 0.1 and attempts > 1:
                        record["score"] = 70.0  # ties between attempts
                    store_grade(session=session, attempt=attempt, grade=record)
                    if rng.random() < 0.15:
                        criterion_id, kind, _, _ = rng.choice(RUBRIC)
                        choices = [s for s in STATUSES[kind] if s != "not_applicable"]
                        override_criterion(
                            session=session,
                            attempt=attempt,
                            author=staff,
                            criterion_id=criterion_id,
                            status=rng.choice(choices),
                            reason="second look",
                        )
        if n % 3 != 2:
            written = rng.choice((59.5, 60.0, 66.66666666666667, 72.25, 81.35, 95.0, 100.0))
            set_written_score(
                session=session,
                exam_id=exam.id,
                user_id=person.id,
                score=written,
                entered_by=staff.id,
                at=START + timedelta(hours=3),
            )
        if n % 4 == 1:
            session.add(
                ExamRetake(
                    exam_id=exam.id,
                    user_id=person.id,
                    scenarios=[f"{p}/{s}" for p, s in SCENARIOS[: 1 + n % 3]],
                    written=n % 8 == 1,
                    granted_by=staff.id,
                    expires_at=START + timedelta(days=5),
                )
            )
            if n % 8 == 1:
                set_written_score(
                    session=session,
                    exam_id=exam.id,
                    user_id=person.id,
                    score=rng.choice((55.0, 64.4, 88.8)),
                    entered_by=staff.id,
                    retake=True,
                    at=START + timedelta(days=2),
                )
    session.commit()
    return exam


def old_figures(session: Session, exams: Sequence[Exam], now: datetime) -> dict[str, Any]:
    """The report's figures as `build_report` computed them before: every candidate judged."""
    everyone = [s for exam in exams for s in standings(session=session, exam=exam, now=now)]
    records = [
        {"scenario": f"{a.pack_id}/{a.scenario_id}", "criteria": a.grade.get("criteria", [])}
        for a in (p.best for s in everyone for p in s.first)
        if a is not None and a.grade
    ]
    return {
        "rate": pass_rate([s.final.passed for s in everyone], 90),
        "finals": sorted(s.final.final for s in everyone if s.final.final is not None),
        "practicals": sorted(s.final.practical for s in everyone if s.final.practical is not None),
        "facility": sorted((f.criterion, f.met, f.applicable, f.kind) for f in facility(records)),
        "candidates": len(everyone),
    }


def old_service(session: Session, exams: Sequence[Exam]) -> dict[str, Any]:
    """The service summary as it was computed: every graded conversation read."""
    ids = [exam.id for exam in exams]
    found = session.exec(select(Attempt).where(col(Attempt.exam_id).in_(ids))).all()
    attempts = [a for a in found if a.graded_at is not None and not a.over_limit]
    times = message_times(session=session, attempt_ids=[a.id for a in attempts if a.id])
    metrics = [service_metrics(times.get(a.id or 0, [])) for a in attempts]
    bands = {name: 0 for name in ("excellent", "good", "pass", "fail")}
    for attempt in attempts:
        found = communication(attempt.grade)
        if found is not None:
            bands[found.band] += 1
    return {
        "conversations": len(attempts),
        "frt": mean(m.frt_s for m in metrics),
        "aht": mean(m.aht_s for m in metrics),
        "bands": bands,
    }


def same_time(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    )


MOMENTS = {
    "open": START + timedelta(hours=6),
    "closed": START + timedelta(days=2),
    "retakes over": START + timedelta(days=9),
}


@pytest.mark.parametrize("seed_value", [7, 2026])
def test_the_figures_equal_judging_every_candidate(engine: Engine, seed_value: int) -> None:
    rng = random.Random(seed_value)
    with Session(engine) as session:
        first = seed(session, rng, f"e{seed_value}", 44)
        second = seed(session, rng, f"f{seed_value}", 23)
        for moment, now in MOMENTS.items():
            for exams in ([first], [first, second]):
                old = old_figures(session, exams, now)
                new = report_figures(session=session, exams=exams, now=now)
                label = f"{moment}, {len(exams)} exam(s)"
                assert (
                    pass_rate([True] * new.passed + [False] * (new.decided - new.passed), 90)
                    == (old["rate"])
                ), label
                assert sorted(new.finals) == old["finals"], label
                assert sorted(new.practicals) == old["practicals"], label
                assert histogram(new.finals) == histogram(old["finals"]), label
                facility_rows = sorted(
                    (f.criterion, f.met, f.applicable, f.kind) for f in new.facility
                )
                assert facility_rows == old["facility"], label
                assert new.candidates == old["candidates"], label
                # The seeds reach every branch: decided, pending, retaken.
                assert 0 < old["rate"].passed < old["rate"].total < old["candidates"], label
        for exams in ([first], [first, second]):
            old_s = old_service(session, exams)
            new_s = service_figures(session=session, exam_ids=[e.id or 0 for e in exams])
            assert new_s.conversations == old_s["conversations"]
            assert new_s.bands == old_s["bands"] and sum(new_s.bands.values()) > 0
            assert same_time(new_s.frt_s, old_s["frt"]) and new_s.frt_s is not None
            assert same_time(new_s.aht_s, old_s["aht"])


def test_an_exam_without_attempts_has_empty_figures(engine: Engine) -> None:
    with Session(engine) as session:
        exam = seed(session, random.Random(1), "empty", 0)
        new = report_figures(session=session, exams=[exam], now=MOMENTS["closed"])
        assert (new.candidates, new.passed, new.decided, new.finals, new.facility) == (
            0,
            0,
            0,
            [],
            [],
        )
        service = service_figures(session=session, exam_ids=[exam.id or 0])
        assert (service.conversations, service.frt_s, service.aht_s) == (0, None, None)
