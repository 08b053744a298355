"""Static files' URLs carry their content's version, so that a deploy never pairs new HTML
with a script or style sheet a browser kept from the release before."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_support import add_user, login

from sandbox.web import templating
from sandbox.web.templating import STATIC_DIR, static_url

STATIC_LINK = re.compile(r'(?:href|src)="(/static/[^"]*)"')


def test_every_static_link_of_a_page_is_versioned_by_the_files_content(client: TestClient) -> None:
    add_user(client.app, "tao")  # type: ignore[arg-type]
    login(client, "tao")
    pages = [client.get("/login").text, client.get("/").text]
    links = {link for page in pages for link in STATIC_LINK.findall(page)}
    assert "/static/sandbox.css" in {link.split("?")[0] for link in links}
    for link in links:
        path, _, query = link.partition("?")
        served = client.get(link)
        assert served.status_code == 200, link
        digest = hashlib.sha256(served.content).hexdigest()[:12]
        assert query == f"v={digest}", link
        assert (STATIC_DIR / path.removeprefix("/static/")).read_bytes() == served.content


@pytest.fixture
def static_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(templating, "STATIC_DIR", tmp_path)
    static_url.cache_clear()
    yield tmp_path
    static_url.cache_clear()


def test_a_changed_file_gets_a_new_url_and_a_missing_one_its_plain_url(static_dir: Path) -> None:
    (static_dir / "app.js").write_text("console.log(1)\n")
    first = static_url("app.js")
    assert first == "/static/app.js?v=" + hashlib.sha256(b"console.log(1)\n").hexdigest()[:12]
    (static_dir / "app.js").write_text("console.log(2)\n")
    assert static_url("app.js") == first  # read once per process: files change with a release
    static_url.cache_clear()  # the next release's process
    assert static_url("app.js") != first
    assert static_url("vendor/missing.js") == "/static/vendor/missing.js"
