"""Knowledge search on the database's own full-text search: FTS5 on SQLite, tsvector on
PostgreSQL, terms made in Python for both; `sandbox knowledge search` (docs/knowledge.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cli_support import run_in_process
from sqlalchemy import Engine, inspect
from sqlmodel import Session
from web_support import migrated_sqlite

from sandbox.knowledge.articles import BUNDLED_KNOWLEDGE, Article, load_knowledge
from sandbox.knowledge.terms import marked
from sandbox.storage.knowledge import articles, search, sync_articles

pytestmark = pytest.mark.backends("sqlite", "postgres")

BUNDLED = load_knowledge([BUNDLED_KNOWLEDGE]).articles


@pytest.fixture
def indexed(engine: Engine) -> Engine:
    assert sync_articles(engine, BUNDLED) == (len(BUNDLED), 0)
    return engine


def ids(engine: Engine, query: str, locale: str | None = None) -> list[str]:
    with Session(engine) as session:
        return [f"{h.locale}/{h.id}" for h in search(session, query, locale=locale)]


def test_chinese_search_finds_and_ranks_the_monographs(indexed: Engine) -> None:
    found = ids(indexed, "布洛芬 华法林")
    assert found[:2] == ["zh-CN/ibuprofen", "zh-CN/warfarin"] or found[:2] == [
        "zh-CN/warfarin",
        "zh-CN/ibuprofen",
    ]
    assert all(key.startswith("zh-CN/") for key in found)
    # A word inside a longer word is found: 冷链 in 冷链配送, 相互作用's 作用.
    assert ids(indexed, "冷链")[0] == "zh-CN/cold-chain"
    assert ids(indexed, "胰岛素 冷藏")[0] == "zh-CN/insulin"


def test_english_search_is_stemmed_and_ranked(indexed: Engine) -> None:
    # "interactions" and "interaction", "bleeding" and "bleed" are one term.
    found = ids(indexed, "warfarin interactions bleeding", locale="en")
    assert found[0] in ("en/warfarin", "en/ibuprofen")
    assert {"en/warfarin", "en/ibuprofen", "en/aspirin"} <= set(found)
    assert ids(indexed, "refunds", locale="en")[0] == "en/returns-refunds"
    assert ids(indexed, "complaint")[0] == "en/complaint-handling"


def test_results_have_scores_in_order_and_marked_snippets(indexed: Engine) -> None:
    with Session(indexed) as session:
        hits = search(session, "botulinum toxin breastfeeding", locale="en")
        assert hits[0].id == "botulinum-toxin"
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].score > 0
        text = marked(hits[0].snippet)
        assert "**Botulinum** **toxin**" in text
        zh = search(session, "哺乳期 神经肌肉疾病", locale="zh-CN")[0]
        assert zh.id == "botulinum-toxin"
        assert "**哺乳期**" in marked(zh.snippet)


def test_the_locale_filter_and_the_fallback_to_any_word(indexed: Engine) -> None:
    assert ids(indexed, "warfarin", locale="zh-CN") == []  # zh articles say 华法林
    # No article has every word: those with any of them come back, the best first.
    found = ids(indexed, "warfarin zebra", locale="en")
    assert found[0] == "en/warfarin"
    assert ids(indexed, "zebra giraffe") == []
    assert ids(indexed, "the of and") == []  # nothing but stop words


def test_a_query_with_search_syntax_is_read_as_words(indexed: Engine) -> None:
    for query in ('"warfarin', "warfarin OR NOT", "warfarin*", "a:b", "'; DROP TABLE x; --", "(("):
        ids(indexed, query)  # no syntax error from FTS5 or tsquery
    assert "en/warfarin" in ids(indexed, 'warfarin" OR "x')


def test_sync_follows_the_files_changed_and_removed(indexed: Engine) -> None:
    assert sync_articles(indexed, BUNDLED) == (0, 0)  # nothing changed: nothing indexed again
    changed = [
        replace(a, body=a.body + "\n\nZebra crossing.") if a.key == "en/privacy" else a
        for a in BUNDLED
        if a.key != "en/warfarin"
    ]
    assert sync_articles(indexed, changed) == (1, 1)
    assert ids(indexed, "zebra") == ["en/privacy"]
    assert "en/warfarin" not in ids(indexed, "warfarin")
    with Session(indexed) as session:
        assert len(articles(session)) == len(BUNDLED) - 1


def test_many_articles_stay_searchable(engine: Engine) -> None:
    extra = [
        Article(
            id=f"gen-{i}",
            title=f"Generated {i}",
            locale="en",
            trade="pharmacy",
            kind="other",
            tags=("gen",),
            body=f"Filler text number {i} about deliveries." + (" warfarin" if i == 7 else ""),
            source="generated",
        )
        for i in range(300)
    ]
    sync_articles(engine, extra)
    assert ids(engine, "warfarin") == ["en/gen-7"]
    assert len(ids(engine, "deliveries")) == 10  # the limit


@pytest.mark.backends("sqlite")
def test_the_cli_prints_ranked_results_as_text_and_json(tmp_path: Path) -> None:
    env = {"SANDBOX_DATABASE_URL": migrated_sqlite(tmp_path / "cli.db")}
    result = run_in_process(["knowledge", "search", "布洛芬 华法林", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["id"] for r in rows[:2]} == {"ibuprofen", "warfarin"}
    assert set(rows[0]) == {"id", "locale", "title", "score", "snippet"}
    assert "**华法林**" in rows[0]["snippet"] or "**布洛芬**" in rows[0]["snippet"]
    text = run_in_process(["knowledge", "search", "cold chain", "--locale", "en"], env=env)
    assert text.returncode == 0
    first = text.stdout.splitlines()[0]
    assert first.startswith("cold-chain (en)  Cold-chain delivery  score ")
    none = run_in_process(["knowledge", "search", "zebra"], env=env)
    assert (none.returncode, none.stdout.strip()) == (1, "no article matches")
    bad = run_in_process(["knowledge", "search", "x", "--locale", "fr"], env=env)
    assert bad.returncode == 2
    assert "--locale: 'fr' is not one of en, zh-CN" in bad.stderr
    long = run_in_process(["knowledge", "search", "x" * 201], env=env)
    assert long.returncode == 2 and "at most 200 characters (got 201)" in long.stderr


def test_migration_0010_goes_down_and_up_again_with_data(indexed: Engine) -> None:
    from alembic import command

    from sandbox.storage.database import alembic_config, upgrade

    command.downgrade(alembic_config(indexed), "0009")
    with indexed.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert not {"knowledge_articles", "knowledge_searches", "knowledge_fts"} & tables
    upgrade(indexed)
    assert sync_articles(indexed, BUNDLED) == (len(BUNDLED), 0)
    assert ids(indexed, "冷链")[0] == "zh-CN/cold-chain"
