"""The trainee's pages, rendered by the real app on a temporary database."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_web_chat import MODEL_ANSWER, PACK, SCENARIO, say
from web_support import (
    SHARED_PACKS,
    add_user,
    csrf_token,
    login,
    make_settings,
    start_attempt,
)

from sandbox.storage.models import Role
from sandbox.web.app import create_app
from sandbox.web.i18n import CATALOGUE, negotiate
from sandbox.web.templating import paragraphs


def finish_with(client: TestClient, attempt_id: int, lines: list[str]) -> None:
    with client.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        for index, line in enumerate(lines):
            say(ws, line, f"{attempt_id}-{index}")
        ws.send_json({"type": "finish"})
        frame = ""
        while 'id="feedback-link"' not in frame and "has ended" not in frame:
            frame = ws.receive_text()


def test_catalogue_lists_and_filters_scenarios(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="scenario-pharmacy-basics--cold-remedy-hypertension"' in page.text
    assert "aesthetics-consult-zh" in page.text
    assert 'for="filter-difficulty"' in page.text and 'for="filter-trade"' in page.text
    only_zh = client.get("/?language=zh-CN")
    assert "pharmacy-basics--" not in only_zh.text and "aesthetics-consult-zh--" in only_zh.text
    hard = client.get("/?difficulty=hard&pack=pharmacy-basics")
    assert "late-insulin-delivery" in hard.text and "cold-remedy-hypertension" not in hard.text
    aesthetics = client.get("/?trade=aesthetics")
    assert "pharmacy-basics--" not in aesthetics.text
    none = client.get("/?difficulty=impossible")
    assert 'id="catalogue-empty"' in none.text


def test_htmx_filter_requests_get_only_the_list_block(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    fragment = client.get("/?language=en", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="scenario-list"')
    assert "<html" not in fragment.text
    restore = client.get(
        "/?language=en", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text


def test_catalogue_shows_the_best_score(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    first = start_attempt(client, PACK, SCENARIO)
    finish_with(client, first, MODEL_ANSWER[:1])
    second = start_attempt(client, PACK, SCENARIO)
    assert second != first
    finish_with(client, second, MODEL_ANSWER)
    card = client.get("/?pack=pharmacy-basics").text
    assert "Your best: 100.0" in card


def test_brief_offers_start_then_resume(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    brief = client.get(f"/scenarios/{PACK}/{SCENARIO}")
    assert "Start practice" in brief.text and "Mr. Li" in brief.text
    assert "Retired teacher" not in brief.text  # the background is for mentors only
    attempt_id = start_attempt(client, PACK, SCENARIO)
    assert "Resume your conversation" in client.get(f"/scenarios/{PACK}/{SCENARIO}").text
    assert start_attempt(client, PACK, SCENARIO) == attempt_id


def test_unknown_addresses_get_a_page_not_a_traceback(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    for path in ("/scenarios/nope/nothing", "/attempts/12345", "/attempts/12345/feedback"):
        response = client.get(path)
        assert response.status_code == 404
        assert 'id="error-message"' in response.text
    bad = client.get("/attempts/not-a-number")
    assert bad.status_code in (400, 404)
    assert "Traceback" not in bad.text


def test_feedback_is_for_the_owner_their_mentor_and_admins(
    app: FastAPI, client: TestClient
) -> None:
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "tao", mentor="mei")
    add_user(app, "lin")
    add_user(app, "boss", Role.ADMIN)
    login(client, "tao")
    attempt_id = start_attempt(client, PACK, SCENARIO)
    finish_with(client, attempt_id, MODEL_ANSWER[:2])
    own = client.get(f"/attempts/{attempt_id}/feedback")
    assert own.status_code == 200
    assert 'id="retry-form"' in own.text
    assert "Facts you never uncovered" in own.text
    for name, status in (("mei", 200), ("boss", 200), ("lin", 403)):
        with TestClient(app) as other:
            login(other, name)
            response = other.get(f"/attempts/{attempt_id}/feedback")
            assert response.status_code == status, name
            if status == 200:
                assert 'id="retry-form"' not in response.text


def test_feedback_marks_missed_and_violated_criteria(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    attempt_id = start_attempt(client, PACK, SCENARIO)
    finish_with(
        client,
        attempt_id,
        [
            "Hi! Our strongest is pseudoephedrine tablets, you should try them, they work best.",
            "It's totally safe, no side effects.",
        ],
    )
    page = client.get(f"/attempts/{attempt_id}/feedback").text
    assert 'id="passed" class="verdict">Not passed' in page
    assert 'class="criterion status-violated"' in page
    assert 'class="criterion status-missed"' in page
    assert "mark-bad" in page  # the message that broke a rule is highlighted
    assert "I take amlodipine every morning" in page  # a fact never uncovered
    retry = client.post(
        f"/scenarios/{PACK}/{SCENARIO}/attempts",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=False,
    )
    assert retry.headers["location"] != f"/attempts/{attempt_id}"


def test_history_shows_best_latest_and_a_chart(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    assert 'id="history-empty"' in client.get("/history").text
    for lines in (MODEL_ANSWER[:1], MODEL_ANSWER, MODEL_ANSWER[:2]):
        finish_with(client, start_attempt(client, PACK, SCENARIO), lines)
    page = client.get("/history").text
    assert "<svg" in page and 'role="group"' in page and '<title id="chart-0-title">' in page
    assert page.count('<circle class="point') == 3
    # One chart for the scenario: its title and pass mark, a legend, and every point a link to
    # its attempt's feedback that names the date and the score; the dates under the axis.
    chart = page[page.index('id="progress-chart-0"') :].split("</figure>")[0]
    assert "Scores over time: " in chart and "3 graded attempts, pass mark 70" in chart
    assert 'id="chart-legend"' in page and "Pass mark of the scenario" in page
    links = re.findall(
        r'<a href="/attempts/(\d+)/feedback" class="point-link" aria-label="([^"]+)"', chart
    )
    assert len(links) == 3
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC: 100\.0, Passed", links[1][1]), links
    assert len(re.findall(r'<text class="axis date"', chart)) == 2
    assert 'class="pass-mark"' in chart
    row = page.split('id="history-pharmacy-basics--cold-remedy-hypertension"')[1].split("</tr>")[0]
    assert "100.0" in row and '<td data-label="Attempts">3</td>' in row


def test_a_broken_pack_is_skipped_and_shown_to_admins(tmp_path: Path) -> None:
    broken = tmp_path / "packs"
    broken.mkdir()
    (broken / "broken.yaml").write_text("pack:\n  id: Not Valid\nscenarios: []\n")
    settings = make_settings(tmp_path, packs=f"{SHARED_PACKS}:{broken}")
    app = create_app(settings)
    assert sorted(app.state.sandbox.library.packs) == ["aesthetics-consult-zh", "pharmacy-basics"]
    assert any("broken.yaml" in error for error in app.state.sandbox.library.errors)
    add_user(app, "tao")
    add_user(app, "boss", Role.ADMIN)
    with TestClient(app) as trainee_client:
        login(trainee_client, "tao")
        assert 'id="pack-errors"' not in trainee_client.get("/").text
    with TestClient(app) as admin_client:
        login(admin_client, "boss")
        page = admin_client.get("/").text
        assert 'id="pack-errors"' in page and "broken.yaml" in page


def test_pages_speak_chinese_when_asked(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    page = client.get("/history", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="zh-CN">' in page and "我的进度" in page


def test_both_catalogues_have_the_same_messages() -> None:
    assert set(CATALOGUE["en"]) == set(CATALOGUE["zh-CN"])
    assert negotiate("zh-TW, en;q=0.1") == "en"
    assert negotiate("zh") == "zh-CN"
    assert negotiate("") == "en"


def test_own_css_and_chat_script_are_served(client: TestClient) -> None:
    css = client.get("/static/sandbox.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert client.get("/static/chat.js").status_code == 200


def test_pages_carry_security_headers(client: TestClient) -> None:
    page = client.get("/login")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script the policy would block


def test_briefs_are_shown_as_paragraphs() -> None:
    assert paragraphs("A <b>customer</b>\nwrites.\n\nSecond.") == (
        "<p>A &lt;b&gt;customer&lt;/b&gt; writes.</p><p>Second.</p>"
    )
    assert paragraphs("顾客\n咨询。") == "<p>顾客咨询。</p>"


def test_every_message_key_used_is_in_the_catalogue() -> None:
    web = Path(__file__).resolve().parents[1] / "sandbox" / "web"
    used: set[str] = set()
    for path in [*web.glob("templates/*.html"), *web.glob("**/*.py")]:
        text = path.read_text(encoding="utf-8")
        # A key built at run time ('calsession.from.' ~ source) is listed in DYNAMIC.
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_]+\.[a-z_.0-9]*[a-z_0-9])['"]""", text))
        used |= set(
            re.findall(r"""["']((?:chat\.notice|error|end)\.[a-z_0-9]+)(?<!\.html)["']""", text)
        )
    dynamic = {f"{prefix}.{name}" for prefix, names in DYNAMIC.items() for name in names}
    missing = sorted(key for key in used | dynamic if key not in CATALOGUE["en"])
    assert missing == []


DYNAMIC = {
    "status": ["met", "missed", "not_applicable", "clear", "violated"],
    "band": ["excellent", "good", "pass", "fail"],
    "end": ["completed", "finished", "timeout", "superseded"],
    "difficulty": ["easy", "medium", "hard"],
    "trade": ["pharmacy", "aesthetics", "other"],
    "knowledge_kind": ["monograph", "rule", "procedure", "other"],
    "knowledge_trade": ["pharmacy", "aesthetics", "other"],
    "role": ["trainee", "mentor", "proctor", "admin"],
    "flag_reason": [
        "negated_mention",
        "wrong_speech_act",
        "partial_pattern",
        "blocked_by_not",
        "out_of_scope",
        "topic_reference",
        "content_despite_critical",
        "cut_short",
    ],
    "queue_state": ["unreviewed", "reviewed", "all"],
    "queue_mode": ["all", "exam", "practice"],
    "queue_decided": ["confirm", "override"],
    "second_rule": ["failed", "borderline", "random", "all"],
    "second_state": ["open", "marked", "settled"],
    "hint.kind": ["inquiry", "contraindication", "disclosure", "etiquette", "outcome"],
    "items.flag": ["hard", "easy", "weak", "negative"],
    "written.handed_in": ["submitted", "deadline"],
    "quiz.refused": ["empty", "weak_none"],
    "marking.refused": ["bad_mark", "not_submitted"],
    "written.refused": [
        "submitted",
        "time_up",
        "answered",
        "bad_answer",
        "no_answer",
        "no_question",
        "closed",
        "empty",
    ],
    "calsession.from": ["reviewed", "second"],
    "suggest.part": ["both", "example", "phrase"],
}


def test_feedback_says_why_each_verdict_without_the_answer_key(
    app: FastAPI, client: TestClient
) -> None:
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "tao", mentor="mo")
    login(client, "tao")
    attempt_id = start_attempt(client, PACK, SCENARIO)
    finish_with(client, attempt_id, ["Hello!", "It's totally safe, no side effects."])
    page = client.get(f"/attempts/{attempt_id}/feedback").text
    reason = re.search(r'id="reason-no-guarantee">([^<]*)<', page)
    assert reason is not None and reason.group(1).startswith("said in message")
    # The trainee is told where, not which words of the rubric decided it.
    assert "no side effects'" not in reason.group(1)
    login(client, "mo")
    staff = client.get(f"/attempts/{attempt_id}/feedback").text
    staff_reason = re.search(r'id="reason-no-guarantee">([^<]*)<', staff)
    assert staff_reason is not None
    assert staff_reason.group(1) == "message 4 says &#39;totally safe&#39;"  # as pages number
    review = client.get(f"/mentor/attempts/{attempt_id}").text
    assert 'id="reason-no-guarantee"' in review
