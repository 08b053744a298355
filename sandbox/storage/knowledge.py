"""The knowledge base in the database: its full-text index and the searches made.

The articles are files (sandbox/knowledge); `sync_articles` copies them into
`knowledge_articles` with their index terms, changed ones only, at start-up. The terms are
made in Python (jieba for Chinese, lemmas for English: sandbox/knowledge/terms.py) and the
database's own full-text search ranks them: FTS5 and bm25 on SQLite, a tsvector written
term by term (no parser of the database's in between) and ts_rank on PostgreSQL.
See docs/knowledge.md.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Engine, Text, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, String, col, select

from sandbox.knowledge.articles import Article
from sandbox.knowledge.terms import Part, query_terms, snippet, terms
from sandbox.storage.exams import Exam
from sandbox.storage.models import Attempt, Mode, utcnow

#: Changed when the terms of the same text change, so that start-up indexes them again.
TERMS_VERSION = "1"
MAX_QUERY_CHARS = 200
#: A PostgreSQL lexeme keeps at most 256 positions (and positions up to 16383).
_PG_POSITIONS = 256
_PG_MAX_POSITION = 16383


class KnowledgeArticle(SQLModel, table=True):
    """An article as the search index holds it (the index itself: FTS5 or tsvector)."""

    __tablename__ = "knowledge_articles"

    key: str = Field(sa_type=String(80), primary_key=True)
    article_id: str = Field(sa_type=String(64))
    locale: str = Field(sa_type=String(16), index=True)
    title: str = Field(sa_type=String(200))
    trade: str = Field(sa_type=String(16))
    kind: str = Field(sa_type=String(16))
    tags: list[str] = Field(sa_column=Column(JSON, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(sa_type=String(255))
    digest: str = Field(sa_type=String(64))


class KnowledgeSearch(SQLModel, table=True):
    """One search: who, from which practice attempt (if any), what, how many results."""

    __tablename__ = "knowledge_searches"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    attempt_id: int | None = Field(default=None, foreign_key="attempts.id", index=True)
    query: str = Field(sa_type=String(MAX_QUERY_CHARS))
    locale: str | None = Field(default=None, sa_type=String(16))
    results: int
    created_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Hit:
    """One ranked result: higher `score` is better (the backend's own scale)."""

    key: str
    id: str
    locale: str
    title: str
    trade: str
    kind: str
    score: float
    snippet: list[Part]


#: What the database holds for the index beside the models: the FTS5 table and its shadow
#: tables on SQLite, the tsvector column and its GIN index on PostgreSQL (migration 0010).
INDEX_TABLES = ("knowledge_fts",)
INDEX_NAMES = ("terms", "ix_knowledge_articles_terms")


def outside_models(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's `include_object`: False for the full-text index, which no model describes."""
    if not reflected or compare_to is not None or name is None:
        return True
    if type_ == "table" and name.startswith(INDEX_TABLES):
        return False
    table = getattr(getattr(obj, "table", None), "name", None)
    return not (
        type_ in ("column", "index") and table == "knowledge_articles" and name in INDEX_NAMES
    )


def _digest(article: Article) -> str:
    data = [TERMS_VERSION, article.title, article.trade, article.kind, article.tags, article.body]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _pg_quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsvector(title: list[str], body: list[str]) -> str:
    """A tsvector literal: every term with its positions, A for the title and B for the body."""
    positions: dict[str, list[str]] = defaultdict(list)
    for i, (term, weight) in enumerate([(t, "A") for t in title] + [(t, "B") for t in body]):
        slot = positions[term]
        if len(slot) < _PG_POSITIONS:
            slot.append(f"{min(i + 1, _PG_MAX_POSITION)}{weight}")
    return " ".join(f"{_pg_quote(t)}:{','.join(p)}" for t, p in positions.items())


@lru_cache(maxsize=16384)
def _terms_of(title: str, body: str) -> tuple[list[str], list[str]]:
    """An article's title and body terms, made once per process for the same text."""
    return terms(title), terms(body)


def sync_articles(engine: Engine, articles: Sequence[Article]) -> tuple[int, int]:
    """Make the index hold exactly these articles; returns (indexed again, removed).

    Several workers starting at once may race to index the same change: the one that loses
    finds the rows already there and tries once more, then sees nothing left to do."""
    try:
        return _sync(engine, articles)
    except IntegrityError:
        return _sync(engine, articles)


def _sync(engine: Engine, articles: Sequence[Article]) -> tuple[int, int]:
    with Session(engine) as session:
        postgres = _is_postgres(session)
        stored = {
            key: digest
            for key, digest in session.exec(
                select(KnowledgeArticle.key, KnowledgeArticle.digest)
            ).all()
        }
        wanted = {a.key: a for a in articles}
        gone = [key for key in stored if key not in wanted]
        changed = [a for a in articles if stored.get(a.key) != _digest(a)]
        dropped = gone + [a.key for a in changed if a.key in stored]
        # In chunks: FTS5 finds a row by its (unindexed) key only by reading the table.
        for start in range(0, len(dropped), 500):
            keys = {f"k{i}": key for i, key in enumerate(dropped[start : start + 500])}
            listed = ", ".join(f":{name}" for name in keys)
            if not postgres:
                session.execute(text(f"DELETE FROM knowledge_fts WHERE key IN ({listed})"), keys)
            session.execute(text(f"DELETE FROM knowledge_articles WHERE key IN ({listed})"), keys)
        for article in changed:
            title_terms, body_terms = _terms_of(article.title, article.body)
            session.add(
                KnowledgeArticle(
                    key=article.key,
                    article_id=article.id,
                    locale=article.locale,
                    title=article.title,
                    trade=article.trade,
                    kind=article.kind,
                    tags=list(article.tags),
                    body=article.body,
                    source=article.source[-255:],
                    digest=_digest(article),
                )
            )
            session.flush()
            if postgres:
                session.execute(
                    text(
                        "UPDATE knowledge_articles SET terms = CAST(:v AS tsvector) WHERE key = :k"
                    ),
                    {"v": _tsvector(title_terms, body_terms), "k": article.key},
                )
            else:
                session.execute(
                    text("INSERT INTO knowledge_fts (key, title, body) VALUES (:k, :t, :b)"),
                    {"k": article.key, "t": " ".join(title_terms), "b": " ".join(body_terms)},
                )
        session.commit()
        return len(changed), len(gone)


def _fts_query(words: list[str], joiner: str) -> str:
    return joiner.join('"' + w.replace('"', '""') + '"' for w in words)


def _ranked(
    session: Session, words: list[str], every: bool, locale: str | None, limit: int
) -> list[tuple[str, float]]:
    params: dict[str, Any] = {"limit": limit}
    where_locale = ""
    if locale:
        where_locale = " AND a.locale = :locale"
        params["locale"] = locale
    if _is_postgres(session):
        params["q"] = (" & " if every else " | ").join(_pg_quote(w) for w in words)
        params["any"] = " | ".join(_pg_quote(w) for w in words)
        # Ranked by each word's weight and count (ts_rank of the words joined by "or": for
        # "and" it would rank by how near the words stand), shorter articles a little ahead.
        sql = (
            "SELECT a.key, ts_rank(a.terms, CAST(:any AS tsquery), 1) AS score "
            "FROM knowledge_articles a WHERE a.terms @@ CAST(:q AS tsquery)"
            f"{where_locale} ORDER BY score DESC, a.key LIMIT :limit"
        )
    else:
        params["q"] = _fts_query(words, " " if every else " OR ")
        # bm25 is lower for a better match; the title counts five times the body.
        sql = (
            "SELECT f.key, -bm25(knowledge_fts, 0.0, 5.0, 1.0) AS score "
            "FROM knowledge_fts f JOIN knowledge_articles a ON a.key = f.key "
            f"WHERE knowledge_fts MATCH :q{where_locale} ORDER BY score DESC, f.key LIMIT :limit"
        )
    return [(str(k), float(s)) for k, s in session.execute(text(sql), params).all()]


def search(
    session: Session, query: str, *, locale: str | None = None, limit: int = 10
) -> list[Hit]:
    """The articles that best match `query`: those with every term first; when none has
    them all, those with any. Each with a snippet around the searched words."""
    words = query_terms(query[:MAX_QUERY_CHARS])
    if not words:
        return []
    ranked = _ranked(session, words, True, locale, limit)
    if not ranked and len(words) > 1:
        ranked = _ranked(session, words, False, locale, limit)
    if not ranked:
        return []
    rows = {
        a.key: a
        for a in session.exec(
            select(KnowledgeArticle).where(col(KnowledgeArticle.key).in_([k for k, _ in ranked]))
        ).all()
    }
    return [
        Hit(
            key=key,
            id=rows[key].article_id,
            locale=rows[key].locale,
            title=rows[key].title,
            trade=rows[key].trade,
            kind=rows[key].kind,
            score=round(score, 4),
            snippet=snippet(rows[key].body, words),
        )
        for key, score in ranked
        if key in rows
    ]


def article(session: Session, locale: str, article_id: str) -> KnowledgeArticle | None:
    return session.get(KnowledgeArticle, f"{locale}/{article_id}")


def articles(session: Session, locale: str | None = None) -> list[KnowledgeArticle]:
    """Every indexed article (of one locale), by title."""
    query = select(KnowledgeArticle).order_by(col(KnowledgeArticle.title))
    if locale:
        query = query.where(KnowledgeArticle.locale == locale)
    return list(session.exec(query).all())


def record_search(
    session: Session,
    *,
    user_id: int,
    query: str,
    results: int,
    locale: str | None = None,
    attempt_id: int | None = None,
) -> KnowledgeSearch:
    row = KnowledgeSearch(
        user_id=user_id,
        attempt_id=attempt_id,
        query=query[:MAX_QUERY_CHARS],
        locale=locale,
        results=results,
    )
    session.add(row)
    session.commit()
    return row


def searches_of(
    session: Session, user_ids: Sequence[int], limit: int = 200
) -> list[KnowledgeSearch]:
    """The latest searches of these users, newest first."""
    if not user_ids:
        return []
    return list(
        session.exec(
            select(KnowledgeSearch)
            .where(col(KnowledgeSearch.user_id).in_(list(user_ids)))
            .order_by(col(KnowledgeSearch.created_at).desc(), col(KnowledgeSearch.id).desc())
            .limit(limit)
        ).all()
    )


def searches_in(session: Session, attempt_id: int) -> list[KnowledgeSearch]:
    """The searches made from one conversation's panel, in the order they were made."""
    return list(
        session.exec(
            select(KnowledgeSearch)
            .where(KnowledgeSearch.attempt_id == attempt_id)
            .order_by(col(KnowledgeSearch.id))
        ).all()
    )


def closed_book_attempt(session: Session, user_id: int) -> Attempt | None:
    """The user's exam attempt still open in an exam that is not open-book, if any: while
    it runs, the knowledge base answers them no searches."""
    open_attempts = session.exec(
        select(Attempt, Exam)
        .join(Exam, col(Exam.id) == col(Attempt.exam_id))
        .where(
            Attempt.user_id == user_id,
            Attempt.mode == Mode.EXAM,
            col(Attempt.ended_at).is_(None),
            col(Attempt.over_limit).is_(False),
        )
    ).all()
    for attempt, exam in open_attempts:
        if not exam.exam_rules.open_book:
            return attempt
    return None


def closed_book_paper(session: Session, user_id: int) -> int | None:
    """The id of the user's written paper not yet handed in, in an exam that is not
    open-book, if any: the written part is closed-book like the conversations."""
    from sandbox.storage.questions import QuestionSitting

    open_papers = session.exec(
        select(QuestionSitting.id, Exam)
        .join(Exam, col(Exam.id) == col(QuestionSitting.exam_id))
        .where(QuestionSitting.user_id == user_id, col(QuestionSitting.submitted_at).is_(None))
    ).all()
    for sitting_id, exam in open_papers:
        if not exam.exam_rules.open_book:
            return sitting_id
    return None


def panel_allowed(session: Session, attempt: Attempt) -> bool:
    """Whether the chat page of `attempt` offers the knowledge panel: practice always, an
    exam only when it is open-book."""
    if attempt.mode != Mode.EXAM or attempt.exam_id is None:
        return True
    exam = session.get(Exam, attempt.exam_id)
    return exam is not None and exam.exam_rules.open_book
