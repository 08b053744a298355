"""Sessions: cookie flags, Secure over HTTPS, logout, login rate limits, logins in the audit log."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_support import Server, server_env
from sqlalchemy import text as text_query
from sqlmodel import Session, col, select
from typer.testing import CliRunner
from web_support import (
    PASSWORD,
    SHARED_PACKS,
    add_user,
    csrf_token,
    login,
    make_settings,
    needs_postgres,
    postgres_database,
)

from sandbox.cli.main import app as cli
from sandbox.storage.audit import AuditEvent
from sandbox.storage.models import Role
from sandbox.web.app import create_app
from sandbox.web.limits import LoginLimits
from sandbox.web.security import ANON_COOKIE, LANG_COOKIE, SESSION_COOKIE


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each cookie the response sets, by name, with its attribute text."""
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        cookies[name] = header
    return cookies


def flags(header: str) -> set[str]:
    parsed = SimpleCookie()
    parsed.load(header)
    morsel = next(iter(parsed.values()))
    found = {key for key in ("httponly", "secure") if morsel[key]}
    if morsel["samesite"]:
        found.add(f"samesite={morsel['samesite'].lower()}")
    return found


def post_login(client: TestClient, name: str, password: str) -> httpx.Response:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "name": name, "password": password},
        follow_redirects=False,
    )


def audit_log(app: FastAPI) -> list[AuditEvent]:
    with Session(app.state.sandbox.engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    """The app's login limits on a clock the test moves."""
    fake = FakeClock()
    state = app.state.sandbox
    state.login_limits = LoginLimits.from_settings(state.settings, clock=fake)
    return fake


# --- cookie flags ------------------------------------------------------------------------


def test_cookies_are_httponly_and_samesite_but_not_secure_over_plain_http(
    app: FastAPI, client: TestClient
) -> None:
    add_user(app, "tao")
    first = client.get("/login")
    assert flags(set_cookies(first)[ANON_COOKIE]) == {"httponly", "samesite=lax"}
    response = post_login(client, "tao", PASSWORD)
    assert flags(set_cookies(response)[SESSION_COOKIE]) == {"httponly", "samesite=lax"}
    home = client.get("/")
    switched = client.post(
        "/language",
        data={"csrf_token": csrf_token(home.text), "locale": "zh-CN"},
        follow_redirects=False,
    )
    assert flags(set_cookies(switched)[LANG_COOKIE]) == {"httponly", "samesite=lax"}
    assert "strict-transport-security" not in home.headers


def test_every_cookie_is_secure_when_served_over_https(app: FastAPI) -> None:
    # Behind a TLS proxy trusted by SANDBOX_FORWARDED_ALLOW_IPS uvicorn sets the scheme to
    # https from X-Forwarded-Proto; the app then sees exactly this (the proxy header path
    # through a real `sandbox serve` is the last test here).
    add_user(app, "tao")
    with TestClient(app, base_url="https://testserver") as secure_client:
        first = secure_client.get("/login")
        assert "secure" in flags(set_cookies(first)[ANON_COOKIE])
        response = post_login(secure_client, "tao", PASSWORD)
        assert flags(set_cookies(response)[SESSION_COOKIE]) == {
            "httponly",
            "secure",
            "samesite=lax",
        }
        home = secure_client.get("/")
        assert home.headers["strict-transport-security"].startswith("max-age=")
        logout = secure_client.post(
            "/logout", data={"csrf_token": csrf_token(home.text)}, follow_redirects=False
        )
        assert "secure" in flags(set_cookies(logout)[SESSION_COOKIE])


def test_production_marks_cookies_secure_even_behind_a_plain_http_hop(tmp_path: Path) -> None:
    production = create_app(
        make_settings(tmp_path, env="production", secret_key="p" * 40, demo_users=False)
    )
    add_user(production, "tao")
    with TestClient(production) as plain:
        page = plain.get("/login")
        anon = set_cookies(page)[ANON_COOKIE]
        assert "secure" in flags(anon)
    # The browser talks HTTPS to the proxy and sends its Secure cookie; the hop to the app
    # is plain HTTP.
    anon_id = anon.split("=", 1)[1].split(";", 1)[0]
    with TestClient(production, cookies={ANON_COOKIE: anon_id}) as behind_proxy:
        response = behind_proxy.post(
            "/login",
            data={"csrf_token": csrf_token(page.text), "name": "tao", "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert flags(set_cookies(response)[SESSION_COOKIE]) == {
            "httponly",
            "secure",
            "samesite=lax",
        }


# --- logout --------------------------------------------------------------------------------


def test_an_old_cookie_signs_nobody_in_after_logout(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    old_cookie = client.cookies.get(SESSION_COOKIE)
    assert old_cookie
    home = client.get("/")
    client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    with TestClient(app, cookies={SESSION_COOKIE: old_cookie}) as thief:
        assert thief.get("/", follow_redirects=False).status_code == 303
        assert (
            thief.get("/history", follow_redirects=False).headers["location"].startswith("/login")
        )


# --- login rate limits ----------------------------------------------------------------------


def test_an_account_is_locked_after_repeated_failures_with_a_clear_message(
    app: FastAPI, client: TestClient, clock: FakeClock
) -> None:
    add_user(app, "tao")
    add_user(app, "mei")
    limit = app.state.sandbox.settings.login_failures_per_account
    for _ in range(limit):
        assert post_login(client, "tao", "wrong password").status_code == 400
    # Even the right password is refused now: the guesser learns nothing more.
    refused = post_login(client, "tao", PASSWORD)
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= app.state.sandbox.settings.login_window_s
    assert 'id="login-error"' in refused.text
    assert "Too many failed logins" in refused.text
    assert SESSION_COOKIE not in set_cookies(refused)
    # Other accounts from the same browser are not affected.
    assert post_login(client, "mei", PASSWORD).status_code == 303
    # Once the window has passed, the account may log in again.
    clock.now += retry_after
    assert post_login(client, "tao", PASSWORD).status_code == 303


def test_a_success_clears_the_account_count(
    app: FastAPI, client: TestClient, clock: FakeClock
) -> None:
    add_user(app, "tao")
    limit = app.state.sandbox.settings.login_failures_per_account
    for _ in range(limit - 1):
        post_login(client, "tao", "wrong password")
    assert post_login(client, "tao", PASSWORD).status_code == 303
    for _ in range(limit - 1):
        assert post_login(client, "tao", "wrong password").status_code == 400
    assert post_login(client, "tao", PASSWORD).status_code == 303


def test_an_address_is_limited_across_account_names(tmp_path: Path) -> None:
    limited = create_app(
        make_settings(tmp_path, login_failures_per_address=3, login_failures_per_account=100)
    )
    add_user(limited, "tao")
    with TestClient(limited) as browser:
        for name in ("ann", "bob", "cyd"):
            assert post_login(browser, name, "a guessed password").status_code == 400
        refused = post_login(browser, "tao", PASSWORD)
        assert refused.status_code == 429 and "retry-after" in refused.headers
    # The limit is per client address: another address is served (the test client's
    # address is fixed, so a second app instance stands in for another client here).


def test_the_limit_message_is_translated(
    app: FastAPI, client: TestClient, clock: FakeClock
) -> None:
    add_user(app, "tao")
    for _ in range(app.state.sandbox.settings.login_failures_per_account):
        post_login(client, "tao", "wrong password")
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    refused = client.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "name": "tao", "password": PASSWORD},
        headers={"Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 429 and "登录失败次数过多" in refused.text


# --- the audit log of logins -------------------------------------------------------------------


def test_logins_failures_and_logouts_are_in_the_audit_log(app: FastAPI, client: TestClient) -> None:
    tao = add_user(app, "tao", Role.TRAINEE)
    post_login(client, "tao", "wrong password")
    post_login(client, "nobody-by-this-name", "wrong password")
    login(client, "tao")
    home = client.get("/")
    client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    events = audit_log(app)
    assert [(e.action, e.actor_id, e.subject_type, e.subject_id) for e in events] == [
        ("login.failed", None, "user", str(tao.id)),
        ("login.failed", None, "user", None),
        ("login", tao.id, "user", str(tao.id)),
        ("logout", tao.id, "user", str(tao.id)),
    ]
    # A known name is recorded as it is; a name that is no account's only as a keyed hash.
    assert events[0].new == {"name": "tao", "address": "testclient"}
    assert set(events[1].new) == {"name_hash", "address"}
    assert events[1].new["name_hash"].startswith("hmac-sha256:")
    assert "nobody" not in repr(events[1].new)
    assert all(e.new["address"] == "testclient" for e in events)
    assert all(e.at is not None for e in events)
    # The password typed is never recorded.
    assert all("wrong password" not in repr((e.old, e.new, e.reason)) for e in events)


def test_a_refused_login_is_not_recorded_as_a_try(
    app: FastAPI, client: TestClient, clock: FakeClock
) -> None:
    add_user(app, "tao")
    limit = app.state.sandbox.settings.login_failures_per_account
    for _ in range(limit):
        post_login(client, "tao", "wrong password")
    for _ in range(3):
        assert post_login(client, "tao", "wrong password").status_code == 429
    # A flood of refused tries does not flood the log.
    assert [e.action for e in audit_log(app)] == ["login.failed"] * limit


def test_a_password_typed_as_the_name_is_kept_nowhere(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    # The owner types the password into the name box, twice, then mistypes another name.
    for name, password in ((PASSWORD, "tao"), (PASSWORD, "tao"), ("ta0", PASSWORD)):
        assert post_login(client, name, password).status_code == 400
    failed = [e.new for e in audit_log(app) if e.action == "login.failed"]
    # The same unknown name hashes alike (an operator can still see a run of tries).
    assert failed[0]["name_hash"] == failed[1]["name_hash"] != failed[2]["name_hash"]
    # Not in the audit log, not in the login counts, not in any table, in any form.
    with Session(app.state.sandbox.engine) as session:
        tables = [
            row.name
            for row in session.exec(
                text_query("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
        ]
        dump = repr([list(session.exec(text_query(f'SELECT * FROM "{t}"'))) for t in tables])
    assert "login_throttle" in tables and "audit_events" in tables
    assert PASSWORD not in dump and "correct horse" not in dump and "ta0" not in dump


# --- guessing does not lock the owner out ---------------------------------------------------------

ATTACKER = ("203.0.113.5", 40000)
OWNER = ("198.51.100.7", 40001)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def any_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    """The app on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield create_app(make_settings(tmp_path))
        return
    with postgres_database(migrated=True) as url:
        built = create_app(make_settings(tmp_path, database_url=url))
        try:
            yield built
        finally:
            built.state.sandbox.engine.dispose()


def test_guesses_from_one_address_never_lock_the_owner_out_from_another(
    any_app: FastAPI,
) -> None:
    app = any_app
    add_user(app, "tao")
    clock = FakeClock()
    state = app.state.sandbox
    state.login_limits = LoginLimits.from_settings(state.settings, clock=clock)
    limit = state.settings.login_failures_per_account
    with (
        TestClient(app, client=ATTACKER) as attacker,
        TestClient(app, client=OWNER) as owner,
    ):
        for _ in range(limit):
            assert post_login(attacker, "tao", "a guessed password").status_code == 400
        # The attacker's address must wait, with a clear message, even with the right password.
        refused = post_login(attacker, "tao", PASSWORD)
        assert refused.status_code == 429
        first_wait = int(refused.headers["retry-after"])
        assert first_wait == 60
        assert "Too many failed logins" in refused.text and "Wait 1 min" in refused.text
        # The owner, elsewhere, signs in at once with the right password.
        assert post_login(owner, "tao", PASSWORD).status_code == 303
        assert owner.get("/history", follow_redirects=False).status_code == 200
        # Each further failure from the attacker's address doubles the wait.
        waits = [first_wait]
        for _ in range(3):
            clock.now += waits[-1]
            assert post_login(attacker, "tao", "another guess").status_code == 400
            again = post_login(attacker, "tao", "another guess")
            assert again.status_code == 429
            waits.append(int(again.headers["retry-after"]))
        assert waits == [60, 120, 240, 480]
        # The owner is still let in, and their success does not reset the attacker's count.
        assert post_login(owner, "tao", PASSWORD).status_code == 303
        assert post_login(attacker, "tao", "another guess").status_code == 429
        # After a quiet window the attacker's address starts again from nothing.
        clock.now += state.settings.login_window_s
        assert post_login(attacker, "tao", PASSWORD).status_code == 303


def test_an_unknown_name_is_slowed_exactly_like_a_known_one(app: FastAPI, clock: FakeClock) -> None:
    add_user(app, "tao")
    limit = app.state.sandbox.settings.login_failures_per_account
    with TestClient(app, client=ATTACKER) as attacker:
        answers = {
            name: [post_login(attacker, name, "a guess").status_code for _ in range(limit + 1)]
            for name in ("tao", "nobody")
        }
    # Nothing tells a guesser which names are accounts.
    assert answers["tao"] == answers["nobody"] == [400] * limit + [429]


# --- an administrator unlocks an account ----------------------------------------------------------


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
        "SUDO_USER": "",
    }


def test_sandbox_users_unlock_clears_the_wait_and_is_audited(
    app: FastAPI, clock: FakeClock, tmp_path: Path
) -> None:
    tao = add_user(app, "tao")
    limit = app.state.sandbox.settings.login_failures_per_account
    with TestClient(app, client=OWNER) as owner:
        for _ in range(limit):
            post_login(owner, "tao", "a forgotten password")
        assert post_login(owner, "tao", PASSWORD).status_code == 429
        result = CliRunner().invoke(
            cli, ["users", "unlock", "tao", "--reason", "ticket 12"], env=cli_env(tmp_path)
        )
        assert result.exit_code == 0, result.output
        assert "tao unlocked: 1 failed-login counts cleared" in result.output
        # No waiting: the same address signs in at once.
        assert post_login(owner, "tao", PASSWORD).status_code == 303
    [event] = [e for e in audit_log(app) if e.action == "login.unlock"]
    assert (event.actor_id, event.subject_id, event.reason) == (None, str(tao.id), "ticket 12")
    assert event.new == {"cleared": 1, "actor": "os:" + pwd.getpwuid(os.geteuid()).pw_name}
    again = CliRunner().invoke(cli, ["users", "unlock", "tao"], env=cli_env(tmp_path))
    assert again.exit_code == 0 and "tao had no failed logins to clear" in again.output


def test_sandbox_users_unlock_can_clear_an_address_too(tmp_path: Path) -> None:
    limited = create_app(
        make_settings(tmp_path, login_failures_per_address=3, login_failures_per_account=100)
    )
    add_user(limited, "tao")
    with TestClient(limited, client=OWNER) as classroom:
        for name in ("ann", "bob", "cyd"):
            post_login(classroom, name, "a guessed password")
        assert post_login(classroom, "tao", PASSWORD).status_code == 429
        result = CliRunner().invoke(
            cli, ["users", "unlock", "tao", "--address", OWNER[0]], env=cli_env(tmp_path)
        )
        assert result.exit_code == 0, result.output
        assert post_login(classroom, "tao", PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "error: name: no user called 'nobody'"),
        (["tao", "--address", " "], "--address"),
    ],
)
def test_sandbox_users_unlock_refuses_bad_input(
    app: FastAPI, tmp_path: Path, args: list[str], message: str
) -> None:
    add_user(app, "tao")
    result = CliRunner().invoke(cli, ["users", "unlock", *args], env=cli_env(tmp_path))
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output
    assert [e for e in audit_log(app) if e.action == "login.unlock"] == []


# --- behind a TLS proxy, through a real `sandbox serve` -----------------------------------------


@pytest.mark.parametrize(
    ("trusted", "secure"), [("127.0.0.1", True), ("10.9.8.7", False)], ids=["trusted", "untrusted"]
)
def test_a_trusted_proxys_https_makes_cookies_secure(
    tmp_path: Path, trusted: str, secure: bool
) -> None:
    """uvicorn believes X-Forwarded-Proto only from SANDBOX_FORWARDED_ALLOW_IPS."""
    server = Server(
        tmp_path, server_env(tmp_path, packs=str(SHARED_PACKS), forwarded_allow_ips=trusted)
    )
    server.start()
    try:
        response = httpx.get(f"{server.url}/login", headers={"X-Forwarded-Proto": "https"})
        assert response.status_code == 200
        assert ("secure" in flags(set_cookies(response)[ANON_COOKIE])) is secure
        assert ("strict-transport-security" in response.headers) is secure
    finally:
        server.stop()
