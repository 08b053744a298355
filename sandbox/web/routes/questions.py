"""Quizzes, the written part of exams, marking short answers and item statistics.

- trainees: `/quiz` (start a quiz by trade, tag or weak spots; answer with feedback at
  once), `/exams/{id}/written` (the written part: autosaved answers, server deadline);
- mentors: `/mentor/quizzes` (their trainees' quiz results), `/mentor/marking` (short
  answers of written parts, shown without the candidate's name, model answer beside);
- proctors: `/proctor/exams/{id}/written-part` (set the part up), `/proctor/exams/{id}/items`
  (item statistics, and `items.csv`).

Every page that shows a sitting first submits those whose time is up (`expire_due`), so
a paper is handed in at its deadline whether or not anyone is looking; the exam timers do
the same in the background.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from sandbox import access
from sandbox.questions.models import DIFFICULTIES, Question
from sandbox.questions.scoring import correct_answer
from sandbox.questions.stats import item_statistics, report_csv_rows
from sandbox.storage import questions as store
from sandbox.storage.audit import record
from sandbox.storage.exams import Exam, is_candidate, retake_for
from sandbox.storage.models import Role, User
from sandbox.web.deps import (
    CsrfChecked,
    CurrentUser,
    Forbidden,
    MentorUser,
    ProctorUser,
    SessionDep,
    StateDep,
    ViewerDep,
)
from sandbox.web.proctoring import ServiceDep, exam_or_404, page_helpers
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(tags=["questions"])

QUIZ_LOCALES = ("en", "zh-CN")
TRADES = ("pharmacy", "aesthetics")


def bank(state: AppState) -> dict[str, Question]:
    return state.questions.questions


def _expire(session: Session, state: AppState, now: datetime) -> None:
    if store.expire_due(session, bank=bank(state), now=now):
        session.commit()


def _items(
    state: AppState, sitting: store.QuestionSitting, session: Session
) -> list[dict[str, Any]]:
    """Each question of a sitting as a page shows it: options in the candidate's order."""
    questions = bank(state)
    rows = []
    for response in store.responses(session, sitting.id or 0):
        question = questions.get(response.question_id)
        options = []
        if question is not None and question.options:
            order = response.option_order or list(range(len(question.options)))
            options = [(i, question.options[i].text) for i in order]
        rows.append(
            {
                "response": response,
                "question": question,
                "options": options,
                "chosen": response.answer
                if isinstance(response.answer, list)
                else [response.answer],
                "right": correct_answer(question) if question is not None else None,
                "right_text": [o.text for o in question.options or () if o.correct]
                if question is not None
                else [],
            }
        )
    return rows


# --- quizzes -----------------------------------------------------------------------------


def _quiz_or_404(session: Session, quiz_id: int, user: User) -> store.QuestionSitting:
    sitting = session.get(store.QuestionSitting, quiz_id)
    if sitting is None or sitting.kind != store.QUIZ:
        raise HTTPException(status_code=404)
    if sitting.user_id != user.id:
        raise Forbidden()
    return sitting


def quiz_tags(state: AppState) -> list[str]:
    """Every tag of the loaded questions, by name: the quizzes one may ask for by tag."""
    return sorted({t for q in bank(state).values() for t in q.tags})


@router.get("/quiz")
def read_quiz_start(
    viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser, refused: str = ""
) -> Response:
    """Start a quiz: by trade, by tag, or the questions missed before."""
    assert user.id is not None
    context = viewer.context(
        tags=quiz_tags(state),
        trades=TRADES,
        quiz_locale=viewer.locale if viewer.locale in QUIZ_LOCALES else "en",
        quiz_locales=QUIZ_LOCALES,
        weak=len(store.weak_spots(session, user.id)),
        quizzes=store.quizzes_of(session, [user.id], limit=10),
        refused=refused if refused in ("empty", "weak_none") else "",
    )
    return render("quiz_start.html", context)


@router.post("/quiz", dependencies=[CsrfChecked])
def create_quiz(
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
    mode: Annotated[str, Form()] = "trade",
    trade: Annotated[str, Form()] = "",
    tag: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "en",
) -> Response:
    assert user.id is not None
    if language not in QUIZ_LOCALES:
        language = "en"
    try:
        sitting = store.start_quiz(
            session,
            user_id=user.id,
            bank=bank(state),
            locale=language,
            trade=trade if mode == "trade" and trade in TRADES else None,
            tag=tag if mode == "tag" and tag else None,
            weak=mode == "weak",
            now=service.now(),
        )
    except store.SittingError:
        code = "weak_none" if mode == "weak" else "empty"
        return RedirectResponse(f"/quiz?refused={code}", status_code=303)
    session.commit()
    return RedirectResponse(f"/quiz/{sitting.id}", status_code=303)


@router.get("/quiz/{quiz_id}")
def read_quiz(
    quiz_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
    refused: str = "",
) -> Response:
    sitting = _quiz_or_404(session, quiz_id, user)
    now = service.now()
    _expire(session, state, now)
    session.refresh(sitting)
    context = viewer.context(
        sitting=sitting,
        items=_items(state, sitting, session),
        seconds_left=max(0, int((sitting.deadline_at - now).total_seconds())),
        refused=refused if refused in REFUSALS else "",
        **page_helpers(),
    )
    return render("quiz.html", context)


REFUSALS = (
    "submitted",
    "time_up",
    "answered",
    "bad_answer",
    "no_answer",
    "no_question",
    "closed",
    "empty",
)


@router.post("/quiz/{quiz_id}/answer", dependencies=[CsrfChecked])
async def answer_quiz(
    quiz_id: int, request: Request, state: StateDep, user: CurrentUser, service: ServiceDep
) -> Response:
    form = await request.form()
    raw = [v for v in form.getlist("answer") if isinstance(v, str)]
    position = str(form.get("position", ""))
    return await _run_sync(_answer_quiz, state, user, service.now(), quiz_id, position, raw)


async def _run_sync(fn: Any, *args: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    result: Response = await run_in_threadpool(fn, *args)
    return result


def _answer_quiz(
    state: AppState, user: User, now: datetime, quiz_id: int, position: str, raw: list[str]
) -> Response:
    with Session(state.engine) as session:
        sitting = _quiz_or_404(session, quiz_id, user)
        target = f"/quiz/{quiz_id}"
        try:
            store.save_answer(
                session,
                sitting=sitting,
                position=int(position) if position.isdigit() else -1,
                raw=raw if len(raw) != 1 else raw[0],
                bank=bank(state),
                now=now,
            )
        except store.SittingError as exc:
            session.rollback()
            return RedirectResponse(f"{target}?refused={exc.code}", status_code=303)
        session.commit()
        return RedirectResponse(f"{target}#q-{position}", status_code=303)


# --- the written part of an exam ---------------------------------------------------------------


def _candidate_exam(session: Session, exam_id: int, user: User) -> Exam:
    exam = exam_or_404(session, exam_id)
    assert user.id is not None
    if not is_candidate(session=session, exam_id=exam_id, user_id=user.id):
        raise HTTPException(status_code=404)
    return exam


def current_paper(session: Session, exam_id: int, user_id: int) -> store.QuestionSitting | None:
    """The candidate's written paper: the retake's once it was started, else the first."""
    retake = store.written_sitting(session, exam_id, user_id, retake=True)
    return retake or store.written_sitting(session, exam_id, user_id)


def retake_open(session: Session, exam_id: int, user_id: int, now: datetime) -> bool:
    """A retake of the written part was granted and may still be taken."""
    granted = retake_for(session=session, exam_id=exam_id, user_id=user_id)
    return granted is not None and granted.written and now < granted.expires_at


@router.post("/exams/{exam_id}/written", dependencies=[CsrfChecked])
def start_written(
    exam_id: int, state: StateDep, session: SessionDep, user: CurrentUser, service: ServiceDep
) -> Response:
    """Start the written part, or go back to the one already started (resume); after a
    handed-in first paper, the retake's paper when a retake of the written part is open."""
    exam = _candidate_exam(session, exam_id, user)
    part = store.written_part(session, exam_id)
    if part is None:
        raise HTTPException(status_code=404)
    assert user.id is not None
    now = service.now()
    first = store.written_sitting(session, exam_id, user.id)
    retake = first is not None and first.submitted and retake_open(session, exam_id, user.id, now)
    try:
        store.start_written(
            session,
            exam=exam,
            part=part,
            user_id=user.id,
            bank=bank(state),
            now=now,
            retake=retake,
        )
    except store.SittingError as exc:
        return RedirectResponse(f"/exams/{exam_id}?refused=written.refused.{exc.code}", 303)
    session.commit()
    return RedirectResponse(f"/exams/{exam_id}/written", status_code=303)


@router.get("/exams/{exam_id}/written")
def read_written(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    service: ServiceDep,
    refused: str = "",
) -> Response:
    exam = _candidate_exam(session, exam_id, user)
    assert user.id is not None
    now = service.now()
    _expire(session, state, now)
    sitting = current_paper(session, exam_id, user.id)
    if sitting is None:
        return RedirectResponse(f"/exams/{exam_id}", status_code=303)
    context = viewer.context(
        exam=exam,
        sitting=sitting,
        items=_items(state, sitting, session),
        seconds_left=max(0, int((sitting.deadline_at - now).total_seconds())),
        refused=refused if refused in REFUSALS else "",
        **page_helpers(),
    )
    return render("written.html", context)


@router.post("/exams/{exam_id}/written/answer", dependencies=[CsrfChecked])
async def autosave_written(
    exam_id: int, request: Request, state: StateDep, user: CurrentUser, service: ServiceDep
) -> Response:
    """One answer, saved as it is given (the page's script sends each change; without
    script, the question's Save button). 204 for the script, a redirect for a form."""
    form = await request.form()
    raw = [v for v in form.getlist("answer") if isinstance(v, str)]
    position = str(form.get("position", ""))
    script = request.headers.get("x-autosave") == "1"
    return await _run_sync(
        _save_written, state, user, service.now(), exam_id, position, raw, script
    )


def _save_written(
    state: AppState,
    user: User,
    now: datetime,
    exam_id: int,
    position: str,
    raw: list[str],
    script: bool,
) -> Response:
    with Session(state.engine) as session:
        _candidate_exam(session, exam_id, user)
        assert user.id is not None
        sitting = current_paper(session, exam_id, user.id)
        if sitting is None:
            raise HTTPException(status_code=404)
        target = f"/exams/{exam_id}/written"
        try:
            store.save_answer(
                session,
                sitting=sitting,
                position=int(position) if position.isdigit() else -1,
                raw=raw if len(raw) != 1 else raw[0],
                bank=bank(state),
                now=now,
            )
        except store.SittingError as exc:
            session.rollback()
            if script:
                return Response(exc.code, status_code=409, media_type="text/plain")
            return RedirectResponse(f"{target}?refused={exc.code}", status_code=303)
        session.commit()
        if script:
            return Response(status_code=204)
        return RedirectResponse(f"{target}#q-{position}", status_code=303)


@router.post("/exams/{exam_id}/written/submit", dependencies=[CsrfChecked])
def submit_written(
    exam_id: int, state: StateDep, session: SessionDep, user: CurrentUser, service: ServiceDep
) -> Response:
    _candidate_exam(session, exam_id, user)
    assert user.id is not None
    sitting = current_paper(session, exam_id, user.id)
    if sitting is None:
        raise HTTPException(status_code=404)
    store.submit(session, sitting=sitting, bank=bank(state), now=service.now())
    session.commit()
    return RedirectResponse(f"/exams/{exam_id}/written", status_code=303)


# --- mentors: quiz results and marking ------------------------------------------------------


@router.get("/mentor/quizzes")
def read_trainee_quizzes(
    viewer: ViewerDep, state: StateDep, session: SessionDep, mentor: MentorUser
) -> Response:
    statement = select(User).where(User.role == Role.TRAINEE).order_by(col(User.name))
    if not access.sees_every_trainee(mentor):
        statement = statement.where(User.mentor_id == mentor.id)
    trainees = {u.id: u for u in session.exec(statement)}
    quizzes = store.quizzes_of(session, [i for i in trainees if i is not None], limit=200)
    # Per trainee who took a quiz: the topics they get right least often (below 60%).
    weak: dict[int, list[store.Mastery]] = {}
    for user_id in sorted({q.user_id for q in quizzes}):
        tags = store.mastery(session, user_id, bank(state))
        weak[user_id] = sorted((m for m in tags if m.percent < 60), key=lambda m: m.percent)
    return render(
        "mentor_quizzes.html",
        viewer.context(quizzes=quizzes, trainees=trainees, weak=weak, **page_helpers()),
    )


@router.get("/mentor/marking")
def read_marking(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    mentor: MentorUser,
    service: ServiceDep,
    refused: str = "",
) -> Response:
    """Short answers waiting for a mark: no candidate name, the model answer beside."""
    _expire(session, state, service.now())
    rows = [
        {"response": r, "question": bank(state).get(r.question_id), "exam_id": s.exam_id}
        for r, s in store.unmarked(session)
    ]
    refused = refused if refused in ("bad_mark", "not_submitted") else ""
    return render("marking.html", viewer.context(rows=rows, refused=refused))


@router.post("/mentor/marking/{response_id}", dependencies=[CsrfChecked])
def mark_answer(
    response_id: int,
    session: SessionDep,
    mentor: MentorUser,
    service: ServiceDep,
    score: Annotated[str, Form()] = "",
) -> Response:
    assert mentor.id is not None
    if session.get(store.QuestionResponse, response_id) is None:
        raise HTTPException(status_code=404)  # before the form: an id names something or not
    try:
        value = float(score)
    except ValueError:
        return RedirectResponse("/mentor/marking?refused=bad_mark", status_code=303)
    try:
        store.mark_response(
            session, response_id=response_id, score=value, marker_id=mentor.id, now=service.now()
        )
        record(
            session,
            actor_id=mentor.id,
            action="written.mark",
            subject_type="question_response",
            subject_id=response_id,
            new={"score": value},
        )
    except store.SittingError as exc:
        session.rollback()
        if exc.code == "no_question":
            raise HTTPException(status_code=404) from None
        return RedirectResponse(f"/mentor/marking?refused={exc.code}", status_code=303)
    session.commit()
    return RedirectResponse("/mentor/marking", status_code=303)


# --- proctors: the written part and its item statistics ---------------------------------------


def _proctor_exam(session: Session, exam_id: int, user: User) -> Exam:
    if not access.can_run_exams(user):
        raise Forbidden()
    return exam_or_404(session, exam_id)


@router.get("/proctor/exams/{exam_id}/written-part")
def read_written_part(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    proctor: ProctorUser,
    error: str = "",
    saved: str = "",
) -> Response:
    exam = _proctor_exam(session, exam_id, proctor)
    part = store.written_part(session, exam_id)
    return render(
        "written_part.html",
        viewer.context(
            exam=exam,
            part=part,
            tags=quiz_tags(state),
            difficulties=DIFFICULTIES,
            trades=TRADES,
            part_locales=QUIZ_LOCALES,
            error=error if error.startswith("written_part.error.") else "",
            saved=bool(saved),
        ),
    )


@router.post("/proctor/exams/{exam_id}/written-part", dependencies=[CsrfChecked])
async def update_written_part(
    exam_id: int, request: Request, state: StateDep, proctor: ProctorUser
) -> Response:
    form = await request.form()
    fields = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
    return await _run_sync(_save_part, state, proctor, exam_id, fields)


def _save_part(
    state: AppState, proctor: User, exam_id: int, fields: dict[str, list[str]]
) -> Response:
    def one(name: str) -> str:
        return (fields.get(name) or [""])[0].strip()

    back = f"/proctor/exams/{exam_id}/written-part"
    with Session(state.engine) as session:
        _proctor_exam(session, exam_id, proctor)  # 404 first: an id names something or not
    questions = [q for q in one("questions").replace(",", " ").split() if q]
    unknown = [q for q in questions if q not in bank(state)]
    try:
        minutes = float(one("minutes") or "0")
        grace = float(one("grace_s") or "0")
        count = int(one("count") or "0")
    except ValueError:
        return RedirectResponse(f"{back}?error=written_part.error.number", status_code=303)
    if unknown:
        return RedirectResponse(f"{back}?error=written_part.error.unknown", status_code=303)
    if not 1 <= minutes <= 600 or not 0 <= grace <= 600 or not 0 <= count <= 200:
        return RedirectResponse(f"{back}?error=written_part.error.number", status_code=303)
    if not questions and count < 1:
        return RedirectResponse(f"{back}?error=written_part.error.nothing", status_code=303)
    with Session(state.engine) as session:
        _proctor_exam(session, exam_id, proctor)
        seed_text = one("seed")
        part = store.set_written_part(
            session,
            exam_id=exam_id,
            questions=questions,
            tags=[t for t in fields.get("tags", []) if t],
            difficulties=[d for d in fields.get("difficulties", []) if d in DIFFICULTIES],
            count=count,
            locale=one("locale") if one("locale") in QUIZ_LOCALES else None,
            trade=one("trade") if one("trade") in TRADES else None,
            time_limit_s=minutes * 60,
            grace_s=grace,
            seed=int(seed_text) % 2**31 if seed_text.isdigit() else None,
        )
        record(
            session,
            actor_id=proctor.id,
            action="written_part.update",
            subject_type="exam",
            subject_id=exam_id,
            new={
                "questions": part.questions,
                "tags": part.tags,
                "difficulties": part.difficulties,
                "count": part.count,
                "seed": part.seed,
                "time_limit_s": part.time_limit_s,
                "grace_s": part.grace_s,
            },
        )
        session.commit()
    return RedirectResponse(f"{back}?saved=1", status_code=303)


def _report(state: AppState, session: Session, exam_id: int) -> Any:
    return item_statistics(store.stat_papers(session, exam_id, bank(state)))


@router.get("/proctor/exams/{exam_id}/items")
def read_item_statistics(
    exam_id: int,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    proctor: ProctorUser,
    service: ServiceDep,
) -> Response:
    exam = _proctor_exam(session, exam_id, proctor)
    _expire(session, state, service.now())
    report = _report(state, session, exam_id)
    return render(
        "item_stats.html",
        viewer.context(exam=exam, report=report, questions=bank(state)),
    )


@router.get("/proctor/exams/{exam_id}/items.csv")
def export_item_statistics(
    exam_id: int, state: StateDep, session: SessionDep, proctor: ProctorUser
) -> Response:
    _proctor_exam(session, exam_id, proctor)
    out = io.StringIO()
    csv.writer(out).writerows(report_csv_rows(_report(state, session, exam_id)))
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-items.csv"'},
    )


#: How often the server looks for papers whose time is up (seconds).
PAPER_SWEEP_S = 5.0


async def run_paper_timer(state: AppState) -> None:
    """Hand in every quiz and written part whose deadline and grace have passed, on the
    exam service's clock, until cancelled (the app's lifespan runs it)."""
    import asyncio
    import logging

    from starlette.concurrency import run_in_threadpool

    def sweep() -> None:
        with Session(state.engine) as session:
            _expire(session, state, state.conversations.now())

    while True:
        try:
            await run_in_threadpool(sweep)
        except Exception:  # a failed sweep is logged; the next one tries again
            logging.getLogger(__name__).exception("paper timer sweep failed")
        await asyncio.sleep(PAPER_SWEEP_S)
