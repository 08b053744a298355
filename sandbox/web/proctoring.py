"""What the exam pages share: the exam service, finding an exam, names of scenarios."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from sqlmodel import Session

from sandbox.conversations.service import ConversationService
from sandbox.storage.exams import Exam, ExamScenario, candidates_statement
from sandbox.storage.models import User
from sandbox.web.deps import StateDep
from sandbox.web.pagination import Page, PageRequest, paginate
from sandbox.web.state import AppState


def get_service(state: StateDep) -> ConversationService:
    return state.conversations


ServiceDep = Annotated[ConversationService, Depends(get_service)]


def exam_or_404(session: Session, exam_id: int) -> Exam:
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise HTTPException(status_code=404)
    return exam


def scenario_title(state: AppState, row: ExamScenario) -> str:
    """The scenario's title, or its id when the pack is no longer loaded."""
    found = state.library.find(row.pack_id, row.scenario_id)
    return found[1].title if found else row.key


def scenario_titles(state: AppState) -> dict[str, str]:
    return {f"{p.id}/{s.id}": s.title for p, s in state.library.scenarios()}


def utc_text(moment: datetime | None) -> str:
    """A moment as shown on pages: UTC, to the minute (exam.js shows it in local time)."""
    if moment is None:
        return "–"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat()


def page_helpers() -> dict[str, Any]:
    """Template helpers of the exam pages."""
    return {"utc_text": utc_text, "iso": iso}


def candidates_page(session: Session, exam: Exam, request: PageRequest, size: int) -> Page[User]:
    """One page of the exam's candidates, by name: counted and sliced by the database, so a
    page reads only its own candidates' rows (`standings(users=page.items)`)."""
    assert exam.id is not None
    return paginate(session, candidates_statement(exam_id=exam.id), request, size)


def pager_context(t: Any, shown: Page[Any], path: str) -> dict[str, Any]:
    """What `_pager.html` shows of a page of candidates."""
    return {
        "page": shown.number,
        "pages": shown.pages,
        "page_links": shown.links(path, {}),
        "page_problem": t(shown.problem, pages=shown.pages) if shown.problem else None,
    }
