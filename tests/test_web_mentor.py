"""The mentor's pages and the case library, on the real app with a temporary SQLite file."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import (
    GOOD,
    PACK,
    REASSURANCE,
    SCENARIO,
    attempt_of,
    audit_rows,
    changed_pack_folder,
    graded_attempt,
)
from sqlalchemy import event
from sqlmodel import Session, select
from web_support import (
    SAME_ORIGIN,
    SHARED_PACKS,
    add_user,
    csrf_token,
    login,
    make_settings,
    needs_postgres,
    postgres_database,
)

from sandbox.scenarios.library import load_library
from sandbox.storage.models import Attempt, Role, User
from sandbox.storage.reviews import GradeOverride, ReviewComment, TeachingCase
from sandbox.web.app import create_app
from sandbox.web.templating import static_url


@contextmanager
def signed_in(app: FastAPI, name: str) -> Iterator[TestClient]:
    with TestClient(app, headers=SAME_ORIGIN) as other:
        login(other, name)
        yield other


@pytest.fixture
def team(app: FastAPI) -> dict[str, int]:
    return make_team(app)


def make_team(app: FastAPI) -> dict[str, int]:
    """Two mentors with a trainee each, an admin, and graded attempts."""
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "ming", Role.MENTOR)
    add_user(app, "root", Role.ADMIN)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    add_user(app, "lin", Role.TRAINEE, mentor="ming")
    return {
        "tao_good": graded_attempt(app, "tao", GOOD),
        "tao_bad": graded_attempt(app, "tao", REASSURANCE),
        "lin_bad": graded_attempt(app, "lin", REASSURANCE),
    }


def post_form(client: TestClient, page_url: str, url: str, data: dict[str, str]) -> httpx.Response:
    """Post a form the way a browser does: with the CSRF token of the page it is on."""
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def listed(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<tr id="attempt-(\d+)"', html)}


# --- who may see what -------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client: TestClient, team: dict[str, int]) -> None:
    for url in (
        "/mentor",
        "/mentor/attempts",
        f"/mentor/attempts/{team['tao_bad']}",
        "/mentor/regrade",
        "/cases",
    ):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=")


def test_trainees_cannot_reach_mentor_pages(
    app: FastAPI, client: TestClient, team: dict[str, int]
) -> None:
    login(client, "tao")
    for url in ("/mentor/attempts", f"/mentor/attempts/{team['tao_bad']}", "/mentor/regrade"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert 'id="error-message"' in response.text
    # Not even on their own attempt, and not by posting.
    response = post_form(
        client,
        "/cases",
        f"/mentor/attempts/{team['tao_bad']}/overrides",
        {"criterion": "decongestant-warning", "status": "met", "reason": "me"},
    )
    assert response.status_code == 403
    assert attempt_of(app, team["tao_bad"]).grade.get("automatic") is None  # type: ignore[union-attr]
    assert client.get("/cases").status_code == 200


def test_a_mentor_sees_only_their_own_trainees(
    app: FastAPI, client: TestClient, team: dict[str, int]
) -> None:
    login(client, "mei")
    page = client.get("/mentor/attempts")
    assert page.status_code == 200
    assert listed(page.text) == {team["tao_good"], team["tao_bad"]}
    assert ">lin<" not in page.text
    assert client.get(f"/mentor/attempts/{team['tao_bad']}").status_code == 200
    assert client.get(f"/mentor/attempts/{team['lin_bad']}").status_code == 403
    refused = post_form(
        client,
        "/mentor/attempts",
        f"/mentor/attempts/{team['lin_bad']}/comments",
        {"text": "hello"},
    )
    assert refused.status_code == 403
    # Asking for another mentor's trainee by id is a marked filter, not a leak.
    with Session(app.state.sandbox.engine) as session:
        lin_id = session.exec(select(Attempt.user_id).where(Attempt.id == team["lin_bad"])).one()
    marked = client.get(f"/mentor/attempts?trainee={lin_id}")
    assert marked.status_code == 400 and listed(marked.text) == set()
    assert 'id="error-trainee"' in marked.text
    assert client.get("/mentor/attempts/99999").status_code == 404
    with signed_in(app, "root") as admin:
        assert listed(admin.get("/mentor/attempts").text) == set(team.values())
        assert admin.get(f"/mentor/attempts/{team['lin_bad']}").status_code == 200


# --- the list -----------------------------------------------------------------------------


def test_filters_narrow_the_list(app: FastAPI, client: TestClient, team: dict[str, int]) -> None:
    add_user(app, "yun", Role.TRAINEE, mentor="mei")
    march = graded_attempt(app, "yun", GOOD, started_at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    other = graded_attempt(app, "yun", ["Hello, how are you?"], scenario_id="late-insulin-delivery")
    login(client, "mei")
    everything = listed(client.get("/mentor/attempts").text)
    assert everything == {team["tao_good"], team["tao_bad"], march, other}
    with Session(app.state.sandbox.engine) as session:
        yun = session.exec(select(Attempt.user_id).where(Attempt.id == march)).one()
    assert listed(client.get(f"/mentor/attempts?trainee={yun}").text) == {march, other}
    assert listed(client.get(f"/mentor/attempts?scenario={PACK}/late-insulin-delivery").text) == {
        other
    }
    assert listed(client.get("/mentor/attempts?date_from=2026-03-01&date_to=2026-03-10").text) == {
        march
    }
    assert march not in listed(client.get("/mentor/attempts?date_from=2026-03-11").text)
    assert listed(client.get("/mentor/attempts?passed=yes").text) == {team["tao_good"], march}
    assert team["tao_bad"] in listed(client.get("/mentor/attempts?passed=no").text)
    missed = listed(client.get("/mentor/attempts?criterion=decongestant-warning").text)
    assert missed == {team["tao_bad"]}
    combined = client.get(f"/mentor/attempts?trainee={yun}&passed=yes&scenario={PACK}/{SCENARIO}")
    assert listed(combined.text) == {march}
    # The form shows back what was chosen.
    assert 'value="2026-03-01"' in client.get("/mentor/attempts?date_from=2026-03-01").text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date_from=2026-13-45", "date_from"),
        ("date_to=yesterday", "date_to"),
        ("date_from=2026-05-02&date_to=2026-05-01", "date_to"),
        ("passed=maybe", "passed"),
        ("criterion=%3Cscript%3E", "criterion"),
        ("scenario=nope/nope", "scenario"),
        ("trainee=abc", "trainee"),
    ],
)
def test_bad_filter_values_come_back_marked(
    client: TestClient, team: dict[str, int], query: str, field: str
) -> None:
    login(client, "mei")
    response = client.get(f"/mentor/attempts?{query}")
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.text
    assert f'aria-describedby="error-{field}"' in response.text
    assert "<script>" not in response.text


def test_pages_of_twenty(app: FastAPI, client: TestClient, team: dict[str, int]) -> None:
    for _ in range(21):
        graded_attempt(app, "tao", REASSURANCE[:1])
    login(client, "mei")
    first = client.get("/mentor/attempts")
    assert len(listed(first.text)) == 20 and "Page 1 of 2" in first.text
    second = client.get("/mentor/attempts?page=2")
    assert len(listed(second.text)) == 3
    assert listed(first.text).isdisjoint(listed(second.text))
    assert client.get("/mentor/attempts?page=zz").status_code == 200
    # The next-page link keeps the filters and continues after the page's last attempt
    # (keyset: no OFFSET however deep); the previous link of that page leads back.
    link = client.get("/mentor/attempts?passed=no").text
    found = re.search(r'id="page-next" href="(/mentor/attempts\?passed=no&amp;after=\d+)"', link)
    assert found is not None
    following = client.get(found.group(1).replace("&amp;", "&")).text
    assert "Page 2 of 2" in following and listed(following).isdisjoint(listed(link))
    back = re.search(r'id="page-previous" href="([^"]+)"', following)
    assert back is not None and "before=" in back.group(1)
    assert listed(client.get(back.group(1).replace("&amp;", "&")).text) == listed(link)


def test_a_page_number_that_cannot_be_followed_says_so(
    app: FastAPI, client: TestClient, team: dict[str, int]
) -> None:
    """Not a number, or past the last page: the nearest page, with a message, never a 500."""
    for _ in range(21):
        graded_attempt(app, "tao", REASSURANCE[:1])
    login(client, "mei")
    first = listed(client.get("/mentor/attempts").text)
    last = listed(client.get("/mentor/attempts?page=2").text)
    assert len(first) == 20 and len(last) == 3
    not_a_page = "That is not a page number: showing the first page."
    for query, rows, message in (
        ("page=2", last, None),
        ("page=zz", first, not_a_page),
        ("page=-1", first, not_a_page),
        ("page=0", first, not_a_page),
        ("page=99999999999999999999", first, not_a_page),
        ("page=7", last, "That page is past the end: showing the last page (2)."),
    ):
        response = client.get(f"/mentor/attempts?{query}")
        assert response.status_code == 200, query
        assert listed(response.text) == rows, query
        if message is None:
            assert 'id="page-problem"' not in response.text, query
        else:
            assert 'id="page-problem"' in response.text and message in response.text, query
    assert 'id="page-problem"' not in client.get("/cases").text
    for query in ("page=3", "page=abc"):
        library = client.get(f"/cases?{query}")
        assert library.status_code == 200 and 'id="page-problem"' in library.text, query


def test_the_list_reads_a_fixed_number_of_queries_with_fifty_attempts(
    app: FastAPI, client: TestClient
) -> None:
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    login(client, "mei")
    engine = app.state.sandbox.engine
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def queries(url: str) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    for _ in range(3):
        graded_attempt(app, "tao", REASSURANCE)
    few = queries("/mentor/attempts"), queries("/mentor/attempts?criterion=decongestant-warning")
    for index in range(47):
        graded_attempt(app, "tao", GOOD if index % 2 else REASSURANCE)
    many = queries("/mentor/attempts"), queries("/mentor/attempts?criterion=decongestant-warning")
    assert many == few
    assert max(many) <= 12


# --- the review page ----------------------------------------------------------------------


def test_the_review_page_shows_timing_verdicts_and_the_player(
    client: TestClient, team: dict[str, int]
) -> None:
    login(client, "mei")
    page = client.get(f"/mentor/attempts/{team['tao_bad']}")
    assert page.status_code == 200
    html = page.text
    assert f'<script src="{static_url("replay.js")}" defer></script>' in html
    assert 'id="replay-player"' in html and 'id="replay-speed"' in html
    assert all(f'<option value="{n}"' in html for n in (1, 2, 4))
    assert 'data-at="12.000"' in html and 'data-at="24.000"' in html
    assert "+12.0 s after the previous line" in html and "answered after 12.0 s" in html
    # Each message carries the verdicts it is evidence of.
    row = html[html.index('id="msg-1"') : html.index('id="msg-2"')]
    assert "Asks about other medicines" in row and "Met" in row
    assert 'id="criterion-decongestant-warning"' in html
    assert "Stays courteous throughout" in html  # descriptions come from the pack's rubric
    assert "fact revealed" in html  # why the persona said what it said
    assert "<script>" not in html
    assert client.get(static_url("replay.js")).status_code == 200
    assert client.get("/static/review.css").status_code == 200


def test_an_override_needs_a_reason(app: FastAPI, client: TestClient, team: dict[str, int]) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_bad']}"
    before = attempt_of(app, team["tao_bad"])
    for reason in ("", "   "):
        response = post_form(
            client,
            url,
            f"{url}/overrides",
            {"criterion": "decongestant-warning", "status": "met", "reason": reason},
        )
        assert response.status_code == 400
        assert 'id="override-reason-error-decongestant-warning"' in response.text
        assert (
            'aria-invalid="true" aria-describedby="override-reason-error-decongestant-warning"'
            in response.text
        )
        assert "Give a reason for the change." in response.text
    after = attempt_of(app, team["tao_bad"])
    assert (after.score, after.grade) == (before.score, before.grade)
    assert audit_rows(app, "grade.override") == []
    with Session(app.state.sandbox.engine) as session:
        assert session.exec(select(GradeOverride)).all() == []


@pytest.mark.parametrize(
    ("data", "marker"),
    [
        (
            {"criterion": "no-such-thing", "status": "met", "reason": "x"},
            "There is no such criterion",
        ),
        ({"criterion": "no-guarantee", "status": "met", "reason": "x"}, "Choose a status"),
        ({"criterion": "greeting", "status": "", "reason": "x"}, "Choose a status"),
        ({"criterion": "", "status": "", "reason": ""}, "Choose a status"),
    ],
)
def test_bad_overrides_come_back_marked(
    app: FastAPI, client: TestClient, team: dict[str, int], data: dict[str, str], marker: str
) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_bad']}"
    response = post_form(client, url, f"{url}/overrides", data)
    assert response.status_code == 400
    assert marker in response.text and 'id="review-error"' in response.text
    assert audit_rows(app, "grade.override") == []


def test_an_override_recomputes_the_score_and_keeps_the_automatic_verdict(
    app: FastAPI, client: TestClient, team: dict[str, int]
) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_bad']}"
    automatic = attempt_of(app, team["tao_bad"])
    assert automatic.passed is False
    response = post_form(
        client,
        url,
        f"{url}/overrides",
        {
            "criterion": "decongestant-warning",
            "status": "met",
            "reason": "The reassurance was a typo, corrected by phone",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{url}#criterion-decongestant-warning"
    changed = attempt_of(app, team["tao_bad"])
    assert changed.score is not None and automatic.score is not None
    assert changed.score > automatic.score
    assert changed.grade is not None and changed.grade["automatic"]["score"] == automatic.score
    page = client.get(url).text
    assert f"automatic: {automatic.score:.1f}" in page
    assert "automatic: Missed" in page and "overridden" in page
    history = page[page.index('id="override-table"') :]
    assert (
        "mei" in history and "The reassurance was a typo" in history and "Missed → Met" in history
    )
    (row,) = audit_rows(app, "grade.override")
    with Session(app.state.sandbox.engine) as session:
        mei = session.exec(select(User).where(User.name == "mei")).one()
    assert row.actor_id == mei.id and row.at is not None
    assert (row.subject_type, row.subject_id) == ("attempt", str(team["tao_bad"]))
    assert row.old["status"] == "missed" and row.new["status"] == "met"
    assert row.old["score"] == automatic.score and row.new["score"] == changed.score
    assert row.reason == "The reassurance was a typo, corrected by phone"
    # The trainee's own pages now show the effective score.
    with signed_in(app, "tao") as trainee:
        feedback = trainee.get(f"/attempts/{team['tao_bad']}/feedback").text
        assert f'id="score" class="score">{changed.score:.1f}<' in feedback
        assert "The reassurance was a typo" in feedback


def test_state_changes_need_a_post_with_a_csrf_token(
    app: FastAPI, client: TestClient, team: dict[str, int]
) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_bad']}"
    for path, data in (
        ("overrides", {"criterion": "greeting", "status": "missed", "reason": "x"}),
        ("comments", {"text": "x"}),
        ("case", {"example": "bad", "tags": "", "note": ""}),
        ("case/delete", {}),
    ):
        assert client.post(f"{url}/{path}", data=data, follow_redirects=False).status_code == 403
        assert (
            client.post(
                f"{url}/{path}", data={**data, "csrf_token": "forged"}, follow_redirects=False
            ).status_code
            == 403
        )
        assert client.get(f"{url}/{path}", params=data).status_code == 404
    assert client.post("/mentor/regrade", data={"pack": PACK, "attempt": "1"}).status_code == 403
    assert audit_rows(app) == [e for e in audit_rows(app) if e.action.startswith("login")]
    with Session(app.state.sandbox.engine) as session:
        assert session.exec(select(ReviewComment)).all() == []
        assert session.exec(select(TeachingCase)).all() == []


# --- comments -------------------------------------------------------------------------------


def test_comments_are_shown_to_the_trainee(
    app: FastAPI, client: TestClient, team: dict[str, int]
) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_bad']}"
    on_message = post_form(
        client,
        url,
        f"{url}/comments",
        {"text": "Never reassure about a decongestant.", "message_seq": "3"},
    )
    assert on_message.status_code == 303 and on_message.headers["location"].endswith("#msg-3")
    whole = post_form(client, url, f"{url}/comments", {"text": "Ask first, then warn."})
    assert whole.status_code == 303
    page = client.get(url).text
    row = page[page.index('id="msg-3"') : page.index('id="msg-4"')]
    assert "Never reassure about a decongestant." in row
    assert "Ask first, then warn." in page[page.index('id="attempt-comments"') :]
    with signed_in(app, "tao") as trainee:
        feedback = trainee.get(f"/attempts/{team['tao_bad']}/feedback")
        assert feedback.status_code == 200
        notes = feedback.text[feedback.text.index('id="mentor-review"') :]
        assert "Never reassure about a decongestant." in notes and "On message #4" in notes
        assert "Ask first, then warn." in notes and "mei" in notes
    # Another trainee sees none of it.
    with signed_in(app, "lin") as stranger:
        assert stranger.get(f"/attempts/{team['tao_bad']}/feedback").status_code == 403


@pytest.mark.parametrize(
    "data",
    [
        {"text": "  "},
        {"text": "x", "message_seq": "99"},
        {"text": "x", "message_seq": "-1"},
        {"text": "x", "message_seq": "abc"},
        {"text": "x" * 4001},
    ],
)
def test_bad_comments_come_back_marked(
    app: FastAPI, client: TestClient, team: dict[str, int], data: dict[str, str]
) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_bad']}"
    response = post_form(client, url, f"{url}/comments", data)
    assert response.status_code == 400
    assert 'id="comment-error"' in response.text or 'id="comment-error-' in response.text
    with Session(app.state.sandbox.engine) as session:
        assert session.exec(select(ReviewComment)).all() == []


# --- teaching cases -------------------------------------------------------------------------


def test_the_case_library_hides_names(app: FastAPI, client: TestClient) -> None:
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "zhang.wei", Role.TRAINEE, mentor="mei")
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    attempt = graded_attempt(
        app,
        "zhang.wei",
        [
            "Hi, I'm Zhang Wei from the pharmacy. Are you on any medication? Tao says hi too.",
            "Pseudoephedrine won't affect your blood pressure, don't worry, ZHANG.WEI promises.",
        ],
    )
    login(client, "mei")
    url = f"/mentor/attempts/{attempt}"
    marked = post_form(
        client,
        url,
        f"{url}/case",
        {
            "example": "bad",
            "tags": "reassurance, contraindication",
            "note": "Wei reassures instead of warning.",
        },
    )
    assert marked.status_code == 303
    assert "in the case library as a bad example" in client.get(url).text
    with Session(app.state.sandbox.engine) as session:
        case = session.exec(select(TeachingCase)).one()
    with signed_in(app, "tao") as trainee:
        library = trainee.get("/cases")
        assert library.status_code == 200
        assert f'id="case-{case.id}"' in library.text
        page = trainee.get(f"/cases/{case.id}")
        assert page.status_code == 200
        for html in (library.text, page.text):
            assert not re.search(r"zhang|\bwei\b", html, re.I), "a name leaked"
        assert "[name] reassures instead of warning." in page.text
        assert "Hi, I&#39;m [name] from the pharmacy" in page.text
        assert "[name] says hi too" in page.text  # other trainees' names too
        assert "Bad example" in page.text and "reassurance" in page.text
        assert 'id="case-review-link"' not in page.text
        assert 'id="replay-player"' in page.text and 'id="criteria"' in page.text
        # Search by tag, scenario and text; a name finds nothing.
        assert f'id="case-{case.id}"' in trainee.get("/cases?tag=reassurance").text
        assert f'id="case-{case.id}"' not in trainee.get("/cases?tag=complaint").text
        assert f'id="case-{case.id}"' in trainee.get(f"/cases?scenario={PACK}/{SCENARIO}").text
        assert f'id="case-{case.id}"' in trainee.get("/cases?q=pseudoephedrine").text
        assert f'id="case-{case.id}"' in trainee.get("/cases?q=high+blood+pressure").text  # title
        assert f'id="case-{case.id}"' not in trainee.get("/cases?q=zhang").text
        assert f'id="case-{case.id}"' in trainee.get("/cases?example=bad").text
        assert f'id="case-{case.id}"' not in trainee.get("/cases?example=good").text
        assert trainee.get("/cases?example=great").status_code == 400
        assert trainee.get("/cases?scenario=x/y").status_code == 400
        assert trainee.get("/cases/9999").status_code == 404
    assert 'id="case-review-link"' in client.get(f"/cases/{case.id}").text


def test_marking_a_case_checks_its_form(
    app: FastAPI, client: TestClient, team: dict[str, int]
) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_good']}"
    missing = post_form(client, url, f"{url}/case", {"example": "", "tags": "x", "note": ""})
    assert missing.status_code == 400 and 'id="case-example-error"' in missing.text
    bad_tag = post_form(client, url, f"{url}/case", {"example": "good", "tags": "<b>", "note": ""})
    assert bad_tag.status_code == 400 and 'aria-invalid="true"' in bad_tag.text
    assert 'value="&lt;b&gt;"' in bad_tag.text  # what was typed comes back, escaped
    ok = post_form(
        client, url, f"{url}/case", {"example": "good", "tags": "model-answer", "note": ""}
    )
    assert ok.status_code == 303
    page = client.get(url).text
    assert "good example" in page and 'value="model-answer"' in page
    removed = post_form(client, url, f"{url}/case/delete", {})
    assert removed.status_code == 303
    with Session(app.state.sandbox.engine) as session:
        assert session.exec(select(TeachingCase)).all() == []
    assert [e.action for e in audit_rows(app) if e.action.startswith("case.")] == [
        "case.mark",
        "case.unmark",
    ]


# --- regrade --------------------------------------------------------------------------------


def use_changed_pack(app: FastAPI, tmp_path: Path) -> None:
    """Swap in the pack as it is after an edit: a bare 'Hi' no longer counts as a greeting."""
    folder = changed_pack_folder(
        SHARED_PACKS / "pharmacy-basics.yaml",
        tmp_path / "changed",
        old='match: ["hello", "hi", "good morning"',
        new='match: ["hello", "good morning"',
    )
    app.state.sandbox.library = load_library(make_settings(tmp_path, packs=str(folder)))
    assert app.state.sandbox.library.packs[PACK].version == 2


def finished_job(client: TestClient, started: httpx.Response) -> str:
    """The page of the job a form started (its redirect), once the app's runner has ended
    it: polled as the page's htmx does, until the poll says to reload."""
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    assert re.fullmatch(r"/jobs/\d+", url), url
    for _ in range(600):  # the runner polls every second; a bound, not a timing
        poll = client.get(f"{url}/progress", headers={"HX-Request": "true"})
        assert poll.status_code == 200
        if poll.headers.get("HX-Refresh") == "true":
            return client.get(url).text
        time.sleep(0.1)
    raise AssertionError(f"{url} did not finish")


def dry_run(client: TestClient, pack: str = PACK, scenario: str = "") -> str:
    started = post_form(
        client,
        "/mentor/regrade",
        "/mentor/regrade/dry-run",
        {"pack": pack, "scenario": scenario},
    )
    return finished_job(client, started)


def test_regrade_dry_run_lists_what_would_change_and_changes_nothing(
    app: FastAPI, client: TestClient, team: dict[str, int], tmp_path: Path
) -> None:
    login(client, "mei")
    url = f"/mentor/attempts/{team['tao_bad']}"
    kept = post_form(
        client,
        url,
        f"{url}/overrides",
        {"criterion": "decongestant-warning", "status": "met", "reason": "Warned by phone"},
    )
    assert kept.status_code == 303
    before = {i: attempt_of(app, i).grade for i in team.values()}
    use_changed_pack(app, tmp_path)
    page = dry_run(client)
    planned = {int(i) for i in re.findall(r'<tr id="plan-(\d+)"', page)}
    # The model answer says "Hello" (unchanged); the reassurance says "Hi" (changes); the
    # other mentor's trainee is not this mentor's to regrade.
    assert planned == {team["tao_bad"]}
    assert 'data-state="done"' in page
    assert "3 attempts checked" not in page and "2 attempts checked; 1 would change." in page
    assert {i: attempt_of(app, i).grade for i in team.values()} == before
    assert audit_rows(app, "grade.regrade") == []
    # The dry run is kept: listed on the regrade page, and its page shows it again.
    job_url = re.search(r'href="(/jobs/\d+)"', client.get("/mentor/regrade").text)
    assert job_url is not None and 'id="plan-table"' in client.get(job_url.group(1)).text

    applied = finished_job(
        client,
        post_form(
            client,
            job_url.group(1),
            "/mentor/regrade",
            {
                "pack": PACK,
                "scenario": "",
                "attempt": str(team["tao_bad"]),
                "reason": "greeting tightened",
            },
        ),
    )
    assert f'id="applied-{team["tao_bad"]}"' in applied
    after = attempt_of(app, team["tao_bad"])
    assert after.grade is not None and after.grade["pack_version"] == 2
    entry = next(c for c in after.grade["criteria"] if c["id"] == "decongestant-warning")
    assert (entry["status"], entry["automatic_status"]) == ("met", "missed")  # override kept
    greeting = next(c for c in after.grade["criteria"] if c["id"] == "greeting")
    assert greeting["status"] == "missed"
    (row,) = audit_rows(app, "grade.regrade")
    assert row.reason == "greeting tightened" and row.old["pack_version"] == 1
    assert row.old["score"] == before[team["tao_bad"]]["score"]  # type: ignore[index]
    assert row.new["score"] == after.score
    # Done: a second dry run finds nothing to change.
    assert "No attempt would change." in dry_run(client)
    # The admin's dry run covers every trainee.
    with signed_in(app, "root") as admin:
        admin_plan = dry_run(admin)
        assert {int(i) for i in re.findall(r'<tr id="plan-(\d+)"', admin_plan)} == {team["lin_bad"]}


def test_regrade_forms_with_problems_come_back_marked(
    client: TestClient, team: dict[str, int]
) -> None:
    login(client, "mei")
    unknown = client.get("/mentor/regrade?pack=no-such-pack")
    assert unknown.status_code == 400 and 'id="regrade-error"' in unknown.text
    wrong = client.get(f"/mentor/regrade?pack={PACK}&scenario=nope")
    assert wrong.status_code == 400
    for fields in ({"pack": "no-such-pack"}, {"pack": PACK, "scenario": "nope"}):
        refused = post_form(client, "/mentor/regrade", "/mentor/regrade/dry-run", fields)
        assert refused.status_code == 400 and 'id="regrade-error"' in refused.text
    nothing = post_form(client, "/mentor/regrade", "/mentor/regrade", {"pack": PACK})
    assert nothing.status_code == 400 and "Choose at least one attempt" in nothing.text
    junk = post_form(client, "/mentor/regrade", "/mentor/regrade", {"pack": PACK, "attempt": "abc"})
    assert junk.status_code == 400
    huge = post_form(
        client, "/mentor/regrade", "/mentor/regrade", {"pack": PACK, "attempt": "9" * 40}
    )
    assert huge.status_code == 400
    assert 'id="regrade-job-' not in client.get("/mentor/regrade").text  # nothing was started


def test_mentor_pages_speak_chinese(app: FastAPI, client: TestClient, team: dict[str, int]) -> None:
    login(client, "mei")
    post_form(client, "/mentor/attempts", "/language", {"locale": "zh-CN", "next": "/"})
    for url in (
        "/mentor/attempts",
        f"/mentor/attempts/{team['tao_bad']}",
        "/mentor/regrade",
        "/cases",
    ):
        html = client.get(url).text
        assert 'lang="zh-CN"' in html
        assert not re.search(r">\s*(mentor|review|case)\.[a-z_.]+", html), url
    assert "学员练习记录" in client.get("/mentor/attempts").text
    assert "回放" in client.get(f"/mentor/attempts/{team['tao_bad']}").text


def test_every_key_the_review_pages_build_exists_in_both_languages() -> None:
    from sandbox.evaluator.regrade import PROBLEMS
    from sandbox.evaluator.scoring import FORBIDDEN_STATUSES, REQUIRED_STATUSES
    from sandbox.storage.reviews import EXAMPLES
    from sandbox.web.i18n import CATALOGUE

    built = {f"case_example.{e}" for e in EXAMPLES} | {f"case_is.{e}" for e in EXAMPLES}
    built |= {
        f"persona_line.{k}"
        for k in ("opening", "fact", "reaction", "fallback", "nudge", "farewell")
    }
    built |= {
        f"criterion_kind.{k}"
        for k in ("disclosure", "inquiry", "contraindication", "etiquette", "outcome", "forbidden")
    }
    built |= {f"regrade_problem.{p}" for p in PROBLEMS}
    built |= {f"status.{s}" for s in {*REQUIRED_STATUSES, *FORBIDDEN_STATUSES}}
    for locale in ("en", "zh-CN"):
        assert sorted(built - set(CATALOGUE[locale])) == [], locale
    mentor_keys = {
        k
        for k in CATALOGUE["en"]
        if k.split(".")[0]
        in (
            "mentor",
            "review",
            "case",
            "case_example",
            "case_is",
            "persona_line",
            "criterion_kind",
            "regrade_problem",
        )
    }
    assert sorted(mentor_keys - set(CATALOGUE["zh-CN"])) == []


@pytest.mark.parametrize("database", [pytest.param("postgres", marks=needs_postgres)])
def test_the_list_overrides_and_comments_on_postgresql(tmp_path: Path, database: str) -> None:
    with postgres_database(migrated=True) as url:
        app = create_app(make_settings(tmp_path, database_url=url))
        try:
            with TestClient(app, headers=SAME_ORIGIN) as client:
                team = make_team(app)
                test_filters_narrow_the_list(app, client, team)
                test_an_override_recomputes_the_score_and_keeps_the_automatic_verdict(
                    app, client, team
                )
                test_comments_are_shown_to_the_trainee(app, client, team)
        finally:
            app.state.sandbox.engine.dispose()
