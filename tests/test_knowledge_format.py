"""Knowledge articles: the bundled set, the format's errors as FILE:LINE, the index terms,
the snippets, and `sandbox validate` on articles (docs/knowledge.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cli_support import run_in_process

from sandbox.knowledge.articles import BUNDLED_KNOWLEDGE, load_knowledge
from sandbox.knowledge.terms import marked, query_terms, snippet, terms

GOOD = """---
id: test-article
title: "Test: an article"
locale: en
trade: pharmacy
kind: rule
tags: [one, two]
---
Body text about **warfarin** interactions.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_bundled_knowledge_base_covers_both_languages_trades_and_kinds() -> None:
    loaded = load_knowledge([BUNDLED_KNOWLEDGE])
    assert loaded.errors == []
    by_locale = Counter(a.locale for a in loaded.articles)
    assert by_locale["en"] >= 30 and by_locale["zh-CN"] >= 30
    assert {a.trade for a in loaded.articles} >= {"pharmacy", "aesthetics"}
    assert {a.kind for a in loaded.articles} >= {"monograph", "rule", "procedure"}
    topics = {a.id for a in loaded.articles}
    for topic in ("ibuprofen", "warfarin", "prescription-rules", "returns-refunds", "privacy"):
        assert topic in topics
    for topic in ("cold-chain", "complaint-handling", "escalation", "botulinum-toxin"):
        assert topic in topics
    # Every article tells the reader to follow the label and ask a pharmacist or doctor.
    for article in loaded.articles:
        assert ("pharmacist or doctor" in article.body) or ("药师或医生" in article.body), (
            article.key
        )


def test_a_good_article_loads_with_its_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD)
    loaded = load_knowledge([tmp_path])
    assert loaded.errors == []
    (article,) = loaded.articles
    assert (article.id, article.title, article.locale, article.kind) == (
        "test-article",
        "Test: an article",
        "en",
        "rule",
    )
    assert article.tags == ("one", "two")
    assert article.body.startswith("Body text")


def test_each_problem_names_the_file_and_line(tmp_path: Path) -> None:
    bad = GOOD.replace("locale: en", "locale: fr").replace("tags: [one, two]", "tags: [One]")
    bad = bad.replace("kind: rule", "kind: rule\ncolour: blue")
    path = write(tmp_path, "bad.md", bad)
    loaded = load_knowledge([path])
    assert loaded.articles == []
    shown = sorted(str(e) for e in loaded.errors)
    assert f"{path}:4: locale 'fr' is not one of en, zh-CN" in shown
    assert any(s.startswith(f"{path}:7: unknown key 'colour'") for s in shown)
    assert any(s.startswith(f"{path}:8: tag 'One' must be lower-case") for s in shown)


def test_a_file_without_front_matter_or_body_or_id_is_refused(tmp_path: Path) -> None:
    no_front = write(tmp_path, "a.md", "# Just Markdown\n")
    unclosed = write(tmp_path, "b.md", "---\nid: x\n")
    no_body = write(tmp_path, "c.md", GOOD.split("Body text")[0])
    no_id = write(tmp_path, "d.md", GOOD.replace("id: test-article\n", "id: Bad Id\n"))
    errors = {e.path: e for e in load_knowledge([tmp_path]).errors}
    assert errors[str(no_front)].line == 1
    assert "starts with a '---' line" in errors[str(no_front)].message
    assert "no closing '---'" in errors[str(unclosed)].message
    assert errors[str(no_body)].message == "the article has no text after its front matter"
    assert errors[str(no_id)].line == 2 and "lower-case letters" in errors[str(no_id)].message


def test_an_id_used_twice_in_one_locale_is_reported_at_the_second_file(tmp_path: Path) -> None:
    first = write(tmp_path, "a.md", GOOD)
    second = write(tmp_path, "b.md", GOOD)
    write(tmp_path, "c.md", GOOD.replace("locale: en", "locale: zh-CN"))  # another locale: fine
    loaded = load_knowledge([tmp_path])
    assert len(loaded.articles) == 2
    (problem,) = loaded.errors
    assert problem.path == str(second)
    assert f"already used by {first}" in problem.message


def test_chinese_is_segmented_by_jieba_and_english_is_lemmatised() -> None:
    zh = terms("布洛芬与华法林的药物相互作用")
    assert {"布洛芬", "华法林", "相互作用", "相互", "作用"} <= set(zh)
    assert "的" not in zh
    assert terms("Taking NSAIDs: interactions") == ["take", "nsaids", "interaction"]
    assert query_terms("the interaction INTERACTIONS of") == ["interaction"]


def test_a_snippet_marks_the_searched_words_in_the_original_text() -> None:
    body = "## Interactions\n\nWith **warfarin** the bleeding risk rises.\n\n" + "More. " * 80
    shown = marked(snippet(body, query_terms("warfarin bleeding")))
    assert "With **warfarin** the **bleeding** risk rises." in shown
    zh = marked(snippet("服用**华法林**的顾客不宜自行使用布洛芬。", query_terms("布洛芬")))
    assert zh == "服用华法林的顾客不宜自行使用**布洛芬**。"


def test_sandbox_validate_checks_knowledge_folders(tmp_path: Path) -> None:
    result = run_in_process(["validate", str(BUNDLED_KNOWLEDGE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "knowledge articles: valid" in result.stdout
    bad = write(tmp_path, "bad.md", GOOD.replace("trade: pharmacy", "trade: bakery"))
    result = run_in_process(["validate", str(tmp_path)])
    assert result.returncode == 2
    assert f"{bad}:5: trade 'bakery' is not one of pharmacy, aesthetics, other" in result.stdout
    assert "1 problem in 1 file" in result.stderr
