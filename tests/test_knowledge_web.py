"""The knowledge base on the web: the /knowledge page and article view, the chat's search
panel, searches recorded for mentors, open-book and closed-book exams (docs/knowledge.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from exam_support import COLD, FakeClock, make_exam, start
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from web_support import make_settings, start_attempt

from sandbox.config import Settings
from sandbox.storage.knowledge import KnowledgeSearch
from sandbox.storage.models import User

# Each test runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")

Browsers = Callable[[str], TestClient]
PACK, SCENARIO = COLD.split("/")

SCRIPTED = """---
id: scripted
title: "Scripted <b>title</b>"
locale: en
trade: other
tags: [test]
---
A body with <script>alert(1)</script> and [a link](javascript:alert(1)) about zebras.
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The bundled knowledge base and one article of the test's own (SANDBOX_KNOWLEDGE)."""
    folder = tmp_path / "org-knowledge"
    folder.mkdir()
    (folder / "scripted.md").write_text(SCRIPTED, encoding="utf-8")
    broken = SCRIPTED.replace("id: scripted", "id: broken").replace("locale: en", "locale: xx")
    (folder / "broken.md").write_text(broken.replace("Scripted", "Broken"), encoding="utf-8")
    return make_settings(
        tmp_path, database_url=database_url, builtin_knowledge=True, knowledge=str(folder)
    )


def searches(app: FastAPI) -> list[KnowledgeSearch]:
    with Session(app.state.sandbox.engine) as session:
        return list(session.exec(select(KnowledgeSearch).order_by(KnowledgeSearch.id)).all())


def test_the_page_searches_in_both_languages_and_lists_articles(
    browsers: Browsers, app: FastAPI
) -> None:
    tao = browsers("tao")
    page = tao.get("/knowledge")
    assert page.status_code == 200
    assert 'id="knowledge-list"' in page.text and "Cold-chain delivery" in page.text
    found = tao.get("/knowledge", params={"q": "布洛芬 华法林"})
    assert found.status_code == 200
    assert "<mark>华法林</mark>" in found.text
    assert 'href="/knowledge/articles/zh-CN/ibuprofen"' in found.text
    assert "articles for “布洛芬 华法林”" in found.text
    english = tao.get("/knowledge", params={"q": "refund", "locale": "en"})
    titles = re.findall(r'class="hit-title" href="([^"]+)"', english.text)
    assert titles[0] == "/knowledge/articles/en/returns-refunds"
    assert all("/en/" in t for t in titles)
    (one,) = [s for s in searches(app) if s.query == "refund"]
    assert (one.locale, one.attempt_id, one.results) == ("en", None, len(titles))


def test_the_page_speaks_chinese_to_a_chinese_reader(browsers: Browsers, app: FastAPI) -> None:
    with Session(app.state.sandbox.engine) as session:
        user = session.exec(select(User).where(User.name == "tao")).one()
        user.locale = "zh-CN"
        session.add(user)
        session.commit()
    page = browsers("tao").get("/knowledge", params={"q": "冷链"})
    assert "<h1>知识库</h1>" in page.text
    assert "“冷链”共找到" in page.text


def test_bad_search_fields_get_a_message_not_an_error(browsers: Browsers) -> None:
    tao = browsers("tao")
    long = tao.get("/knowledge", params={"q": "x" * 201})
    assert long.status_code == 400
    assert "A search may be at most 200 characters long." in long.text
    locale = tao.get("/knowledge", params={"q": "x", "locale": "fr"})
    assert locale.status_code == 400
    assert "Choose the articles&#39; language from the list." in locale.text


def test_an_article_is_shown_as_safe_html(browsers: Browsers) -> None:
    tao = browsers("tao")
    page = tao.get("/knowledge/articles/en/warfarin")
    assert page.status_code == 200
    assert "<h1>Warfarin</h1>" in page.text
    assert "<h2>Interactions</h2>" in page.text and "<strong>NSAIDs</strong>" in page.text
    scripted = tao.get("/knowledge/articles/en/scripted")
    assert scripted.status_code == 200
    assert "<script>alert(1)</script>" not in scripted.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in scripted.text
    assert 'href="javascript' not in scripted.text
    assert "Scripted &lt;b&gt;title&lt;/b&gt;" in scripted.text
    # A broken article of the organisation's folder is skipped (and logged); the rest serve.
    assert tao.get("/knowledge/articles/en/broken").status_code == 404
    assert "Broken" not in tao.get("/knowledge").text
    assert tao.get("/knowledge/articles/en/no-such").status_code == 404
    assert tao.get("/knowledge/articles/fr/warfarin").status_code == 404


def test_the_knowledge_base_needs_a_login(client: TestClient) -> None:
    response = client.get("/knowledge", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_the_practice_chat_panel_searches_and_records_the_attempt(
    browsers: Browsers, app: FastAPI
) -> None:
    tao = browsers("tao")
    attempt_id = start_attempt(tao, PACK, SCENARIO)
    chat = tao.get(f"/attempts/{attempt_id}")
    assert 'id="knowledge-panel"' in chat.text
    assert f'hx-get="/knowledge/panel/{attempt_id}"' in chat.text
    panel = tao.get(f"/knowledge/panel/{attempt_id}", params={"q": "decongestant"})
    assert panel.status_code == 200
    assert "<html" not in panel.text  # a fragment
    assert f'hx-get="/knowledge/panel/{attempt_id}/articles/en/decongestants"' in panel.text
    article = tao.get(f"/knowledge/panel/{attempt_id}/articles/en/decongestants")
    assert article.status_code == 200 and 'id="panel-article"' in article.text
    (row,) = searches(app)
    assert (row.query, row.attempt_id, row.user_id) == ("decongestant", attempt_id, row.user_id)
    assert row.results >= 1
    # Another trainee cannot search from tao's conversation.
    assert (
        browsers("mei").get(f"/knowledge/panel/{attempt_id}", params={"q": "x"}).status_code == 404
    )


def test_a_mentor_sees_what_their_own_trainees_searched(browsers: Browsers) -> None:
    tao, kim = browsers("tao"), browsers("kim")
    attempt_id = start_attempt(tao, PACK, SCENARIO)
    tao.get(f"/knowledge/panel/{attempt_id}", params={"q": "blood pressure"})
    kim.get("/knowledge", params={"q": "kim's own question"})
    page = browsers("mo").get("/mentor/searches")
    assert page.status_code == 200
    assert "blood pressure" in page.text
    assert f'href="/mentor/attempts/{attempt_id}"' in page.text
    assert "kim&#39;s own question" not in page.text  # kim is not mo's trainee
    review = browsers("mo").get(f"/mentor/attempts/{attempt_id}")
    assert review.status_code == 200
    section = review.text.split('id="attempt-searches"')[1].split("</section>")[0]
    assert "blood pressure" in section and "result" in section
    assert browsers("tao").get("/mentor/searches").status_code == 403


def test_a_closed_book_exam_hides_the_panel_and_refuses_searches(
    proctor: TestClient, clock: FakeClock, people: dict[str, User], browsers: Browsers
) -> None:
    tao = browsers("tao")
    practice_id = start_attempt(tao, PACK, "late-insulin-delivery")
    exam_id = make_exam(proctor, clock, people)  # closed-book: the default
    assert (
        "Closed book: no knowledge-base searches" in proctor.get(f"/proctor/exams/{exam_id}").text
    )
    assert 'id="exam-book"' in tao.get(f"/exams/{exam_id}").text
    attempt_id = start(tao, exam_id)
    chat = tao.get(f"/attempts/{attempt_id}")
    assert chat.status_code == 200 and 'id="knowledge-panel"' not in chat.text
    refused = [
        tao.get("/knowledge", params={"q": "warfarin"}),
        tao.get("/knowledge/articles/en/warfarin"),
        tao.get(f"/knowledge/panel/{attempt_id}", params={"q": "warfarin"}),
        tao.get(f"/knowledge/panel/{practice_id}", params={"q": "warfarin"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    why = "You are in a closed-book exam: the knowledge base opens again when your exam"
    assert why in refused[0].text and why in refused[3].text
    # Another candidate, not in an exam conversation, still searches.
    assert browsers("mei").get("/knowledge", params={"q": "warfarin"}).status_code == 200


def test_an_open_book_exam_offers_the_panel(
    proctor: TestClient, clock: FakeClock, people: dict[str, User], browsers: Browsers, app: FastAPI
) -> None:
    exam_id = make_exam(proctor, clock, people, open_book="1")
    assert "Open book: candidates may search" in proctor.get(f"/proctor/exams/{exam_id}").text
    edit = proctor.get(f"/proctor/exams/{exam_id}/edit")
    assert re.search(r'id="field-open_book"[^>]*checked', edit.text)
    tao = browsers("tao")
    assert "Open book: you may search" in tao.get(f"/exams/{exam_id}").text
    attempt_id = start(tao, exam_id)
    assert 'id="knowledge-panel"' in tao.get(f"/attempts/{attempt_id}").text
    panel = tao.get(f"/knowledge/panel/{attempt_id}", params={"q": "hypertension"})
    assert panel.status_code == 200 and "<mark>" in panel.text
    assert searches(app)[-1].attempt_id == attempt_id
