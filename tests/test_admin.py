"""The admin area (/admin): users, mentors, deactivation, unlock, password reset, import,
cohorts and packs, through the real app and a real SQLite database."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import Session, col, select
from web_support import PASSWORD, SAME_ORIGIN, csrf_token, login

from sandbox.storage.audit import AuditEvent
from sandbox.storage.exams import CohortMember
from sandbox.storage.models import LoginSession, User
from sandbox.storage.throttle import LoginThrottle
from sandbox.storage.users import authenticate, get_user_by_name

Browsers = Callable[[str], TestClient]


def post(client: TestClient, page: str, action: str, data: dict[str, object]) -> object:
    token = csrf_token(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)


def fetch_user(app: FastAPI, name: str) -> User:
    with Session(app.state.sandbox.engine) as session:
        user = get_user_by_name(session=session, name=name)
        assert user is not None
        session.expunge(user)
        return user


def events(app: FastAPI, action: str) -> list[AuditEvent]:
    with Session(app.state.sandbox.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_only_admins_enter(browsers: Browsers) -> None:
    for name in ("mo", "pat", "tao"):
        assert browsers(name).get("/admin").status_code == 403
    page = browsers("boss").get("/admin")
    assert page.status_code == 200
    assert 'id="nav-admin"' in page.text
    assert 'id="nav-admin"' not in browsers("mo").get("/").text


def test_search_by_name_and_role(browsers: Browsers) -> None:
    admin = browsers("boss")
    page = admin.get("/admin", params={"q": "Me"}).text
    assert ">mei</a>" in page and ">tao</a>" not in page
    page = admin.get("/admin", params={"role": "mentor"}).text
    assert ">mo</a>" in page and ">mei</a>" not in page
    assert "1 user" in page


def test_create_shows_a_temporary_password_once(app: FastAPI, browsers: Browsers) -> None:
    admin = browsers("boss")
    response = post(
        admin, "/admin", "/admin/users", {"name": "lin", "role": "trainee", "mentor": "mo"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    password = re.search(r'id="temporary-password-value">([^<]+)<', response.text)
    assert password
    lin = fetch_user(app, "lin")
    assert lin.mentor_id == fetch_user(app, "mo").id
    with Session(app.state.sandbox.engine) as session:
        assert authenticate(session=session, name="lin", password=password.group(1))
    assert "temporary-password" not in admin.get(f"/admin/users/{lin.id}").text
    assert events(app, "user.create")[0].actor_id == fetch_user(app, "boss").id


def test_create_names_the_bad_field(browsers: Browsers) -> None:
    admin = browsers("boss")
    response = post(admin, "/admin", "/admin/users", {"name": "tao", "role": "trainee"})
    assert response.status_code == 400
    assert 'id="error-name"' in response.text and "tao already exists" in response.text
    response = post(admin, "/admin", "/admin/users", {"name": "new one", "role": "boss"})
    assert response.status_code == 400
    assert 'id="error-role"' in response.text and 'id="error-name"' not in response.text
    response = post(admin, "/admin", "/admin/users", {"name": "x1", "mentor": "kim"})
    assert response.status_code == 400 and "kim is not a user with the mentor role" in response.text


def test_role_change_is_audited_with_the_actor(app: FastAPI, browsers: Browsers) -> None:
    admin = browsers("boss")
    kim = fetch_user(app, "kim")
    page = f"/admin/users/{kim.id}"
    response = post(admin, page, f"{page}/role", {"role": "mentor", "reason": "promoted"})
    assert response.status_code == 303
    assert fetch_user(app, "kim").role == "mentor"
    (event,) = events(app, "user.role")
    assert event.actor_id == fetch_user(app, "boss").id
    assert event.old == {"role": "trainee"} and event.new == {"role": "mentor"}
    assert event.reason == "promoted"
    boss = fetch_user(app, "boss")
    own = f"/admin/users/{boss.id}"
    response = post(admin, own, f"{own}/role", {"role": "trainee"})
    assert response.status_code == 400 and fetch_user(app, "boss").role == "admin"


def test_mentor_is_assigned_and_changed(app: FastAPI, browsers: Browsers) -> None:
    admin = browsers("boss")
    kim = fetch_user(app, "kim")
    page = f"/admin/users/{kim.id}"
    assert post(admin, page, f"{page}/mentor", {"mentor": "mo"}).status_code == 303
    assert fetch_user(app, "kim").mentor_id == fetch_user(app, "mo").id
    # The mentor now reviews kim's work: kim appears in the mentor's trainee filter.
    assert ">kim</option>" in browsers("mo").get("/mentor/attempts").text
    response = post(admin, page, f"{page}/mentor", {"mentor": "tao"})
    assert response.status_code == 400 and 'id="error-mentor"' in response.text
    assert post(admin, page, f"{page}/mentor", {"mentor": ""}).status_code == 303
    assert fetch_user(app, "kim").mentor_id is None
    assert [e.new["mentor"] for e in events(app, "user.mentor")] == ["mo", None]


def test_deactivate_ends_sessions_and_reactivate_lets_them_in(
    app: FastAPI, browsers: Browsers
) -> None:
    admin = browsers("boss")
    tao_browser = browsers("tao")
    assert tao_browser.get("/history").status_code == 200
    tao = fetch_user(app, "tao")
    page = f"/admin/users/{tao.id}"
    assert post(admin, page, f"{page}/active", {"active": "0"}).status_code == 303
    with Session(app.state.sandbox.engine) as session:
        assert not session.exec(select(LoginSession).where(LoginSession.user_id == tao.id)).all()
    assert tao_browser.get("/history", follow_redirects=False).status_code == 303
    assert "Deactivated" in admin.get("/admin").text
    assert post(admin, page, f"{page}/active", {"active": "1"}).status_code == 303
    fresh = TestClient(app, headers=SAME_ORIGIN)
    login(fresh, "tao")
    assert fresh.get("/history").status_code == 200
    assert [e.action for e in events(app, "user.deactivate")] == ["user.deactivate"]
    boss = fetch_user(app, "boss")
    own = f"/admin/users/{boss.id}"
    assert post(admin, own, f"{own}/active", {"active": "0"}).status_code == 400


def test_unlock_clears_failed_logins(app: FastAPI, browsers: Browsers) -> None:
    stranger = TestClient(app, headers=SAME_ORIGIN)
    for _ in range(12):
        page = stranger.get("/login")
        stranger.post(
            "/login",
            data={"csrf_token": csrf_token(page.text), "name": "mei", "password": "wrong-one"},
        )
    mei = fetch_user(app, "mei")
    admin = browsers("boss")
    assert "Locked" in admin.get("/admin", params={"q": "mei"}).text
    page = f"/admin/users/{mei.id}"
    assert post(admin, page, f"{page}/unlock", {}).status_code == 303
    with Session(app.state.sandbox.engine) as session:
        rows = session.exec(select(LoginThrottle).where(LoginThrottle.user_id == mei.id)).all()
        assert not rows
    login(stranger, "mei")
    assert events(app, "login.unlock")[0].actor_id == fetch_user(app, "boss").id


def test_password_reset_signs_out_and_replaces_the_password(
    app: FastAPI, browsers: Browsers
) -> None:
    tao_browser = browsers("tao")
    tao = fetch_user(app, "tao")
    page = f"/admin/users/{tao.id}"
    response = post(browsers("boss"), page, f"{page}/password", {})
    assert response.status_code == 200
    found = re.search(r'id="temporary-password-value">([^<]+)<', response.text)
    assert found
    assert tao_browser.get("/history", follow_redirects=False).status_code == 303
    with Session(app.state.sandbox.engine) as session:
        assert authenticate(session=session, name="tao", password=PASSWORD) is None
        assert authenticate(session=session, name="tao", password=found.group(1))
    assert len(events(app, "user.password_reset")) == 1


def upload(client: TestClient, data: bytes, filename: str) -> object:
    token = csrf_token(client.get("/admin").text)
    return client.post(
        "/admin/import",
        data={"csrf_token": token},
        files={"table": (filename, data, "application/octet-stream")},
    )


def test_import_creates_and_updates_with_a_report_per_row(app: FastAPI, browsers: Browsers) -> None:
    text = (
        "name,role,password,mentor\n"
        "ana,trainee,ana-password-1,mo\n"
        "kim,,,mo\n"
        "bad name,trainee,pw-long-enough,\n"
        "ben,trainee,,\n"
        "tao,mentor,,\n"
    )
    response = upload(browsers("boss"), text.encode(), "people.csv")
    assert response.status_code == 200, response.text
    page = response.text
    assert "1 created" in page and "2 updated" in page and "2 rows with problems" in page
    assert "people.csv:4: name &#39;bad name&#39;" in page
    assert "people.csv:5: password: a new user needs one" in page
    assert fetch_user(app, "ana").mentor_id == fetch_user(app, "mo").id
    assert fetch_user(app, "kim").mentor_id == fetch_user(app, "mo").id
    assert fetch_user(app, "tao").role == "mentor"
    with Session(app.state.sandbox.engine) as session:
        assert get_user_by_name(session=session, name="ben") is None


def test_import_reads_semicolons_bom_and_gbk(app: FastAPI, browsers: Browsers) -> None:
    admin = browsers("boss")
    text = "name;role;password;active\nzhang;trainee;密码-足够长的密码;是\n"
    assert upload(admin, b"\xef\xbb\xbf" + text.encode(), "u.csv").status_code == 200
    text = "name;role;password;active\nwang;trainee;密码-足够长的密码;否\n"
    response = upload(admin, text.encode("gbk"), "u.csv")
    assert response.status_code == 200 and "1 created" in response.text
    with Session(app.state.sandbox.engine) as session:
        assert authenticate(session=session, name="zhang", password="密码-足够长的密码")
    assert fetch_user(app, "wang").active is False


def test_import_reads_xlsx(app: FastAPI, browsers: Browsers) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "role", "password"])
    sheet.append(["lee", "proctor", "lee-password-9"])
    buffer = BytesIO()
    book.save(buffer)
    response = upload(browsers("boss"), buffer.getvalue(), "people.xlsx")
    assert response.status_code == 200 and "1 created" in response.text
    assert fetch_user(app, "lee").role == "proctor"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"nom,mot\nx,y\n", "expected a header of name"),
        (b"\xff\xfe\x00\x81\xff", "neither UTF-8 nor GBK"),
        (b"PK\x03\x04broken", "not a readable Excel workbook"),
    ],
)
def test_an_unreadable_file_imports_nothing(browsers: Browsers, data: bytes, message: str) -> None:
    response = upload(browsers("boss"), data, "bad.csv")
    assert response.status_code == 400
    assert message in response.text and "Nothing imported from bad.csv" in response.text


def test_cohorts_are_made_and_changed(app: FastAPI, browsers: Browsers) -> None:
    admin = browsers("boss")
    tao, mei, kim = (fetch_user(app, n) for n in ("tao", "mei", "kim"))
    response = post(admin, "/admin/cohorts", "/admin/cohorts", {"name": "Spring 27"})
    assert response.status_code == 400 and "at least one member" in response.text
    response = post(
        admin,
        "/admin/cohorts",
        "/admin/cohorts",
        {"name": "Spring 27", "members": [tao.id, mei.id]},
    )
    assert response.status_code == 303
    page = "/admin/cohorts/Spring 27"
    assert "2 members" in admin.get(page).text
    assert post(admin, page, "/admin/cohorts/Spring 27/add", {"user_id": kim.id}).status_code == 303
    assert (
        post(admin, page, "/admin/cohorts/Spring 27/remove", {"user_id": tao.id}).status_code == 303
    )
    with Session(app.state.sandbox.engine) as session:
        members = session.exec(
            select(CohortMember.user_id).where(CohortMember.cohort == "Spring 27")
        ).all()
    assert sorted(members) == sorted([mei.id, kim.id])
    # The proctor's exam form offers the cohort the admin made.
    assert "Spring 27" in browsers("pat").get("/proctor/exams/new").text
    response = post(
        admin, "/admin/cohorts", "/admin/cohorts", {"name": "Spring 27", "members": [tao.id]}
    )
    assert response.status_code == 400 and "already exists" in response.text
    assert [e.action for e in events(app, "cohort.remove")] == ["cohort.remove"]
    assert admin.get("/admin/cohorts/nobody").status_code == 404


def test_packs_page_lists_loaded_and_skipped(app: FastAPI, browsers: Browsers) -> None:
    library = app.state.sandbox.library
    library.errors.append("broken.yaml:3: scenarios: field required")
    page = browsers("boss").get("/admin/packs").text
    for pack_id in library.packs:
        assert f'id="pack-{pack_id}"' in page
    assert "broken.yaml:3: scenarios: field required" in page
    assert "1 problem" in page


def test_pages_in_chinese(browsers: Browsers, app: FastAPI) -> None:
    admin = browsers("boss")
    admin.cookies.set("sandbox_lang", "zh-CN")
    with Session(app.state.sandbox.engine) as session:
        boss = session.exec(select(User).where(col(User.name) == "boss")).one()
        boss.locale = "zh-CN"
        session.add(boss)
        session.commit()
    assert "共 6 个用户" in admin.get("/admin").text
    assert "学员组" in admin.get("/admin/cohorts").text
