"""Applying a suggestion from the web (web/routes/suggestions.py, scenarios/patching.py):
the dry-run effect on the page, a safe change written into a pack of the writable folder
(comments kept, every example still holding, the pack reloaded, audited), a breaking one
refused with its reason, a stale page refused, read-only packs offering the YAML instead."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from queue_support import flagged_attempt
from review_support import attempt_of, audit_rows, copy_pack
from sqlmodel import Session, select
from web_support import SAME_ORIGIN, SHARED_PACKS, add_user, csrf_token, login, make_settings

from sandbox.config import Settings
from sandbox.evaluator.examples import run_pack
from sandbox.evaluator.suggest import with_example, with_phrase
from sandbox.scenarios.library import builtin_packs_folder
from sandbox.scenarios.loader import load_pack
from sandbox.scenarios.patching import patched, same_meaning
from sandbox.storage.models import Role, User
from sandbox.storage.reviews import override_criterion
from sandbox.web.routes.suggestions import write_refusal

SPRAY = ["Hi, are you on any medication?", "A salt water nose spray helps, with rest."]
WARNED = ["Any medication?", "Pseudoephedrine will not raise your blood pressure."]
PAGE = "/admin/packs/pharmacy-basics/suggestions"
APPLY = f"{PAGE}/apply"
HEADER = "# Organisation pack: kept by the training team.\n"


@pytest.fixture
def pack_folder(tmp_path: Path) -> Path:
    """A copy of the shared pharmacy pack in a folder of its own, with a comment on top."""
    folder = copy_pack(SHARED_PACKS / "pharmacy-basics.yaml", tmp_path / "org-packs")
    path = folder / "pharmacy-basics.yaml"
    path.write_text(HEADER + path.read_text("utf-8"), "utf-8")
    return folder


@pytest.fixture
def settings(tmp_path: Path, database_url: str, pack_folder: Path) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        packs=str(pack_folder),
        packs_writable=str(pack_folder),
    )


@pytest.fixture
def overridden(app: FastAPI) -> dict[str, int]:
    """Two overrides in force: one whose suggestion holds (a phrase for the spray), one whose
    example breaks the pack (a rule of word groups the new example cannot pass)."""
    add_user(app, "ada", Role.ADMIN)
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    spray = flagged_attempt(app, "tao", SPRAY)
    warned = flagged_attempt(app, "tao", WARNED)
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        mo = session.exec(select(User).where(User.name == "mo")).one()
        for attempt_id, criterion, reason in (
            (spray, "safer-alternative", "A salt water spray is saline."),
            (warned, "decongestant-warning", "Read whole, it warns."),
        ):
            attempt = attempt_of(app, attempt_id)
            session.add(attempt)
            override_criterion(
                session=session,
                attempt=attempt,
                author=mo,
                criterion_id=criterion,
                status="met",
                reason=reason,
            )
        session.commit()
    return {"spray": spray, "warned": warned}


def signed(app: FastAPI, name: str) -> TestClient:
    client = TestClient(app, headers=SAME_ORIGIN)
    login(client, name)
    return client


def form(client: TestClient, **data: object) -> dict[str, object]:
    page = client.get(PAGE).text
    shown = page.split('name="shown" value="', 1)[1].split('"', 1)[0]
    return {"csrf_token": csrf_token(page), "shown": shown, **data}


def test_a_safe_suggestion_is_written_and_a_breaking_one_refused(
    app: FastAPI, overridden: dict[str, int], pack_folder: Path
) -> None:
    spray, warned = overridden["spray"], overridden["warned"]
    path = pack_folder / "pharmacy-basics.yaml"
    before = path.read_text("utf-8")
    mo = signed(app, "mo")
    assert mo.get(PAGE).status_code == 403  # a mentor may not
    ada = signed(app, "ada")
    page = ada.get(PAGE).text
    assert f'id="suggestion-{spray}-safer-alternative"' in page
    assert f'id="effect-{spray}-safer-alternative-both" class="safe"' in page
    # The example alone breaks (the rubric does not pass it without the phrase).
    assert f'id="effect-{spray}-safer-alternative-example" class="breaks"' in page
    assert f'id="effect-{warned}-decongestant-warning-example" class="breaks"' in page
    assert 'id="suggest-readonly"' not in page  # the pack is in the writable folder
    # The breaking one cannot be chosen in the form, and is refused when sent anyway.
    assert (
        f'id="part-{warned}-decongestant-warning-example" name="part" value="example" disabled'
        in page
    )
    refused = ada.post(
        APPLY,
        data=form(ada, attempt=warned, criterion="decongestant-warning", part="example"),
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert "Not applied: the change breaks these examples" in refused.text
    assert f"reviewed: attempt {warned}" in refused.text
    assert path.read_text("utf-8") == before
    # A page shown before the file changed is refused too.
    stale = form(ada, attempt=spray, criterion="safer-alternative", part="both")
    stale["shown"] = "0" * 64
    assert "changed since this page was shown" in ada.post(APPLY, data=stale).text
    assert path.read_text("utf-8") == before

    applied = ada.post(
        APPLY,
        data=form(ada, attempt=spray, criterion="safer-alternative", part="both"),
        follow_redirects=False,
    )
    assert applied.status_code == 303, applied.text
    after = path.read_text("utf-8")
    # The file keeps what it had (its comment, its layout) and gains the example and phrase.
    assert after.startswith(HEADER) and len(after) > len(before)
    assert sum(line.startswith("#") for line in after.splitlines()) == sum(
        line.startswith("#") for line in before.splitlines()
    )
    data = yaml.safe_load(after)
    scenario = next(s for s in data["scenarios"] if s["id"] == "cold-remedy-hypertension")
    assert scenario["examples"][-1]["name"] == f"reviewed: attempt {spray}, safer-alternative met"
    criterion = next(c for c in scenario["rubric"]["criteria"] if c["id"] == "safer-alternative")
    match = criterion["match"]
    phrases = match if isinstance(match, list) else match["any"]
    assert "a salt water nose spray helps" in phrases
    # Every example of the file still holds, the new one too; the served pack reloaded.
    reread = load_pack(path)
    assert all(result.passed for result in run_pack(reread))
    served = app.state.sandbox.library.packs["pharmacy-basics"]
    assert [e.name for e in served.scenario("cold-remedy-hypertension").examples] == [
        e["name"] for e in scenario["examples"]
    ]
    event = audit_rows(app, "pack.suggestion")[-1]
    assert event.subject_id == "pharmacy-basics" and event.actor_id is not None
    assert event.new["phrase"] == "a salt water nose spray helps"  # type: ignore[index]
    shown = ada.get(applied.headers["location"]).text
    assert 'id="suggest-applied"' in shown
    mo.close()
    ada.close()


def test_read_only_packs_offer_the_yaml_and_refuse_to_write(
    app: FastAPI, overridden: dict[str, int], pack_folder: Path, tmp_path: Path
) -> None:
    spray = overridden["spray"]
    path = pack_folder / "pharmacy-basics.yaml"
    before = path.read_text("utf-8")
    state = app.state.sandbox
    state.settings = state.settings.model_copy(update={"workers": 2})
    ada = signed(app, "ada")
    page = ada.get(PAGE).text
    assert 'id="suggest-readonly"' in page and "several worker processes" in page
    assert f'id="apply-{spray}-safer-alternative"' not in page  # no form: the snippet
    assert f"reviewed: attempt {spray}, safer-alternative met" in page
    sent = ada.post(
        APPLY,
        data={
            "csrf_token": csrf_token(page),
            "attempt": spray,
            "criterion": "safer-alternative",
            "part": "both",
            "shown": "x",
        },
    )
    assert sent.status_code == 400 and "several worker processes" in sent.text
    assert path.read_text("utf-8") == before
    # The download is the changed file, comments kept; the file on disk is untouched.
    download = ada.get(
        f"{PAGE}/download", params={"attempt": spray, "criterion": "safer-alternative"}
    )
    assert download.status_code == 200 and download.text.startswith(HEADER)
    assert f"reviewed: attempt {spray}" in download.text
    assert path.read_text("utf-8") == before
    # Other reasons a file is not written.
    outside = make_settings(tmp_path, packs_writable=str(tmp_path / "elsewhere"))
    assert write_refusal(outside, str(path)) == "suggest.readonly.outside"
    assert write_refusal(make_settings(tmp_path), str(path)) == "suggest.readonly.no_folder"
    bundled = builtin_packs_folder()
    assert bundled is not None
    everything = make_settings(tmp_path, packs_writable=str(bundled))
    first = sorted(bundled.glob("*.yaml"))[0]
    assert write_refusal(everything, str(first)) == "suggest.readonly.bundled"
    assert (
        write_refusal(make_settings(tmp_path, packs_writable=str(pack_folder)), str(path)) is None
    )
    ada.close()


def test_patching_keeps_comments_and_gives_the_changed_data() -> None:
    text = (
        "# top\n"
        "scenarios:\n"
        "  - id: s\n"
        "    rubric:\n"
        "      criteria:\n"
        "        - id: flow\n"
        "          match: [a, b]  # flow\n"
        "        - id: block\n"
        "          match:\n"
        "            any:\n"
        "              - a\n"
        "            # a note\n"
        "        - id: grouped\n"
        "          match: {all: [[a], [b]]}\n"
        "    examples:\n"
        "      - name: one\n"
        "        trainee: [hi]\n"
        "\n"
        "      # the end of the examples\n"
        "  - id: t\n"
    )
    data = yaml.safe_load(text)
    example = {"name": "new", "trainee": [{"text": 'say "x"', "at": 1.0}], "expect": {}}
    for criterion, where in (
        ("flow", "any"),
        ("flow", "not"),
        ("block", "any"),
        ("block", "not"),
        ("grouped", "not"),
    ):
        expected = with_phrase(with_example(data, "s", example), "s", criterion, "p: q", where)
        assert expected is not None
        result = patched(
            text, expected, "s", example=example, criterion_id=criterion, phrase="p: q", where=where
        )
        assert result is not None, (criterion, where)
        assert same_meaning(yaml.safe_load(result)) == same_meaning(expected)
        for comment in ("# top", "# flow", "# a note", "# the end of the examples"):
            assert comment in result
    # A layout the edits do not know is not patched: None, never a wrong file.
    flow_examples = "scenarios: [{id: s, examples: [{name: one}]}]\n"
    flow_data = yaml.safe_load(flow_examples)
    assert (
        patched(flow_examples, with_example(flow_data, "s", example), "s", example=example) is None
    )


def test_two_admins_applying_at_once_write_it_once(
    app: FastAPI, overridden: dict[str, int], pack_folder: Path
) -> None:
    spray = overridden["spray"]
    add_user(app, "bea", Role.ADMIN)
    clients = [signed(app, "ada"), signed(app, "bea")]
    forms = [form(c, attempt=spray, criterion="safer-alternative", part="both") for c in clients]
    start = threading.Barrier(2)

    def send(index: int) -> int:
        start.wait()
        response = clients[index].post(APPLY, data=forms[index], follow_redirects=False)
        return response.status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = sorted(pool.map(send, range(2)))
    assert codes == [303, 400]  # the second saw a file changed since its page was shown
    text = (pack_folder / "pharmacy-basics.yaml").read_text("utf-8")
    assert text.count(f"reviewed: attempt {spray}, safer-alternative met") == 1
    assert len(audit_rows(app, "pack.suggestion")) == 1
    for client in clients:
        client.close()
