"""Login, logout, sessions and CSRF through the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select
from web_support import PASSWORD, add_user, csrf_token, login, make_settings

from sandbox.config import ConfigError, Settings
from sandbox.passwords import hash_password, verify_password
from sandbox.storage.models import LoginSession, User
from sandbox.web.app import create_app
from sandbox.web.security import SESSION_COOKIE


def test_passwords_are_argon2_and_verified() -> None:
    hashed = hash_password("a long password")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long password")
    assert not verify_password(hashed, "another password")
    assert not verify_password(None, "a long password")
    assert not verify_password("not a hash", "a long password")


def test_the_apps_hasher_keeps_argon2_cffis_recommended_cost(
    cheap_password_hashing: PasswordHasher,
) -> None:
    """The tests hash cheaply (conftest.py); the app's own hasher is argon2-cffi's default."""
    recommended = PasswordHasher()
    app_hasher = cheap_password_hashing
    assert (app_hasher.time_cost, app_hasher.memory_cost, app_hasher.parallelism) == (
        recommended.time_cost,
        recommended.memory_cost,
        recommended.parallelism,
    )
    assert app_hasher.hash("a long password").startswith("$argon2id$")


def test_pages_need_a_login(client: TestClient) -> None:
    response = client.get("/history", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/history"


def test_login_sets_a_signed_httponly_lax_cookie(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    page = client.get("/login?next=/history")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "tao",
            "password": PASSWORD,
            "next": "/history",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/history"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    # The cookie carries only a signed session id, never user data.
    assert "tao" not in cookie
    assert client.get("/history").status_code == 200


def test_a_wrong_password_gives_the_form_back_marked(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "name": "tao", "password": "wrong one"},
    )
    assert response.status_code == 400
    assert 'id="login-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="tao"' in response.text  # the name typed is kept
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_an_empty_login_form_is_refused_politely(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 400
    assert "Enter your user name and password." in response.text


def test_login_never_redirects_off_site(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "tao",
            "password": PASSWORD,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_logout_invalidates_the_session_server_side(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    stolen = client.cookies.get(SESSION_COOKIE)
    home = client.get("/")
    response = client.post(
        "/logout", data={"csrf_token": csrf_token(home.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    with Session(app.state.sandbox.engine) as session:
        assert session.exec(select(LoginSession)).all() == []
    # Replaying the old cookie no longer signs anyone in.
    client.cookies.set(SESSION_COOKIE, stolen or "")
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_forms_without_a_valid_csrf_token_are_refused(
    app: FastAPI, client: TestClient, token: str | None
) -> None:
    add_user(app, "tao")
    login(client, "tao")
    data = {} if token is None else {"csrf_token": token}
    response = client.post("/logout", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "This form had expired" in response.text
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in
    start = client.post("/scenarios/pharmacy-basics/cold-remedy-hypertension/attempts", data=data)
    assert start.status_code == 403


def test_a_csrf_token_of_another_browser_is_refused(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    other = TestClient(app)
    foreign_token = csrf_token(other.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": foreign_token, "name": "tao", "password": PASSWORD}
    )
    assert response.status_code == 403


def test_language_switch_is_kept_on_the_user(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    home = client.get("/")
    assert "Scenarios" in home.text
    client.post(
        "/language", data={"csrf_token": csrf_token(home.text), "locale": "zh-CN", "next": "/"}
    )
    with Session(app.state.sandbox.engine) as session:
        user = session.exec(select(User).where(User.name == "tao")).one()
        assert user.locale == "zh-CN"
    fresh = TestClient(app)
    login(fresh, "tao")
    assert '<html lang="zh-CN">' in fresh.get("/").text


def test_accept_language_chooses_the_interface_language(client: TestClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-CN">' in page.text and "登录" in page.text
    page = client.get("/login", headers={"Accept-Language": "fr-FR, en;q=0.4"})
    assert '<html lang="en">' in page.text


def test_production_refuses_a_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SANDBOX_SECRET_KEY"):
        Settings(env="production", var_dir=tmp_path)
    settings = Settings(env="production", secret_key="x" * 40, var_dir=tmp_path)
    assert settings.resolved_secret_key() == "x" * 40
    settings.secret_key = None
    with pytest.raises(ConfigError):
        settings.resolved_secret_key()


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = make_settings(tmp_path).resolved_secret_key()
    assert len(first) >= 32
    assert make_settings(tmp_path).resolved_secret_key() == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


def test_demo_logins_only_on_the_embedded_default(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, demo_users=True))
    logins = app.state.sandbox.demo_logins
    assert [(d.name, d.role) for d in logins] == [("demo", "trainee"), ("admin", "admin")]
    client = TestClient(app)
    page = client.get("/login")
    assert logins[0].password in page.text
    login(client, "demo", logins[0].password)
    # A restart shows the same logins; it does not create new users.
    again = create_app(make_settings(tmp_path, demo_users=True))
    assert again.state.sandbox.demo_logins == logins

    production = create_app(
        make_settings(tmp_path / "prod", env="production", secret_key="y" * 40, demo_users=True)
    )
    assert production.state.sandbox.demo_logins == []
    with Session(production.state.sandbox.engine) as session:
        assert session.exec(select(User)).all() == []


def test_expired_sessions_sign_nobody_in_and_are_purged(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    with Session(app.state.sandbox.engine) as session:
        for login_session in session.exec(select(LoginSession)).all():
            login_session.expires_at = login_session.created_at
            session.add(login_session)
        session.commit()
    assert client.get("/", follow_redirects=False).status_code == 303
    login(client, "tao")
    with Session(app.state.sandbox.engine) as session:
        assert len(session.exec(select(LoginSession)).all()) == 1
