"""Peer review over HTTP: a mentor opens a trainee's practice transcript to a cohort, peers
read it with names masked and rate it once against the rubric, the author reads the
ratings with the reviewers masked; who may do what (a non-peer gets 403, the author may not
review, nobody reviews twice, even with two requests at once); the process score on a known
data set on the progress page and the cohort report; the migration on a database with data."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from exam_support import FakeClock, make_exam
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import GOOD, REASSURANCE, audit_rows, graded_attempt
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from web_support import add_user, csrf_token, login, needs_postgres, postgres_database

from sandbox.exams.peer_review import PeerReviewError, check_review, masked_label, rating_percent
from sandbox.exams.process import ProcessInputs, process_score
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.exams import CohortMember
from sandbox.storage.models import User
from sandbox.storage.peer_reviews import PeerReview, PeerShare
from sandbox.storage.questions import QUIZ, QuestionResponse, QuestionSitting

# Each test that uses a database runs on SQLite and on PostgreSQL (conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgres")
Browsers = Callable[[str], TestClient]
#: tao introduces himself: the name he typed is masked for peers too.
INTRODUCED = ["Hello, my name is Tao Chen. " + GOOD[0], *GOOD[1:]]


def cohort(app: FastAPI, name: str, *members: User) -> None:
    with Session(app.state.sandbox.engine) as session:
        for member in members:
            session.add(CohortMember(cohort=name, user_id=member.id))
        session.commit()


def share(mentor: TestClient, attempt_id: int, cohort_name: str) -> int:
    """Open the attempt to the cohort from the mentor's share page; the share's id."""
    page = mentor.get(f"/mentor/attempts/{attempt_id}/peer-review")
    assert page.status_code == 200, page.text
    response = mentor.post(
        f"/mentor/attempts/{attempt_id}/peer-review",
        data={"csrf_token": csrf_token(page.text), "cohort": cohort_name},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    listing = mentor.get(response.headers["location"]).text
    assert "open to the cohort" in listing
    found = re.findall(r'<li id="share-(\d+)"><a href="/peer-reviews/\d+">' + cohort_name, listing)
    assert len(found) == 1, listing
    return int(found[0])


def criteria_of(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('name="rating-')[1:]]


def review(
    browser: TestClient,
    share_id: int,
    levels: dict[str, str] | str = "met",
    comment: str = "Clear.",
) -> object:
    page = browser.get(f"/peer-reviews/{share_id}")
    token = csrf_token(page.text)
    ids = sorted(set(criteria_of(page.text)))
    chosen = levels if isinstance(levels, dict) else dict.fromkeys(ids, levels)
    data = {"csrf_token": token, "comment": comment}
    data.update({f"rating-{cid}": level for cid, level in chosen.items()})
    return browser.post(f"/peer-reviews/{share_id}", data=data, follow_redirects=False)


@pytest.fixture
def shared(app: FastAPI, browsers: Browsers, people: dict[str, User]) -> tuple[int, int]:
    """tao's graded practice conversation opened to the cohort Spring (tao, mei, kim)."""
    cohort(app, "Spring", people["tao"], people["mei"], people["kim"])
    attempt_id = graded_attempt(app, "tao", INTRODUCED)
    return attempt_id, share(browsers("mo"), attempt_id, "Spring")


def test_peers_read_a_masked_transcript_and_rate_it_once(
    app: FastAPI, browsers: Browsers, shared: tuple[int, int]
) -> None:
    _, share_id = shared
    mei = browsers("mei")
    listing = mei.get("/peer-reviews").text
    assert f'id="peer-share-{share_id}"' in listing and "Trainee A" in listing
    assert "tao" not in listing.lower()
    page = mei.get(f"/peer-reviews/{share_id}")
    assert page.status_code == 200
    # Masked: neither the login name nor the name typed in the chat; the rubric's words are
    # there to rate against, the grader's verdicts are not.
    assert "Trainee A" in page.text and "[name]" in page.text
    assert "tao" not in page.text.lower().replace("signed in as mei", "")
    assert "Tao Chen" not in page.text
    criteria = sorted(set(criteria_of(page.text)))
    assert len(criteria) >= 4
    assert "Warns that decongestants" in page.text or "decongestant" in page.text.lower()
    assert "mark mark-" not in page.text
    levels = dict.fromkeys(criteria, "met")
    levels[criteria[0]] = "partly"
    response = review(mei, share_id, levels, "You asked about medicines first: good.")
    assert response.status_code == 303
    page = mei.get(f"/peer-reviews/{share_id}").text
    assert 'id="peer-done"' in page and 'id="peer-form"' not in page
    # Twice: refused, and nothing more is stored.
    again = review(mei, share_id)
    assert again.status_code == 409 and "reviewed this conversation already" in again.text
    with Session(app.state.sandbox.engine) as session:
        stored = session.exec(select(PeerReview)).all()
    assert len(stored) == 1 and stored[0].ratings == levels
    assert [e.new["share"] for e in audit_rows(app, "peer.review")] == [share_id]
    assert [e.new["cohort"] for e in audit_rows(app, "peer.share")] == ["Spring"]

    # The author reads the ratings, with the reviewers masked; the mentor with their names.
    tao = browsers("tao")
    own = tao.get(f"/peer-reviews/{share_id}").text
    assert 'id="peer-ratings"' in own and "Reviewer 1" in own and "mei" not in own
    assert "You asked about medicines first" in own and "Partly" in own
    assert f'id="peer-mine-{share_id}"' in tao.get("/peer-reviews").text
    mentor = browsers("mo").get(f"/peer-reviews/{share_id}").text
    assert "mei" in mentor and "Reviewer 1" not in mentor
    assert f'id="peer-trainee-share-{share_id}"' in browsers("mo").get("/peer-reviews").text


def test_a_withdrawn_share_is_gone_for_peers_and_keeps_its_reviews(
    app: FastAPI, browsers: Browsers, shared: tuple[int, int]
) -> None:
    attempt_id, share_id = shared
    assert review(browsers("kim"), share_id).status_code == 303
    mo = browsers("mo")
    page = mo.get(f"/mentor/attempts/{attempt_id}/peer-review")
    assert f'id="withdraw-{share_id}"' in page.text
    response = mo.post(
        f"/mentor/attempts/{attempt_id}/peer-review/{share_id}/withdraw",
        data={"csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    after = mo.get(response.headers["location"]).text
    assert "no longer see it" in after and f'id="share-withdrawn-{share_id}"' in after
    assert f'id="withdraw-{share_id}"' not in after
    # The peers: no longer listed, opened or reviewed.
    mei = browsers("mei")
    assert f'id="peer-share-{share_id}"' not in mei.get("/peer-reviews").text
    assert mei.get(f"/peer-reviews/{share_id}").status_code == 404
    token = csrf_token(mei.get("/peer-reviews").text)
    refused = mei.post(
        f"/peer-reviews/{share_id}",
        data={"csrf_token": token, "comment": "Late."},
        follow_redirects=False,
    )
    assert refused.status_code == 404
    # The review given before stays, for the author and the mentor.
    with Session(app.state.sandbox.engine) as session:
        assert len(session.exec(select(PeerReview)).all()) == 1
        stored = session.get(PeerShare, share_id)
        assert stored is not None and stored.withdrawn_at is not None
    own = browsers("tao").get(f"/peer-reviews/{share_id}")
    assert own.status_code == 200 and "Reviewer 1" in own.text
    assert "Withdrawn" in browsers("tao").get("/peer-reviews").text
    assert [e.new["share"] for e in audit_rows(app, "peer.withdraw")] == [share_id]
    # Withdrawing again changes nothing; sharing to the cohort again opens it again.
    page = mo.get(f"/mentor/attempts/{attempt_id}/peer-review")
    again = mo.post(
        f"/mentor/attempts/{attempt_id}/peer-review/{share_id}/withdraw",
        data={"csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )
    assert again.status_code == 303 and len(audit_rows(app, "peer.withdraw")) == 1
    assert share(mo, attempt_id, "Spring") == share_id
    assert f'id="peer-share-{share_id}"' in mei.get("/peer-reviews").text
    # Only the trainee's mentor withdraws: a peer gets 403, a share of another attempt 404.
    kim = browsers("kim")
    token = csrf_token(kim.get("/peer-reviews").text)
    forbidden = kim.post(
        f"/mentor/attempts/{attempt_id}/peer-review/{share_id}/withdraw",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert forbidden.status_code == 403
    other = mo.post(
        f"/mentor/attempts/{attempt_id}/peer-review/{share_id + 1000}/withdraw",
        data={"csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )
    assert other.status_code == 404


def test_only_cohort_peers_may_review_and_never_their_own(
    app: FastAPI, browsers: Browsers, people: dict[str, User], shared: tuple[int, int]
) -> None:
    _, share_id = shared
    # The author may not review: refused with a reason, nothing stored.
    tao = browsers("tao")
    token = csrf_token(tao.get(f"/peer-reviews/{share_id}").text)
    own = tao.post(f"/peer-reviews/{share_id}", data={"csrf_token": token, "comment": "Me!"})
    assert own.status_code == 403 and "your own conversation" in own.text
    # A trainee outside the cohort: 403 to read and to review, and it is not listed.
    add_user(app, "zed")
    zed = TestClient(app)
    login(zed, "zed")
    assert zed.get(f"/peer-reviews/{share_id}").status_code == 403
    token = csrf_token(zed.get("/peer-reviews").text)
    refused = zed.post(f"/peer-reviews/{share_id}", data={"csrf_token": token, "comment": "x"})
    assert refused.status_code == 403
    assert f"peer-share-{share_id}" not in zed.get("/peer-reviews").text
    # A proctor is no peer either; a mentor of other trainees may not share tao's attempt.
    assert browsers("pat").get(f"/peer-reviews/{share_id}").status_code == 403
    with Session(app.state.sandbox.engine) as session:
        assert session.exec(select(PeerReview)).all() == []
    # Bad input names the field and keeps what was typed.
    kim = browsers("kim")
    page = kim.get(f"/peer-reviews/{share_id}").text
    response = kim.post(
        f"/peer-reviews/{share_id}",
        data={"csrf_token": csrf_token(page), "comment": "Kept this text"},
    )
    assert response.status_code == 400 and 'id="error-rating-' in response.text
    assert "Kept this text" in response.text
    assert review(kim, share_id, "met", comment="  ").status_code == 400
    assert review(kim, share_id, "maybe").status_code == 400
    zed.close()


def test_sharing_is_for_the_trainees_mentor_and_graded_practice(
    app: FastAPI, browsers: Browsers, people: dict[str, User]
) -> None:
    cohort(app, "Spring", people["tao"], people["kim"])
    kim_attempt = graded_attempt(app, "kim", GOOD)  # kim has no mentor: mo may not share it
    assert browsers("mo").get(f"/mentor/attempts/{kim_attempt}/peer-review").status_code == 403
    tao_attempt = graded_attempt(app, "tao", GOOD)
    mentor = browsers("mo")
    token = csrf_token(mentor.get(f"/mentor/attempts/{tao_attempt}/peer-review").text)
    wrong = mentor.post(
        f"/mentor/attempts/{tao_attempt}/peer-review",
        data={"csrf_token": token, "cohort": "Autumn"},
    )
    assert wrong.status_code == 400 and "own cohorts" in wrong.text
    first = share(mentor, tao_attempt, "Spring")
    assert share(browsers("boss"), tao_attempt, "Spring") == first  # once per cohort
    with Session(app.state.sandbox.engine) as session:
        assert len(session.exec(select(PeerShare)).all()) == 1


def test_two_reviews_sent_at_once_store_one(
    app: FastAPI, browsers: Browsers, shared: tuple[int, int]
) -> None:
    _, share_id = shared
    tabs = [TestClient(app) for _ in range(2)]
    for tab in tabs:
        login(tab, "mei")
    page = tabs[0].get(f"/peer-reviews/{share_id}").text
    ids = sorted(set(criteria_of(page)))
    forms = []
    for tab in tabs:
        token = csrf_token(tab.get(f"/peer-reviews/{share_id}").text)
        forms.append(
            {"csrf_token": token, "comment": "Same time"} | {f"rating-{i}": "met" for i in ids}
        )
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def send(tab: TestClient, form: dict[str, str]) -> None:
        barrier.wait()
        codes.append(
            tab.post(f"/peer-reviews/{share_id}", data=form, follow_redirects=False).status_code
        )

    threads = [threading.Thread(target=send, args=pair) for pair in zip(tabs, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [303, 409]
    with Session(app.state.sandbox.engine) as session:
        assert len(session.exec(select(PeerReview)).all()) == 1
    for tab in tabs:
        tab.close()


# --- the process score ------------------------------------------------------------------------


def test_the_core_rules() -> None:
    assert check_review(["a", "b"], {"a": "met", "b": "partly"}, " ok ").comment == "ok"
    with pytest.raises(PeerReviewError) as refused:
        check_review(["a", "b"], {"a": "met"}, "ok")
    assert refused.value.field == "rating-b"
    assert rating_percent({"a": "met", "b": "partly", "c": "missed"}) == 50.0
    assert [masked_label(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]
    # Every component: 0.6 * 80 + 0.25 * 75 + 0.15 * 50 = 74.25.
    full = process_score(
        ProcessInputs(
            best_scores=(100.0, 60.0),
            quiz_right=3,
            quiz_marked=4,
            reviews_given=1,
            reviewable=4,
            ratings_received=(100.0, 50.0),
        )
    )
    # peer: given 1 of 3 expected (33.3), received 75 -> 54.17; 0.6*80 + 0.25*75 + 0.15*54.17
    assert (full.practice, full.quizzes, full.peer_review) == (80.0, 75.0, 54.2)
    assert full.score == round(0.6 * 80 + 0.25 * 75 + 0.15 * ((100 / 3 + 75) / 2), 1)
    # A part without data is left out, the others scaled up; nothing at all: no score.
    only_practice = process_score(ProcessInputs(best_scores=(70.0,)))
    assert only_practice.score == 70.0 and only_practice.peer_review is None
    assert process_score(ProcessInputs()).score is None
    # Fewer transcripts to review than the target: all of them is full marks.
    assert process_score(ProcessInputs(reviews_given=1, reviewable=1)).peer_review == 100.0


def _quiz(app: FastAPI, user: User, right: int, wrong: int) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with Session(app.state.sandbox.engine) as session:
        sitting = QuestionSitting(
            user_id=user.id or 0,
            kind=QUIZ,
            locale="en",
            selection={},
            seed=1,
            started_at=now,
            deadline_at=now,
            submitted_at=now,
            max_score=right + wrong,
            score=right,
        )
        session.add(sitting)
        session.flush()
        for position in range(right + wrong):
            session.add(
                QuestionResponse(
                    sitting_id=sitting.id or 0,
                    position=position,
                    question_id=f"q{position}",
                    points=1,
                    answer=0,
                    answered_at=now,
                    score=1.0 if position < right else 0.0,
                    correct=position < right,
                )
            )
        session.commit()


def test_the_process_score_on_the_progress_page_and_the_cohort_report(
    app: FastAPI,
    browsers: Browsers,
    proctor: TestClient,
    clock: FakeClock,
    people: dict[str, User],
    shared: tuple[int, int],
) -> None:
    _, share_id = shared  # tao's GOOD conversation (100) is shared with Spring
    graded_attempt(app, "tao", REASSURANCE)  # a lower score on the same scenario: best stays
    _quiz(app, people["tao"], right=3, wrong=1)  # 75
    # mei rates tao: every criterion met but one missed.
    page = browsers("mei").get(f"/peer-reviews/{share_id}").text
    ids = sorted(set(criteria_of(page)))
    levels = dict.fromkeys(ids, "met") | {ids[0]: "missed"}
    assert review(browsers("mei"), share_id, levels).status_code == 303
    received = 100 * (len(ids) - 1) / len(ids)
    # tao had nothing to review: his peer part is the rating received alone.
    expected = round((0.6 * 100 + 0.25 * 75 + 0.15 * received), 1)
    history = browsers("tao").get("/history").text
    assert f'<strong id="process-value">{expected:.1f}</strong>' in history
    assert "Practice (60%): 100.0" in history and "Quizzes (25%): 75.0" in history
    # mei: reviewed 1 of 1 (100), no practice, no quiz -> 100; kim: nothing done -> 0 given.
    make_exam(proctor, clock, people, cohort="Spring")
    report = proctor.get("/proctor/cohorts/Spring/report").text
    assert 'id="process-table"' in report
    cells = {
        name: re.findall(
            r'<td class="num">([^<]*)</td>',
            report.split(f'id="process-{people[name].id}"', 1)[1].split("</tr>", 1)[0],
        )
        for name in ("tao", "mei", "kim")
    }
    assert cells["tao"] == ["100.0", "75.0", f"{received:.1f}", f"{expected:.1f}"]
    assert cells["mei"] == ["–", "–", "100.0", "100.0"]  # reviewed the one there was
    assert cells["kim"] == ["–", "–", "0.0", "0.0"]  # had one to review, gave none


# --- the migration ------------------------------------------------------------------------


def _migrated_with_data(engine: Engine) -> None:
    upgrade(engine, "0012")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (name, role, password_hash, active, created_at) VALUES "
                "('tao', 'trainee', 'x', true, '2026-01-01 00:00:00+00:00'), "
                "('mei', 'trainee', 'x', true, '2026-01-01 00:00:00+00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO attempts (user_id, pack_id, pack_version, scenario_id, mode, "
                "time_limit_s, started_at, retake, grace_s) VALUES "
                "(1, 'p', 1, 's', 'practice', 300, '2026-01-01 09:00:00+00:00', false, 0)"
            )
        )
    upgrade(engine, "0017")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO peer_shares (attempt_id, cohort, created_at) "
                "VALUES (1, 'Spring', '2026-01-02 09:00:00+00:00')"
            )
        )
    upgrade(engine)  # 0018: a share stored before withdrawal existed stays open
    with engine.begin() as connection:
        assert connection.execute(text("SELECT withdrawn_at FROM peer_shares")).all() == [(None,)]
        connection.execute(
            text(
                "INSERT INTO peer_reviews (share_id, reviewer_id, ratings, comment, created_at) "
                "VALUES (1, 2, '{\"a\": \"met\"}', 'ok', '2026-01-02 10:00:00+00:00')"
            )
        )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM attempts")).scalar() == 1
        with pytest.raises(Exception, match=r"(?i)unique"):
            connection.execute(
                text(
                    "INSERT INTO peer_reviews (share_id, reviewer_id, ratings, comment, "
                    "created_at) VALUES (1, 2, '{}', 'again', '2026-01-02 11:00:00+00:00')"
                )
            )


def test_the_migration_upgrades_a_database_with_data_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _migrated_with_data(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=needs_postgres)])
def test_the_migration_upgrades_a_database_with_data_on_postgres(backend: str) -> None:
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            _migrated_with_data(engine)
        finally:
            engine.dispose()
