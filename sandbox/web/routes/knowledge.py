"""The knowledge base: the /knowledge page (search and article view), the chat's search
panel (htmx fragments), and what a mentor's trainees searched (docs/knowledge.md).

A search is refused while its user is in a closed-book exam (an exam attempt still open, or
a written paper not yet handed in, whose exam is not open-book): the page, the article view
and the panel alike."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from sqlmodel import Session, col, select

from sandbox.storage.knowledge import (
    MAX_QUERY_CHARS,
    Hit,
    KnowledgeSearch,
    article,
    articles,
    closed_book_attempt,
    closed_book_paper,
    panel_allowed,
    record_search,
    search,
    searches_of,
)
from sandbox.storage.models import Attempt, Mode, User
from sandbox.web.deps import CurrentUser, Forbidden, MentorUser, SessionDep, ViewerDep
from sandbox.web.i18n import N_
from sandbox.web.markdown import to_html
from sandbox.web.routes.mentor import trainees_of
from sandbox.web.templating import render

router = APIRouter(tags=["knowledge"])

#: The article locales one may filter by ("" is every locale).
LOCALE_CHOICES = ("", "en", "zh-CN")
PANEL = "_knowledge_panel.html"
#: The keys the templates build from an article's kind and trade and a locale choice.
SHOWN_KEYS = (
    N_("knowledge_kind.monograph"),
    N_("knowledge_kind.rule"),
    N_("knowledge_kind.procedure"),
    N_("knowledge_kind.other"),
    N_("knowledge_trade.pharmacy"),
    N_("knowledge_trade.aesthetics"),
    N_("knowledge_trade.other"),
    N_("knowledge_locale.all"),
    N_("knowledge_locale.en"),
    N_("knowledge_locale.zh-CN"),
)
RESULTS = 10


def _clean(q: str) -> str:
    """The query as it is searched and stored: no NUL (PostgreSQL text refuses it) or other
    control characters, outer spaces trimmed."""
    return "".join(ch for ch in q if ch.isprintable() or ch == " ").strip()


def _problem(q: str, locale: str) -> str | None:
    """The message key of what is wrong with a search's fields, or None."""
    if len(q) > MAX_QUERY_CHARS:
        return N_("knowledge.error.too_long")
    if locale not in LOCALE_CHOICES:
        return N_("knowledge.error.locale")
    return None


def _closed_book(
    viewer: ViewerDep, session: Session, user: User, *, fragment: bool = False
) -> Response | None:
    """The refusal (403, saying why) while the user is in a closed-book exam, else None."""
    user_id = user.id or 0
    if (
        closed_book_attempt(session, user_id) is None
        and closed_book_paper(session, user_id) is None
    ):
        return None
    message = viewer.t("knowledge.closed_book")
    if fragment:
        return render(PANEL, viewer.context(message=message), block="refused", status_code=403)
    context = viewer.context(status_code=403, message=message)
    return render("error.html", context, status_code=403)


def _hits(session: Session, user: User, q: str, locale: str, attempt_id: int | None) -> list[Hit]:
    hits = search(session, q, locale=locale or None, limit=RESULTS)
    record_search(
        session,
        user_id=user.id or 0,
        query=q,
        results=len(hits),
        locale=locale or None,
        attempt_id=attempt_id,
    )
    return hits


@router.get("/knowledge")
def read_knowledge(
    viewer: ViewerDep, session: SessionDep, user: CurrentUser, q: str = "", locale: str = ""
) -> Response:
    """The knowledge base: a search form, the ranked results, or every article by title."""
    if refused := _closed_book(viewer, session, user):
        return refused
    q = _clean(q)
    problem = _problem(q, locale)
    hits = _hits(session, user, q, locale, None) if q and problem is None else None
    listed = articles(session, locale if locale in LOCALE_CHOICES and locale else None)
    context = viewer.context(
        q=q[:MAX_QUERY_CHARS],
        chosen_locale=locale if locale in LOCALE_CHOICES else "",
        locale_choices=LOCALE_CHOICES,
        hits=hits,
        listed=listed if hits is None else [],
        problem=viewer.t(problem, limit=MAX_QUERY_CHARS) if problem else None,
        max_chars=MAX_QUERY_CHARS,
    )
    return render("knowledge.html", context, status_code=400 if problem else 200)


@router.get("/knowledge/articles/{article_locale}/{article_id}")
def read_article(
    article_locale: str, article_id: str, viewer: ViewerDep, session: SessionDep, user: CurrentUser
) -> Response:
    """One article, its Markdown as HTML."""
    if refused := _closed_book(viewer, session, user):
        return refused
    found = article(session, article_locale, article_id)
    if found is None:
        raise HTTPException(status_code=404)
    context = viewer.context(article=found, body=to_html(found.body))
    return render("knowledge_article.html", context)


def _panel_attempt(session: Session, user: User, attempt_id: int) -> Attempt:
    """The user's own attempt the panel serves; 403 for one of a closed-book exam."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        raise HTTPException(status_code=404)
    if attempt.mode == Mode.EXAM and not panel_allowed(session, attempt):
        raise Forbidden()
    return attempt


@router.get("/knowledge/panel/{attempt_id}")
def read_panel(
    attempt_id: int,
    viewer: ViewerDep,
    session: SessionDep,
    user: CurrentUser,
    q: str = "",
    locale: str = "",
) -> Response:
    """The chat's search panel results (an htmx fragment); the search is recorded with the
    attempt, so the trainee's mentor sees it."""
    found = _panel_attempt(session, user, attempt_id)
    if refused := _closed_book(viewer, session, user, fragment=True):
        return refused
    q = _clean(q)
    problem = _problem(q, locale)
    hits = _hits(session, user, q, locale, found.id) if q and problem is None else []
    context = viewer.context(
        q=q,
        hits=hits,
        attempt=found,
        problem=viewer.t(problem, limit=MAX_QUERY_CHARS) if problem else None,
    )
    return render(PANEL, context, block="results", status_code=400 if problem else 200)


@router.get("/knowledge/panel/{attempt_id}/articles/{article_locale}/{article_id}")
def read_panel_article(
    attempt_id: int,
    article_locale: str,
    article_id: str,
    viewer: ViewerDep,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    """One article inside the chat's panel (an htmx fragment)."""
    found_attempt = _panel_attempt(session, user, attempt_id)
    if refused := _closed_book(viewer, session, user, fragment=True):
        return refused
    found = article(session, article_locale, article_id)
    if found is None:
        raise HTTPException(status_code=404)
    context = viewer.context(article=found, body=to_html(found.body), attempt=found_attempt)
    return render(PANEL, context, block="article")


@router.get("/mentor/searches")
def read_searches(viewer: ViewerDep, session: SessionDep, user: MentorUser) -> Response:
    """What the mentor's trainees searched in the knowledge base, newest first, with the
    practice conversation each search was made in."""
    trainees = {t.id: t for t in trainees_of(session, user) if t.id is not None}
    rows = searches_of(session, list(trainees))
    attempt_ids = {r.attempt_id for r in rows if r.attempt_id is not None}
    attempts: dict[int | None, Attempt] = {}
    if attempt_ids:
        attempts = {
            a.id: a
            for a in session.exec(select(Attempt).where(col(Attempt.id).in_(attempt_ids))).all()
        }
    shown = [
        {"row": r, "trainee": trainees[r.user_id], "attempt": attempts.get(r.attempt_id)}
        for r in rows
        if isinstance(r, KnowledgeSearch)
    ]
    return render("mentor_searches.html", viewer.context(searches=shown))
