"""Hints that coach and are counted (evaluator/hints.py, the conversation service, pages):
the policy words, a scenario's policy over the organisation's, coaching lines instead of the
answer key, each hint counted on the attempt and shown on the feedback page, the mentor's
review and the history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select
from web_support import SAME_ORIGIN, add_user, login, make_settings

from sandbox.config import Settings
from sandbox.conversations.events import InProcessBus
from sandbox.conversations.service import ConversationService
from sandbox.evaluator.hints import HintPolicyError, coaching, effective, left, read_policy
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.library import load_library
from sandbox.scenarios.loader import load_pack_text
from sandbox.storage.models import Attempt, Role, User
from sandbox.web.app import create_app

PACK = """\
pack: {id: hinted, title: Hints, locale: en, version: 1}
scenarios:
  - id: limited
    title: Two hints
    brief: A customer with a cold.
    hints: 2
    persona: {name: Ann}
    opening: Hi, I have a cold.
    fallback: Sorry?
    rubric:
      criteria:
        - id: ask-meds
          kind: inquiry
          description: Asks about other medicines (amlodipine 5 mg)
          hint: Ask about other medicines before suggesting one.
          match: [medicine*, medication*]
        - id: warn
          kind: contraindication
          description: Warns that pseudoephedrine raises blood pressure above 140/90
          match: [blood pressure]
        - id: advise
          kind: disclosure
          description: Says paracetamol 1 g every 6 hours
          match: [paracetamol]
        - id: no-promise
          kind: forbidden
          description: Promises a cure
          match: [guarantee]
  - id: silent
    title: No hints
    brief: A customer with a cold.
    hints: off
    persona: {name: Ann}
    opening: Hi.
    fallback: Sorry?
    rubric:
      criteria:
        - {id: greet, kind: etiquette, match: [hello]}
  - id: unset
    title: The organisation's hints
    brief: A customer with a cold.
    persona: {name: Ann}
    opening: Hi.
    fallback: Sorry?
    rubric:
      criteria:
        - {id: greet, kind: etiquette, match: [hello], hint: Greet the customer first.}
"""


# --- the policy, pure -----------------------------------------------------------------------


def test_policy_words() -> None:
    assert read_policy("off") == "off" and read_policy(" ON ") == "on"
    assert read_policy("3") == 3 and read_policy(5) == 5 and read_policy(None) == "on"
    for bad in ("0", "21", "some", "-1", "2.5"):
        with pytest.raises(HintPolicyError, match="off, on or a number from 1 to 20"):
            read_policy(bad)
    assert effective(None, 4) == 4 and effective("off", 4) == "off" and effective(2, "on") == 2
    assert left("off", 0) == 0 and left("on", 99) is None
    assert left(2, 0) == 2 and left(2, 1) == 1 and left(2, 2) == 0 and left(2, 5) == 0


def test_coaching_never_prints_the_answer_key() -> None:
    pack = load_pack_text(PACK, "hinted.yaml")
    criteria = pack.scenario("limited").rubric.criteria
    lines = coaching(criteria)
    assert lines == [
        "Ask about other medicines before suggesting one.",
        "hint.kind.contraindication",
        "hint.kind.disclosure",
    ]  # a forbidden rule is never hinted; descriptions (doses, thresholds) never appear
    assert not any("mg" in line or "140" in line or "1 g" in line for line in lines)
    twice = [criteria[1], criteria[1]]
    assert coaching(twice) == ["hint.kind.contraindication"]


def test_a_pack_sets_its_policy_and_a_bad_one_names_the_line() -> None:
    pack = load_pack_text(PACK, "hinted.yaml")
    assert pack.scenario("limited").hints == 2
    assert pack.scenario("silent").hints == "off"  # YAML's bare off is the word
    assert pack.scenario("unset").hints is None
    with pytest.raises(PackErrors) as raised:
        load_pack_text(PACK.replace("hints: 2", "hints: 30"), "bad.yaml")
    problem = raised.value.errors[0]
    assert problem.line == 6 and "hints" in str(problem)


def test_the_organisation_setting_is_checked(tmp_path: Path) -> None:
    assert make_settings(tmp_path, hints="3").hints == "3"
    with pytest.raises(ValidationError, match="SANDBOX_HINTS"):
        Settings(database_url="sqlite://", hints="plenty")


# --- the service counts them ----------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "hinted.yaml").write_text(PACK, "utf-8")
    return packs


def service_for(tmp_path: Path, folder: Path, organisation: str) -> ConversationService:
    settings = make_settings(tmp_path, packs=str(folder), hints=organisation)
    library = load_library(settings)
    from sandbox.storage.database import make_engine

    engine = make_engine(settings.database_url)
    return ConversationService(
        library=library, engine=engine, bus=InProcessBus(), hint_policy=settings.hints
    )


def start(service: ConversationService, scenario: str) -> int:
    found = service.library.find("hinted", scenario)
    assert found is not None
    with Session(service.engine, expire_on_commit=False) as session:
        user = session.exec(select(User).where(User.name == "tao")).first()
        if user is None:
            user = User(name="tao", role=Role.TRAINEE, password_hash="-")
            session.add(user)
            session.flush()
        attempt = service.start_practice(session, user=user, pack=found[0], scenario=found[1])
        session.commit()
        assert attempt.id is not None
        return attempt.id


def ask(service: ConversationService, attempt_id: int) -> Any:
    with Session(service.engine, expire_on_commit=False) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return service.hints(session, attempt)


def used(service: ConversationService, attempt_id: int) -> int:
    with Session(service.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None
        return attempt.hints_used


def test_a_limit_counts_each_hint_and_then_says_they_are_used_up(
    tmp_path: Path, folder: Path
) -> None:
    service = service_for(tmp_path, folder, "on")
    try:
        attempt_id = start(service, "limited")
        first = ask(service, attempt_id)
        assert first[0] == "Ask about other medicines before suggesting one."
        assert used(service, attempt_id) == 1
        assert isinstance(ask(service, attempt_id), list)
        assert used(service, attempt_id) == 2
        assert ask(service, attempt_id) == "chat.notice.hints_used_up"
        assert used(service, attempt_id) == 2  # a refused request is not a hint
        assert ask(service, start(service, "silent")) == "chat.notice.no_hints"
        unlimited = start(service, "unset")  # the organisation's "on"
        for _ in range(5):
            assert ask(service, unlimited) == ["Greet the customer first."]
        assert used(service, unlimited) == 5
        # What is covered is no longer hinted.
        with Session(service.engine, expire_on_commit=False) as session:
            attempt = session.get(Attempt, unlimited)
            assert attempt is not None
            service.say(session, attempt, "Hello!", "c-1")
            session.commit()
        assert ask(service, unlimited) == []
    finally:
        service.engine.dispose()


def test_the_organisation_policy_applies_where_a_scenario_sets_none(
    tmp_path: Path, folder: Path
) -> None:
    service = service_for(tmp_path, folder, "1")
    try:
        attempt_id = start(service, "unset")
        assert ask(service, attempt_id) == ["Greet the customer first."]
        assert ask(service, attempt_id) == "chat.notice.hints_used_up"
        limited = start(service, "limited")  # the scenario's own 2 wins over 1
        assert isinstance(ask(service, limited), list) and isinstance(ask(service, limited), list)
    finally:
        service.engine.dispose()
    off = service_for(tmp_path / "off", folder, "off")
    try:
        assert ask(off, start(off, "unset")) == "chat.notice.no_hints"
    finally:
        off.engine.dispose()


# --- the pages show the count ---------------------------------------------------------------


def test_the_socket_gives_coaching_and_the_pages_show_the_count(
    tmp_path: Path, folder: Path
) -> None:
    app: FastAPI = create_app(make_settings(tmp_path, packs=str(folder)))
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    with TestClient(app, headers=SAME_ORIGIN) as tao:
        login(tao, "tao")
        service = app.state.sandbox.conversations
        with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
            user = session.exec(select(User).where(User.name == "tao")).one()
            found = service.library.find("hinted", "limited")
            attempt = service.start_practice(session, user=user, pack=found[0], scenario=found[1])
            session.commit()
            attempt_id = attempt.id
        with tao.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
            ws.send_json({"type": "hello", "last_seq": -1})
            while 'data-synced="true"' not in ws.receive_text():
                pass
            ws.send_json({"type": "hint"})
            frame = ws.receive_text()
            assert "Ask about other medicines before suggesting one." in frame
            assert "Think about what could make this unsafe" in frame  # the kind's line
            assert "140/90" not in frame and "amlodipine" not in frame
            ws.send_json({"type": "finish"})
            while "feedback-link" not in ws.receive_text():
                pass
        feedback = tao.get(f"/attempts/{attempt_id}/feedback").text
        assert 'id="hints-used">1 used<' in feedback
        assert "1 used" in tao.get("/history").text
        with TestClient(app, headers=SAME_ORIGIN) as mo:
            login(mo, "mo")
            assert 'id="hints-used">1 used<' in mo.get(f"/mentor/attempts/{attempt_id}").text
