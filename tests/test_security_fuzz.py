"""API fuzzing: schemathesis generates requests from the app's own OpenAPI schema
(/openapi.json) and sends them in-process, anonymously and as a signed-in trainee whose
form posts carry a valid CSRF token (so the fuzz reaches the handlers behind the gate).
No input may make a server error. Bounded for CI: a few examples per operation."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python.asgi import ASGIClient, get_client
from security_support import World, build_world, endpoints, fill, socket_accepted, token_for
from web_support import CSRF_PATTERN, PASSWORD, make_settings

from sandbox.web.app import create_app

# Examples per operation, role and mode: small enough for CI on two cores; raise it for a
# deeper run (FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_security_fuzz.py).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, World]]:
    """An app with users, a graded attempt and (where built) an exam to find by id."""
    app = create_app(make_settings(tmp_path_factory.mktemp("fuzz")))
    world = build_world(app)
    world.close()
    yield app, world


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[FastAPI, World]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed[0])


@pytest.fixture(scope="module")
def sessions(fuzzed: tuple[FastAPI, World]) -> Iterator[dict[str, tuple[ASGIClient, str]]]:
    """A cookie-keeping client and its CSRF token, per role."""
    app, world = fuzzed
    found: dict[str, tuple[ASGIClient, str]] = {}
    with get_client(app) as anonymous, get_client(app) as trainee:
        for role, client in (("anonymous", anonymous), ("trainee", trainee)):
            client.headers["origin"] = "http://testserver"
            page = client.get("/login").text
            token = CSRF_PATTERN.search(page)
            assert token is not None
            if role == "trainee":
                response = client.post(
                    "/login",
                    data={
                        "csrf_token": token[1],
                        "name": world.names["trainee"],
                        "password": PASSWORD,
                    },
                    allow_redirects=False,
                )
                assert response.status_code == 303
                token = CSRF_PATTERN.search(client.get("/login").text)
                assert token is not None
            found[role] = (client, token[1])
        yield found


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def operations(api_schema: Any) -> list[Any]:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert found, "the schema lists no operations"
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("role", ["anonymous", "trainee"])
def test_no_input_makes_a_server_error(
    api_schema: Any, sessions: dict[str, tuple[ASGIClient, str]], role: str, mode: GenerationMode
) -> None:
    """Valid and invalid inputs per the schema, for every operation (schemathesis's pytest
    plugin is not used: it does not run on this pytest; its strategies are driven here)."""
    client, token = sessions[role]
    for operation in operations(api_schema):
        if operation.method.upper() == "POST" and operation.path == "/logout":
            continue  # logging out would end the session the other operations use

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: Any) -> None:
            if isinstance(case.body, dict) and case.media_type == FORM:
                case.body = {**case.body, "csrf_token": token}
            response = case.call(session=client, allow_redirects=False)
            assert response.status_code < 500, (
                f"{role} {case.method} {case.formatted_path}: {response.status_code}"
            )

        try:
            send()
        except Unsatisfiable:
            # Nothing in this operation's schema can be made invalid (every field a string).
            assert mode == GenerationMode.NEGATIVE, operation.label


TOO_LARGE = str(2**64)


def test_ids_too_large_for_the_database_name_nothing(fuzzed: tuple[FastAPI, World]) -> None:
    """Found by the fuzz: an id beyond 64 bits made SQLite raise (a 500); now a 404."""
    app, world = fuzzed
    wrong: list[str] = []
    for endpoint in endpoints(app):
        if not re.search(r"\{\w+_id\}", endpoint.path):
            continue
        url = re.sub(r"\{\w+_id\}", TOO_LARGE, endpoint.path)
        url = fill(url, world.samples)
        for role in ("trainee", "admin"):
            browser = world.client(role)
            if endpoint.method == "WS":
                if socket_accepted(browser, url):
                    wrong.append(f"{role} WS {url}: accepted")
                continue
            data = {"csrf_token": token_for(browser)} if endpoint.method != "GET" else None
            response = browser.request(endpoint.method, url, data=data, follow_redirects=False)
            if response.status_code not in (403, 404):
                wrong.append(f"{role} {endpoint.method} {url}: {response.status_code}")
    world.close()
    assert wrong == []
