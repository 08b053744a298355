"""CSRF: every state-changing route refuses a request without a valid token, and every
form that posts carries one. (That no GET changes anything is proven by the access walk,
tests/test_security_access.py::test_each_role_opens_exactly_its_pages.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from security_support import (
    ROLES,
    STATE_CHANGING,
    World,
    build_world,
    endpoints,
    fill,
    snapshot,
    token_for,
)
from web_support import SAME_ORIGIN, make_settings

from sandbox.web.app import create_app
from sandbox.web.deps import check_csrf
from sandbox.web.templating import TEMPLATES_DIR


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(create_app(make_settings(tmp_path)))
    yield built
    built.close()


def calls(dependant: Any) -> Iterator[Any]:
    """Every dependency callable of a route, depth first."""
    for sub in dependant.dependencies:
        yield sub.call
        yield from calls(sub)


def test_every_state_changing_route_depends_on_the_csrf_check(world: World) -> None:
    changing = [e for e in endpoints(world.app) if e.method in STATE_CHANGING]
    assert changing, "no state-changing routes found"
    unchecked = [e.key for e in changing if check_csrf not in set(calls(e.route.dependant))]
    assert unchecked == []


def test_every_state_changing_route_refuses_a_missing_or_wrong_token(world: World) -> None:
    # A token of another browser is valid, just not for this one.
    with TestClient(world.app, headers=SAME_ORIGIN) as stranger:
        foreign = token_for(stranger)
    wrong: list[str] = []
    for endpoint in endpoints(world.app):
        if endpoint.method not in STATE_CHANGING:
            continue
        url = fill(endpoint.path, world.samples)
        for role in ROLES:
            browser = world.client(role)
            token_for(browser)  # the browser has its cookies, as after showing a form
            before = snapshot(world.app)
            for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": foreign}):
                response = browser.request(endpoint.method, url, data=data, follow_redirects=False)
                if response.status_code != 403 or "This form had expired" not in response.text:
                    wrong.append(f"{role} {endpoint.method} {url} {data}: {response.status_code}")
            if snapshot(world.app) != before:
                wrong.append(f"{role} {endpoint.method} {url}: the database changed")
    assert wrong == []


def test_a_json_body_does_not_bypass_the_token(world: World) -> None:
    browser = world.client("trainee")
    response = browser.post("/logout", json={"csrf_token": token_for(browser)})
    assert response.status_code == 403
    assert browser.get("/", follow_redirects=False).status_code == 200


FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


@pytest.mark.parametrize("path", sorted(TEMPLATES_DIR.glob("*.html")), ids=lambda p: p.name)
def test_every_posting_form_carries_the_token(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for form in FORM.findall(source):
        opening = form[: form.index(">") + 1]
        if re.search(r"""method=["']?post""", opening, re.I):
            assert "csrf_token" in form, f"{path.name}: {opening}"
