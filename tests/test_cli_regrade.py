"""`sandbox regrade` (in process, through the console script's entry point) against a real
database and a changed pack."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_support import run_in_process
from fastapi import FastAPI
from review_support import (
    GOOD,
    PACK,
    REASSURANCE,
    attempt_of,
    audit_rows,
    changed_pack_folder,
    graded_attempt,
)
from sqlmodel import Session, select
from web_support import SHARED_PACKS, add_user

from sandbox.config import Settings
from sandbox.storage import regrade as storage_regrade
from sandbox.storage.models import Role, User
from sandbox.storage.reviews import current_overrides, override_criterion


def run(settings: Settings, packs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "SANDBOX_DATABASE_URL": settings.database_url,
        "SANDBOX_PACKS": str(packs),
        "SANDBOX_BUILTIN_PACKS": "false",
        "SANDBOX_VAR_DIR": str(settings.var_dir),
    }
    return run_in_process(["regrade", *args], env=env)


@pytest.mark.parametrize("batch", [500, 2])
def test_regrade_dry_run_then_apply_keeps_overrides(
    app: FastAPI, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # Attempts are read, graded and written a batch at a time: with 2, three attempts take
    # two batches, and the outcome is the same.
    monkeypatch.setattr(storage_regrade, "BATCH", batch)
    add_user(app, "mei", Role.MENTOR)
    add_user(app, "tao", Role.TRAINEE, mentor="mei")
    hello = graded_attempt(app, "tao", GOOD)
    hi = graded_attempt(app, "tao", REASSURANCE)
    overridden = graded_attempt(app, "tao", REASSURANCE)
    with Session(app.state.sandbox.engine, expire_on_commit=False) as session:
        mei = session.exec(select(User).where(User.name == "mei")).one()
        attempt = attempt_of(app, overridden)
        session.add(attempt)
        override_criterion(
            session=session,
            attempt=attempt,
            author=mei,
            criterion_id="decongestant-warning",
            status="met",
            reason="Warned later",
        )
        session.commit()
    before = {i: attempt_of(app, i).grade for i in (hello, hi, overridden)}
    changed = changed_pack_folder(
        SHARED_PACKS / "pharmacy-basics.yaml",
        tmp_path / "changed",
        old='match: ["hello", "hi", "good morning"',
        new='match: ["hello", "good morning"',
    )

    dry = run(settings, changed, "--pack", PACK, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "3 attempts checked; 2 would change (dry run: nothing stored)" in dry.stdout
    listed = {int(line.split()[0]) for line in dry.stdout.splitlines() if line[:1].isdigit()}
    assert listed == {hi, overridden}
    assert "tao" in dry.stdout and "→" not in dry.stdout  # plain columns: now, after regrade
    assert "regrading" in dry.stderr  # the progress bar goes to stderr
    assert "reading 3 attempts and their messages" in dry.stderr  # said before the bar
    assert {i: attempt_of(app, i).grade for i in (hello, hi, overridden)} == before
    assert audit_rows(app, "grade.regrade") == []

    applied = run(settings, changed, "--scenario", f"{PACK}/cold-remedy-hypertension")
    assert applied.returncode == 0, applied.stderr
    assert "3 attempts checked; 2 regraded" in applied.stdout
    kept = attempt_of(app, overridden)
    assert kept.grade is not None and kept.grade["pack_version"] == 2
    entry = next(c for c in kept.grade["criteria"] if c["id"] == "decongestant-warning")
    assert (entry["status"], entry["automatic_status"]) == ("met", "missed")
    with Session(app.state.sandbox.engine) as session:
        assert current_overrides(session=session, attempt_id=overridden) == {
            "decongestant-warning": "met"
        }
    events = audit_rows(app, "grade.regrade")
    assert sorted(int(e.subject_id or 0) for e in events) == [hi, overridden]
    assert all(e.actor_id is None and e.reason == "sandbox regrade (command line)" for e in events)
    assert attempt_of(app, hello).grade == before[hello]

    again = run(settings, changed, "--all", "--dry-run", "--jobs", "1")
    assert again.returncode == 0 and "0 would change" in again.stdout


def test_regrade_refuses_unclear_choices(app: FastAPI, settings: Settings, tmp_path: Path) -> None:
    folder = SHARED_PACKS
    nothing = run(settings, folder)
    assert nothing.returncode == 2 and "--pack ID, --scenario ID or --all" in nothing.stderr
    unknown = run(settings, folder, "--pack", "no-such-pack")
    assert unknown.returncode == 2 and "no pack 'no-such-pack' is loaded" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    missing = run(settings, folder, "--scenario", "no-such-scenario")
    assert missing.returncode == 2 and "no scenario 'no-such-scenario'" in missing.stderr
    empty = run(settings, folder, "--all")
    assert empty.returncode == 0 and "no graded attempts match" in empty.stdout
