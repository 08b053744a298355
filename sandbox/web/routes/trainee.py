"""The trainee's pages: catalogue, brief, chat, feedback, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from sandbox import access
from sandbox.conversations import live
from sandbox.evaluator.service_metrics import (
    ServiceMetrics,
    communication,
    mean,
    service_metrics,
)
from sandbox.exams.process import WEIGHTS as PROCESS_WEIGHTS
from sandbox.scenarios.catalogue import matches_search, practised, trade_of
from sandbox.scenarios.models import Pack, Scenario
from sandbox.storage.assignments import progress_for
from sandbox.storage.attempts import (
    end_attempt,
    graded_attempts,
    list_messages,
    message_times,
    open_attempt,
    scenario_records,
)
from sandbox.storage.knowledge import panel_allowed
from sandbox.storage.models import Attempt, AttemptMessage, Mode, User, utcnow
from sandbox.storage.peer_reviews import process_of
from sandbox.storage.questions import mastery, quizzes_of
from sandbox.web import reviews
from sandbox.web.chart import ChartPoint, progress_svg
from sandbox.web.deps import CsrfChecked, CurrentUser, Forbidden, SessionDep, StateDep, ViewerDep
from sandbox.web.i18n import N_, Translate
from sandbox.web.practice import Closed, closed_for_practice
from sandbox.web.routes.assignments import activity_titles
from sandbox.web.routes.questions import QUIZ_LOCALES
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(tags=["trainee"])

DIFFICULTIES = ("easy", "medium", "hard")


def scenario_or_404(state: StateDep, pack_id: str, scenario_id: str) -> tuple[Pack, Scenario]:
    found = state.library.find(pack_id, scenario_id)
    if found is None:
        raise HTTPException(status_code=404)
    return found


SEARCH_MAX_CHARS = 100

#: What a brief says a scenario practises, per criterion kind (`catalogue.practised`): the
#: kind of skill, never which question or phrase is wanted.
SKILL_TEXT = {
    "inquiry": N_("brief.skill.inquiry"),
    "disclosure": N_("brief.skill.disclosure"),
    "contraindication": N_("brief.skill.contraindication"),
    "etiquette": N_("brief.skill.etiquette"),
    "outcome": N_("brief.skill.outcome"),
    "forbidden": N_("brief.skill.forbidden"),
}


def practised_text(t: Translate, scenario: Scenario) -> list[str]:
    return [t(SKILL_TEXT[kind]) for kind in practised(scenario)]


def closed_now(state: AppState, session: SessionDep, user: User) -> Closed:
    """The scenarios `user` may not practise now, on the exam service's clock."""
    return closed_for_practice(session, user, state.conversations.now())


@router.get("/")
def list_scenarios(
    request: Request,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    trade: str = "",
    pack: str = "",
    language: str = "",
    difficulty: str = "",
    q: str = "",
) -> Response:
    """The catalogue of scenarios, filtered by trade, pack, language and difficulty, and
    searched by words of their titles, briefs, personas and packs (`q`)."""
    q = q.strip()[:SEARCH_MAX_CHARS]
    assert user.id is not None
    records = scenario_records(session=session, user_id=user.id)
    closed = closed_now(state, session, user)
    rows: list[dict[str, Any]] = []
    for each_pack, scenario in state.library.scenarios():
        if (each_pack.id, scenario.id) in closed:
            continue  # an exam keeps it from this trainee's practice (web/practice.py)
        if trade and trade_of(each_pack) != trade:
            continue
        if pack and each_pack.id != pack:
            continue
        if language and each_pack.locale != language:
            continue
        if difficulty and scenario.difficulty != difficulty:
            continue
        if q and not matches_search(each_pack, scenario, q):
            continue
        record = records.get((each_pack.id, scenario.id))
        rows.append(
            {"pack": each_pack, "scenario": scenario, "best": record.best if record else None}
        )
    context = viewer.context(
        rows=rows,
        packs=list(state.library.packs.values()),
        trades=sorted({trade_of(p) for p in state.library.packs.values()}),
        languages=sorted({p.locale for p in state.library.packs.values()}),
        difficulties=DIFFICULTIES,
        filters={
            "trade": trade,
            "pack": pack,
            "language": language,
            "difficulty": difficulty,
            "q": q,
        },
        search_max=SEARCH_MAX_CHARS,
        pack_errors=state.library.errors if access.can_see_pack_errors(user) else [],
        assigned=progress_for(session, user_ids=[user.id], today=state.conversations.now().date()),
        titles=activity_titles(state, viewer.t),
        quiz_language=viewer.locale if viewer.locale in QUIZ_LOCALES else "en",
    )
    # htmx asks for the whole page again when it restores history it had not cached.
    wants_block = request.headers.get("hx-request") and not request.headers.get(
        "hx-history-restore-request"
    )
    block = "scenario_list" if wants_block else None
    return render("catalogue.html", context, block=block)


@router.get("/scenarios/{pack_id}/{scenario_id}")
def read_brief(
    pack_id: str,
    scenario_id: str,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    """What the trainee is told before starting; no start while practice is closed."""
    pack, scenario = scenario_or_404(state, pack_id, scenario_id)
    assert user.id is not None
    resumable = open_attempt(
        session=session, user_id=user.id, pack_id=pack.id, scenario_id=scenario.id
    )
    closed = closed_now(state, session, user).reason(pack.id, scenario.id)
    context = viewer.context(
        pack=pack,
        scenario=scenario,
        resumable=resumable,
        closed=viewer.t(closed) if closed else None,
        practised=practised_text(viewer.t, scenario),
    )
    return render("brief.html", context)


@router.post("/scenarios/{pack_id}/{scenario_id}/attempts", dependencies=[CsrfChecked])
def create_attempt(
    pack_id: str,
    scenario_id: str,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    """Start a practice conversation, or resume the one still open; refused (409, with the
    reason) while an exam keeps the scenario closed to this trainee."""
    pack, scenario = scenario_or_404(state, pack_id, scenario_id)
    assert user.id is not None
    closed = closed_now(state, session, user).reason(pack.id, scenario.id)
    if closed is not None:
        context = viewer.context(
            pack=pack,
            scenario=scenario,
            resumable=None,
            closed=viewer.t(closed),
            practised=practised_text(viewer.t, scenario),
        )
        return render("brief.html", context, status_code=409)
    attempt = open_attempt(
        session=session, user_id=user.id, pack_id=pack.id, scenario_id=scenario.id
    )
    if attempt is not None and attempt.pack_version != pack.version:
        # The pack changed under an open practice: its lines no longer replay the same, so
        # it is closed ungraded and a fresh attempt starts on the new version.
        end_attempt(session=session, attempt=attempt, reason="superseded")
        attempt = None
    if attempt is None:
        attempt = state.conversations.start_practice(
            session, user=user, pack=pack, scenario=scenario
        )
        session.commit()
    return RedirectResponse(f"/attempts/{attempt.id}", status_code=303)


def attempt_or_404(session: SessionDep, attempt_id: int) -> Attempt:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise HTTPException(status_code=404)
    return attempt


@router.get("/attempts/{attempt_id}")
def read_attempt(
    attempt_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """The chat page of an open conversation; an ended one goes to its feedback."""
    attempt = attempt_or_404(session, attempt_id)
    if attempt.user_id != user.id:
        owner = session.get(User, attempt.user_id)
        if owner is not None and access.can_read_feedback(user, owner):
            return RedirectResponse(f"/attempts/{attempt_id}/feedback", status_code=303)
        raise Forbidden()
    if attempt.ended:
        return RedirectResponse(f"/attempts/{attempt_id}/feedback", status_code=303)
    pack, scenario = scenario_or_404(state, attempt.pack_id, attempt.scenario_id)
    messages = list_messages(session=session, attempt_id=attempt_id)
    closed = None
    if attempt.mode == Mode.PRACTICE:
        closed = closed_now(state, session, user).reason(attempt.pack_id, attempt.scenario_id)
    context = viewer.context(
        attempt=attempt,
        closed=viewer.t(closed) if closed else None,
        pack=pack,
        scenario=scenario,
        messages=messages,
        persona_name=scenario.persona.name,
        content_lang=pack.locale,
        elapsed_s=live.elapsed_s(attempt, utcnow()),
        max_chars=state.settings.message_max_chars,
        max_sockets=state.settings.chat_sockets_per_attempt,
        knowledge_panel=panel_allowed(session, attempt),
    )
    return render("chat.html", context)


@router.get("/attempts/{attempt_id}/feedback")
def read_feedback(
    attempt_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Score, band, every criterion, the highlighted transcript, facts never uncovered."""
    attempt = attempt_or_404(session, attempt_id)
    owner = session.get(User, attempt.user_id)
    if owner is None or not access.can_read_feedback(user, owner):
        raise Forbidden()
    if attempt.user_id == user.id and not attempt.ended:
        return RedirectResponse(f"/attempts/{attempt_id}", status_code=303)
    if attempt.user_id == user.id and attempt.exam_id is not None:
        # An exam's rubric is never shown to its candidate: only the released results.
        return RedirectResponse(f"/exams/{attempt.exam_id}/results", status_code=303)
    messages = list_messages(session=session, attempt_id=attempt_id)
    found = state.library.find(attempt.pack_id, attempt.scenario_id)
    details = feedback_details(attempt, found, messages)
    # Why each verdict: the trainee's own words only; a mentor sees the deciding phrase.
    details["reasons"] = reviews.verdict_reasons(
        reviews.graded_view(state.library, attempt),
        attempt,
        messages,
        staff=user.id != attempt.user_id,
    )
    notes = reviews.feedback_notes(session, attempt)
    closed = closed_now(state, session, user).reason(attempt.pack_id, attempt.scenario_id)
    if closed is not None:
        # The rubric of a scenario an exam keeps closed is not shown, even of an earlier
        # practice: no criteria, no verdicts on messages, no facts left to uncover.
        details.update(criteria=[], highlights={}, unrevealed=[], reasons={})
        notes = reviews.FeedbackNotes(notes.comments, [])
    context = viewer.context(
        attempt=attempt,
        owner=owner,
        messages=messages,
        persona_name=found[1].persona.name if found else "",
        content_lang=found[0].locale if found else "",
        can_retry=found is not None and closed is None,
        review_notes=notes,
        closed=viewer.t(closed) if closed else None,
        metrics=service_metrics([(m.role, m.at) for m in messages]),
        communication=communication(attempt.grade) if closed is None else None,
        **details,
    )
    return render("feedback.html", context)


def feedback_details(
    attempt: Attempt, found: tuple[Pack, Scenario] | None, messages: list[AttemptMessage]
) -> dict[str, Any]:
    """Criteria joined with their descriptions, message highlights and unrevealed facts."""
    grade = attempt.grade or {"criteria": []}
    descriptions: dict[str, str] = {}
    unrevealed: list[Any] = []
    scenario = found[1] if found else None
    if found is not None and found[0].version == attempt.pack_version:
        pack, scenario = found
        descriptions = {c.id: c.description or c.id for c in scenario.rubric.criteria}
        revealed = live.revealed_facts(pack, scenario, attempt, messages)
        unrevealed = [fact for fact in scenario.facts if fact.id not in revealed]
    criteria: list[dict[str, Any]] = []
    highlights: dict[int, list[dict[str, str]]] = {}
    for criterion in grade.get("criteria", []):
        row = dict(criterion)
        row["description"] = descriptions.get(criterion["id"], criterion["id"])
        criteria.append(row)
        tone = "good" if criterion["status"] == "met" else "bad"
        for evidence in criterion.get("evidence", []):
            highlights.setdefault(int(evidence["message"]), []).append(
                {
                    "id": criterion["id"],
                    "tone": tone,
                    "status": criterion["status"],
                    "description": row["description"],
                }
            )
    return {
        "scenario": scenario,
        "criteria": criteria,
        "highlights": highlights,
        "unrevealed": unrevealed,
    }


@router.get("/history")
def read_history(
    viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Best and latest result per scenario, and a chart of every graded attempt."""
    assert user.id is not None
    records = scenario_records(session=session, user_id=user.id)
    titles = {(p.id, s.id): s.title for p, s in state.library.scenarios()}
    attempts = graded_attempts(session=session, user_id=user.id)
    times = message_times(session=session, attempt_ids=[a.id for a in attempts if a.id])
    metrics: dict[tuple[str, str], list[ServiceMetrics]] = {}
    for a in attempts:
        metrics.setdefault((a.pack_id, a.scenario_id), []).append(
            service_metrics(times.get(a.id or 0, []))
        )
    rows = [
        {
            "record": record,
            "title": titles.get(key, f"{key[0]}/{key[1]}"),
            "frt": mean(m.frt_s for m in metrics.get(key, [])),
            "aht": mean(m.aht_s for m in metrics.get(key, [])),
        }
        for key, record in sorted(
            records.items(), key=lambda item: item[1].latest.started_at, reverse=True
        )
    ]
    quizzes = quizzes_of(session, [user.id], limit=20)
    tags = mastery(session, user.id, state.questions.questions)
    charts = _progress_charts(viewer, state, session, user)
    return render(
        "history.html",
        viewer.context(
            rows=rows,
            charts=charts,
            quizzes=quizzes,
            mastery=tags,
            process=process_of(session, user.id),
            weights=PROCESS_WEIGHTS,
        ),
    )


def _when(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _progress_charts(
    viewer: Any, state: AppState, session: SessionDep, user: User
) -> list[dict[str, Any]]:
    """One chart per practised scenario, most recent first: every graded attempt with its
    date, the scenario's own pass mark drawn across."""
    assert user.id is not None
    t = viewer.t
    found: dict[tuple[str, str], list[Attempt]] = {}
    for attempt in graded_attempts(session=session, user_id=user.id):
        found.setdefault((attempt.pack_id, attempt.scenario_id), []).append(attempt)
    scenarios = {(p.id, s.id): s for p, s in state.library.scenarios()}
    charts = []
    ordered = sorted(found.items(), key=lambda item: _when(item[1][-1].started_at), reverse=True)
    for index, ((pack_id, scenario_id), attempts) in enumerate(ordered):
        scenario = scenarios.get((pack_id, scenario_id))
        title = scenario.title if scenario else f"{pack_id}/{scenario_id}"
        mark = scenario.rubric.pass_mark if scenario else 70.0
        points = []
        for attempt in attempts:
            when = _when(attempt.started_at).astimezone(UTC)
            score = attempt.score or 0.0
            outcome = t("result.passed") if attempt.passed else t("result.failed")
            moment, shown = when.strftime("%Y-%m-%d %H:%M UTC"), format(score, ".1f")
            points.append(
                ChartPoint(
                    label=t("history.point", when=moment, score=shown, outcome=outcome),
                    score=score,
                    passed=bool(attempt.passed),
                    date=f"{when:%Y-%m-%d}",
                    href=f"/attempts/{attempt.id}/feedback",
                )
            )
        prefix = f"chart-{index}"
        charts.append(
            {
                "id": prefix,
                "title": title,
                "pass_mark": mark,
                "count": len(points),
                "svg": progress_svg(
                    points,
                    title=t("history.chart_of", title=title),
                    description=t("history.chart_desc", mark=format(mark, "g")),
                    pass_mark=mark,
                    prefix=prefix,
                ),
            }
        )
    return charts
