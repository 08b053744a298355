"""Service metrics (FRT, handling time) and the communication band: the pure functions,
then the feedback page and the history that show them."""

from __future__ import annotations

from collections.abc import Callable

from exam_support import COLD, FakeClock, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import GOOD, graded_attempt
from sqlmodel import Session
from test_web_exams import _graded

from sandbox.evaluator.service_metrics import (
    ServiceMetrics,
    band_of,
    clock_text,
    communication,
    mean,
    service_metrics,
)
from sandbox.storage.attempts import message_times
from sandbox.storage.models import AttemptMessage, User


def test_frt_and_handling_time_from_the_lines() -> None:
    lines = [("persona", 0.0), ("trainee", 7.5), ("persona", 8.0), ("trainee", 30.0)]
    assert service_metrics(lines) == ServiceMetrics(frt_s=7.5, aht_s=30.0)
    assert service_metrics([("persona", 0.0)]) == ServiceMetrics(None, None)
    assert service_metrics([]) == ServiceMetrics(None, None)
    assert clock_text(65.4) == "1:05" and clock_text(None) == "–"
    assert mean([10.0, None, 20.0]) == 15.0 and mean([None]) is None


def test_communication_grades_the_etiquette_criteria_in_four_bands() -> None:
    def grade(*statuses: tuple[str, str, int]) -> dict[str, object]:
        return {"criteria": [{"kind": k, "status": s, "weight": w} for k, s, w in statuses]}

    assert communication(grade(("etiquette", "met", 1), ("etiquette", "met", 1))) is not None
    found = communication(
        grade(("etiquette", "met", 3), ("etiquette", "missed", 1), ("inquiry", "missed", 5))
    )
    assert found is not None and found.score == 75.0 and found.band == "good"
    na = communication(grade(("etiquette", "met", 1), ("etiquette", "not_applicable", 4)))
    assert na is not None and na.band == "excellent"
    assert communication(grade(("inquiry", "met", 1))) is None
    assert communication(None) is None
    assert [band_of(s) for s in (90, 89.9, 70, 60, 59.9)] == [
        "excellent",
        "good",
        "good",
        "pass",
        "fail",
    ]


def test_feedback_and_history_show_the_metrics(
    app: FastAPI, browsers: Callable[[str], TestClient], people: dict[str, User]
) -> None:
    first = graded_attempt(app, "tao", GOOD, gap_s=12.0)
    graded_attempt(app, "tao", GOOD, gap_s=8.0)
    tao = browsers("tao")
    page = tao.get(f"/attempts/{first}/feedback").text
    assert 'id="frt">0:12<' in page
    with Session(app.state.sandbox.engine) as session:
        last_at = message_times(session=session, attempt_ids=[first])[first][-1][1]
    assert last_at >= 12.0 * len(GOOD)
    assert f'id="aht">{clock_text(last_at)}<' in page
    assert 'id="communication-band"' in page
    history = tao.get("/history").text
    assert '<td class="frt" data-label="FRT">0:10</td>' in history  # (12 + 8) / 2
    # The mentor reading the same feedback sees the same numbers.
    assert 'id="frt">0:12<' in browsers("mo").get(f"/attempts/{first}/feedback").text


def test_the_exam_report_shows_service_metrics(
    app: FastAPI, proctor: TestClient, clock: FakeClock, people: dict[str, User]
) -> None:
    exam_id = make_exam(proctor, clock, people)
    criteria = [
        {"id": "greet", "kind": "etiquette", "status": "met", "weight": 1, "evidence": []},
        {"id": "thank", "kind": "etiquette", "status": "missed", "weight": 1, "evidence": []},
    ]
    first = _graded(app, exam_id, people["tao"], COLD, 80, clock, criteria=criteria)
    _graded(app, exam_id, people["mei"], COLD, 95, clock, criteria=criteria[:1])
    with Session(app.state.sandbox.engine) as session:
        for seq, (role, at) in enumerate(
            [("persona", 0.0), ("trainee", 9.0), ("persona", 9.0), ("trainee", 75.0)]
        ):
            session.add(AttemptMessage(attempt_id=first, seq=seq, role=role, text="…", at=at))
        session.commit()
    page = proctor.get(f"/proctor/exams/{exam_id}/report").text
    assert "Over 2 graded conversations" in page
    assert 'id="report-frt">0:09<' in page and 'id="report-aht">1:15<' in page
    communication_line = page[page.index('id="report-communication"') :].split("</p>")[0]
    assert "Excellent 1" in communication_line and "Fail 1" in communication_line
