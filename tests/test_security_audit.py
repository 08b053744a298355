"""The audit trail: role changes, logins, overrides, comments, cases, exam releases and
appeals are recorded with who, when and what, and nothing can rewrite or delete them.
(The triggers themselves, on SQLite and PostgreSQL: tests/test_audit.py.)"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from security_support import World, build_world, token_for
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, col, select
from typer.testing import CliRunner
from web_support import SAME_ORIGIN, add_user, login, make_settings

from sandbox.cli.main import app as cli
from sandbox.storage.audit import AuditEvent
from sandbox.storage.models import Role, User
from sandbox.web.app import create_app


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(create_app(make_settings(tmp_path)))
    yield built
    built.close()


def events(app: FastAPI, action: str | None = None) -> list[AuditEvent]:
    with Session(app.state.sandbox.engine) as session:
        statement = select(AuditEvent).order_by(col(AuditEvent.id))
        if action is not None:
            statement = statement.where(AuditEvent.action == action)
        return list(session.exec(statement))


def user_id(app: FastAPI, name: str) -> int:
    with Session(app.state.sandbox.engine) as session:
        user = session.exec(select(User).where(User.name == name)).one()
        assert user.id is not None
        return user.id


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
        "SUDO_USER": "",
    }


def os_user() -> str:
    """The account this test runs as, as the console records it."""
    return "os:" + pwd.getpwuid(os.geteuid()).pw_name


def test_a_role_change_is_audited_and_applies_at_the_next_request(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    add_user(app, "tao", Role.TRAINEE)
    with TestClient(app, headers=SAME_ORIGIN) as browser:
        login(browser, "tao")
        assert browser.get("/mentor/attempts", follow_redirects=False).status_code == 403
        result = CliRunner().invoke(
            cli, ["users", "role", "tao", "mentor", "--reason", "promoted"], env=cli_env(tmp_path)
        )
        assert result.exit_code == 0, result.output
        assert "tao is now mentor" in result.output
        # The same session, no new login: the role is read from the database every time.
        assert browser.get("/mentor/attempts", follow_redirects=False).status_code == 200
        CliRunner().invoke(cli, ["users", "role", "tao", "trainee"], env=cli_env(tmp_path))
        assert browser.get("/mentor/attempts", follow_redirects=False).status_code == 403
    again = CliRunner().invoke(cli, ["users", "role", "tao", "trainee"], env=cli_env(tmp_path))
    assert "already trainee" in again.output
    changes = events(app, "user.role")
    tao = user_id(app, "tao")
    # No signed-in actor on the console: the event names the operating-system account.
    assert [(e.subject_id, e.old, e.new, e.reason, e.actor_id) for e in changes] == [
        (str(tao), {"role": "trainee"}, {"role": "mentor", "actor": os_user()}, "promoted", None),
        (str(tao), {"role": "mentor"}, {"role": "trainee", "actor": os_user()}, None, None),
    ]
    assert all(e.at is not None for e in changes)


@pytest.mark.skipif(os.geteuid() != 0, reason="sudo's account is believed only under root")
def test_a_role_change_through_sudo_names_the_account_that_ran_sudo(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    add_user(app, "tao", Role.TRAINEE)
    result = CliRunner().invoke(
        cli, ["users", "role", "tao", "mentor"], env={**cli_env(tmp_path), "SUDO_USER": "mei"}
    )
    assert result.exit_code == 0, result.output
    [change] = events(app, "user.role")
    assert change.new == {"role": "mentor", "actor": f"{os_user()} (sudo from mei)"}


@pytest.mark.parametrize(
    ("args", "message"),
    [(["nobody", "mentor"], "no user called"), (["tao", "boss"], "unknown role")],
)
def test_a_bad_role_change_says_what_is_wrong(
    tmp_path: Path, args: list[str], message: str
) -> None:
    app = create_app(make_settings(tmp_path))
    add_user(app, "tao")
    result = CliRunner().invoke(cli, ["users", "role", *args], env=cli_env(tmp_path))
    assert result.exit_code == 2 and message in result.output
    assert events(app, "user.role") == []


def test_the_trail_says_who_did_what_to_what(world: World) -> None:
    app = world.app
    attempt = world.samples["attempt_id"]
    ids = {role: user_id(app, name) for role, name in world.names.items()}
    mentor = world.client("mentor")
    overridden = mentor.post(
        f"/mentor/attempts/{attempt}/overrides",
        data={
            "csrf_token": token_for(mentor),
            "criterion": "tone",
            "status": "missed",
            "reason": "curt all through",
        },
        follow_redirects=False,
    )
    assert overridden.status_code == 303, overridden.text
    expected = {
        # action: (who, subject type, subject id)
        "login": None,
        "review.comment": ("mentor", "attempt", attempt),
        "case.mark": ("mentor", "attempt", attempt),
        "grade.override": ("mentor", "attempt", attempt),
    }
    if "appeal_id" in world.samples:
        proctor = world.client("proctor")
        resolved = proctor.post(
            f"/appeals/{world.samples['appeal_id']}",
            data={"csrf_token": token_for(proctor), "decision": "keep", "note": "grade stands"},
            follow_redirects=False,
        )
        assert resolved.status_code == 303, resolved.text
        expected |= {
            "exam.release": ("proctor", "exam", world.samples["exam_id"]),
            "appeal.open": ("trainee", "appeal", world.samples["appeal_id"]),
            "appeal.resolve": ("proctor", "appeal", world.samples["appeal_id"]),
        }
    trail = events(app)
    actions = {e.action for e in trail}
    assert set(expected) <= actions, sorted(set(expected) - actions)
    for action, spec in expected.items():
        found = [e for e in trail if e.action == action]
        assert all(e.at is not None for e in found), action
        if spec is None:
            continue
        who, subject_type, subject_id = spec
        assert {(e.actor_id, e.subject_type, e.subject_id) for e in found} == {
            (ids[who], subject_type, subject_id)
        }, action
    override = next(e for e in trail if e.action == "grade.override")
    assert override.reason == "curt all through"
    assert override.old is not None and override.new is not None
    # The trail is in the order things happened.
    assert [e.at for e in trail] == sorted(e.at for e in trail)


def test_nothing_in_the_app_can_rewrite_or_delete_an_event(world: World) -> None:
    app = world.app
    engine = app.state.sandbox.engine
    before = [(e.id, e.action, e.reason) for e in events(app)]
    assert before
    with Session(engine) as session:
        event = session.exec(select(AuditEvent)).first()
        assert event is not None
        event.reason = "rewritten"
        session.add(event)
        with pytest.raises(DatabaseError, match="append-only"):
            session.commit()
    with Session(engine) as session:
        event = session.exec(select(AuditEvent)).first()
        session.delete(event)
        with pytest.raises(DatabaseError, match="append-only"):
            session.commit()
    assert [(e.id, e.action, e.reason) for e in events(app)] == before
