"""Service metrics (FRT, handling time) and the communication band: the pure functions,
then the feedback page and the history that show them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import GOOD, graded_attempt
from sqlmodel import Session

from sandbox.evaluator.service_metrics import (
    ServiceMetrics,
    band_of,
    clock_text,
    communication,
    mean,
    service_metrics,
)
from sandbox.storage.attempts import message_times
from sandbox.storage.models import User


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
    assert '<td class="frt">0:10</td>' in history  # (12 + 8) / 2
    # The mentor reading the same feedback sees the same numbers.
    assert 'id="frt">0:12<' in browsers("mo").get(f"/attempts/{first}/feedback").text
