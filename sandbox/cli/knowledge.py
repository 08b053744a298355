"""`sandbox knowledge search` and `sandbox knowledge list`: the knowledge base from a terminal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from sandbox.cli.output import counted, fail, table

if TYPE_CHECKING:
    from sqlmodel import Session

knowledge_app = typer.Typer(
    help="Search the knowledge base (drug monographs, platform rules, service procedures).",
    no_args_is_help=True,
)

LOCALES = ("en", "zh-CN")


def _indexed_session() -> Session:
    """A session on the configured database, its index holding the configured articles."""
    from sqlmodel import Session

    from sandbox.cli.web import load_settings
    from sandbox.knowledge.library import load_knowledge_library
    from sandbox.storage.database import make_engine, upgrade
    from sandbox.storage.knowledge import sync_articles

    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    sync_articles(engine, load_knowledge_library(settings).articles)
    return Session(engine)


@knowledge_app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to look for, in English or Chinese.")],
    locale: Annotated[
        str | None, typer.Option(help="Only articles in this locale: en or zh-CN.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many results.")] = 10,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as a JSON list.")
    ] = False,
) -> None:
    """Print the articles that match QUERY, best first.

    Each with its id, title, score and a snippet, the searched words between ** marks.
    Exit 1 when no article matches.
    """
    from sandbox.knowledge.terms import marked
    from sandbox.storage.knowledge import MAX_QUERY_CHARS
    from sandbox.storage.knowledge import search as run_search

    if locale is not None and locale not in LOCALES:
        raise fail(f"--locale: {locale!r} is not one of {', '.join(LOCALES)}")
    if not query.strip():
        raise fail("QUERY: give at least one word to look for")
    if len(query) > MAX_QUERY_CHARS:
        raise fail(f"QUERY: at most {MAX_QUERY_CHARS} characters (got {len(query)})")
    with _indexed_session() as session:
        hits = run_search(session, query, locale=locale, limit=limit)
    rows = [
        {
            "id": hit.id,
            "locale": hit.locale,
            "title": hit.title,
            "score": hit.score,
            "snippet": marked(hit.snippet),
        }
        for hit in hits
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no article matches")
        raise typer.Exit(1)
    for row in rows:
        typer.echo(f"{row['id']} ({row['locale']})  {row['title']}  score {row['score']}")
        typer.echo(f"  {row['snippet']}")
    typer.echo(counted(len(rows), "result"))


@knowledge_app.command("list")
def list_articles(
    locale: Annotated[
        str | None, typer.Option(help="Only articles in this locale: en or zh-CN.")
    ] = None,
) -> None:
    """List the articles the settings name (bundled knowledge/ and SANDBOX_KNOWLEDGE)."""
    from sandbox.cli.web import load_settings
    from sandbox.knowledge.articles import load_knowledge
    from sandbox.knowledge.library import knowledge_folders

    loaded = load_knowledge(knowledge_folders(load_settings()))
    for problem in loaded.errors:
        typer.echo(str(problem), err=True)
    chosen = [a for a in loaded.articles if locale is None or a.locale == locale]
    typer.echo(
        table(
            ["id", "locale", "trade", "kind", "title"],
            [[a.id, a.locale, a.trade, a.kind, a.title] for a in chosen],
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")
