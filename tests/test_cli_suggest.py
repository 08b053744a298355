"""`sandbox suggest PACK --from-overrides` (evaluator/suggest.py, cli/suggest.py): every
override in force becomes an example and, where it can, a phrase; the command shows each
change's effect on the pack's examples and on stored attempts, and writes nothing."""

from __future__ import annotations

import subprocess

from cli_support import run_in_process
from fastapi import FastAPI
from queue_support import flagged_attempt
from review_support import attempt_of
from sqlmodel import Session, select
from web_support import SHARED_PACKS, add_user

from sandbox.config import Settings
from sandbox.evaluator.suggest import closest_clause, example_for, where_for, with_phrase
from sandbox.storage.models import Role, User
from sandbox.storage.reviews import override_criterion

SPRAY = ["Hi, are you on any medication?", "A salt water nose spray helps, with rest."]


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "SANDBOX_DATABASE_URL": settings.database_url,
        "SANDBOX_PACKS": str(SHARED_PACKS),
        "SANDBOX_BUILTIN_PACKS": "false",
        "SANDBOX_VAR_DIR": str(settings.var_dir),
    }
    return run_in_process(["suggest", *args], env=env)


def test_the_pure_steps() -> None:
    assert closest_clause(SPRAY, "Suggests a safer option (saline spray, steam)") == (
        "a salt water nose spray helps"
    )
    assert closest_clause(["Hello there"], "Suggests a saline spray") is None
    assert where_for("missed", "met") == "any" and where_for("violated", "clear") == "not"
    assert where_for("met", "missed") is None
    example = example_for("x", [("Hi", 10.0)], "warn", "clear", ["warn", "promise"])
    assert example["expect"] == {"violated": ["promise"]}
    data = {"scenarios": [{"id": "s", "rubric": {"criteria": [{"id": "c", "match": ["a"]}]}}]}
    added = with_phrase(data, "s", "c", "b", "any")
    assert added is not None and added["scenarios"][0]["rubric"]["criteria"][0]["match"] == [
        "a",
        "b",
    ]
    assert data["scenarios"][0]["rubric"]["criteria"][0]["match"] == ["a"]  # a copy
    grouped = {
        "scenarios": [
            {"id": "s", "rubric": {"criteria": [{"id": "c", "match": {"all": [["a"], ["b"]]}}]}}
        ]
    }
    assert with_phrase(grouped, "s", "c", "x", "any") is None
    blocked = with_phrase(grouped, "s", "c", "x", "not")
    assert blocked is not None
    assert blocked["scenarios"][0]["rubric"]["criteria"][0]["match"]["not"] == ["x"]


def test_suggestions_with_their_effect_and_nothing_written(
    app: FastAPI, settings: Settings
) -> None:
    add_user(app, "mo", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mo")
    add_user(app, "kim", Role.TRAINEE, mentor="mo")
    spray = flagged_attempt(app, "tao", SPRAY)
    other = flagged_attempt(app, "kim", SPRAY)  # a stored attempt the phrase would change
    warned = flagged_attempt(
        app, "kim", ["Any medication?", "Pseudoephedrine will not raise your blood pressure."]
    )
    assert run(settings, "pharmacy-basics").returncode == 2  # says where from
    nothing = run(settings, "pharmacy-basics", "--from-overrides")
    assert nothing.returncode == 0 and "nothing to suggest" in nothing.stdout
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
    pack_file = SHARED_PACKS / "pharmacy-basics.yaml"
    before = pack_file.read_bytes()
    grades = {i: attempt_of(app, i).grade for i in (spray, other, warned)}

    result = run(settings, "pharmacy-basics", "--from-overrides")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2 suggestions for pharmacy-basics (dry run: nothing is written)" in out
    first, second = out.split("\n1. ")[1].split("\n2. ")
    assert "safer-alternative (disclosure): missed -> met by mo" in first
    assert "phrase: add 'a salt water nose spray helps' to the criterion's `any`" in first
    assert "every example passes (the new one too)" in first
    assert "effect on stored attempts: 2 of 3 would change safer-alternative" in first
    assert str(spray) in first and str(other) in first
    # A rule of word groups takes no phrase: the new example breaks, and says so.
    assert "decongestant-warning (contraindication): missed -> met" in second
    assert "add the phrase by hand" in second
    assert (
        f"BREAKS pharmacy-basics/cold-remedy-hypertension › 'reviewed: attempt {warned}" in second
    )
    assert "0 of 3 would change" in second
    # A dry run: the pack file and the stored grades are as they were.
    assert pack_file.read_bytes() == before
    assert {i: attempt_of(app, i).grade for i in (spray, other, warned)} == grades
    assert run(settings, "no-such-pack", "--from-overrides").returncode == 2


def test_help_names_the_dry_run() -> None:
    result = run_in_process(["suggest", "--help"])
    assert (
        result.returncode == 0
        and "dry run" in result.stdout
        and "--from-overrides" in result.stdout
    )
