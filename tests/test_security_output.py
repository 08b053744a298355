"""Output: user and pack text is escaped everywhere, no inline code, security headers on
every response. The same payloads run in a real browser in test_browser_xss.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from security_support import (
    CRITERION_DESCRIPTION,
    PAYLOAD_PACK,
    PAYLOAD_SCENARIO,
    PAYLOADS,
    ROLES,
    SCRIPT,
    World,
    build_world,
    endpoints,
    fill,
    write_payload_pack,
)
from web_support import SHARED_PACKS, make_settings

from sandbox.web.app import create_app
from sandbox.web.chart import ChartPoint, progress_svg
from sandbox.web.markdown import to_html
from sandbox.web.templating import SECURITY_HEADERS, TEMPLATES_DIR, environment, paragraphs

PACKAGE = Path(__file__).resolve().parents[1] / "sandbox"
# Chat lines and comments a trainee or mentor might type, each also a payload.
CHAT_LINES = [f"hello {payload} any allergies?" for payload in PAYLOADS]
# Where Python builds markup itself; each escapes every piece of text it puts in.
MARKUP_BUILDERS = {
    "web/templating.py",
    "web/chart.py",
    "web/routes/reports.py",
    "web/markdown.py",
}


def raw_payloads(html: str) -> list[str]:
    """The payloads that appear unescaped in `html`."""
    return [payload for payload in PAYLOADS if payload in html]


# --- the templates themselves ----------------------------------------------------------------


def template_names() -> list[str]:
    return sorted(path.name for path in TEMPLATES_DIR.glob("*.html"))


def test_autoescape_is_on_for_every_template() -> None:
    assert callable(environment.autoescape)
    assert all(environment.autoescape(name) for name in template_names())
    assert environment.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


@pytest.mark.parametrize("name", template_names())
def test_no_template_switches_escaping_off(name: str) -> None:
    source = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    assert not re.search(r"\|\s*safe\b", source), f"{name} marks text |safe"
    assert "autoescape false" not in source.replace(" ", " ")
    assert not re.search(r"\{%-?\s*autoescape\s+(false|False)", source)


@pytest.mark.parametrize("name", template_names())
def test_no_template_has_inline_script_or_style(name: str) -> None:
    # The CSP allows scripts and styles only from the app's own files.
    source = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", source, re.I):
        assert "src=" in tag, f"{name}: inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", source, re.I), f"{name}: an on* handler attribute"
    assert not re.search(r"\sstyle\s*=", source, re.I), f"{name}: an inline style attribute"
    assert "<style" not in source.lower(), f"{name}: a <style> block"
    assert "javascript:" not in source.lower(), f"{name}: a javascript: URL"


def test_markup_is_built_only_where_it_is_escaped() -> None:
    # A new place that builds Markup from strings must be reviewed for escaping, then listed.
    builders = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"\bMarkup\(", path.read_text(encoding="utf-8"))
    }
    assert builders <= MARKUP_BUILDERS, sorted(builders - MARKUP_BUILDERS)


def test_the_markup_builders_escape_their_text() -> None:
    assert SCRIPT not in paragraphs(f"one {SCRIPT}\n\ntwo")
    assert "&lt;script" in paragraphs(f"one {SCRIPT}")
    svg = progress_svg(
        [ChartPoint(label=f"Title {SCRIPT}", score=50, passed=False)],
        title=SCRIPT,
        description=SCRIPT,
    )
    assert SCRIPT not in svg and "&lt;script" in svg
    article = to_html(f"# {SCRIPT}\n\n{SCRIPT}\n\n[x](javascript:alert(1))")
    assert SCRIPT not in article and "&lt;script" in article
    assert 'href="javascript' not in article


# --- every page and frame, with payloads everywhere ------------------------------------------


@pytest.fixture
def payload_world(tmp_path: Path) -> Iterator[World]:
    """A world whose trainee played the payload scenario, saying payloads, and whose mentor
    commented with payloads (when the mentor pages exist)."""
    folder = write_payload_pack(tmp_path / "packs")
    settings = make_settings(tmp_path, packs=f"{SHARED_PACKS}:{folder}")
    app = create_app(settings)
    world = build_world(app, pack=PAYLOAD_PACK, scenario=PAYLOAD_SCENARIO, lines=CHAT_LINES)
    yield world
    world.close()


def test_payloads_are_shown_escaped_in_chat_frames(payload_world: World) -> None:
    # "trainee" sits an exam on the payload scenario, so may not practise it (web/practice.py).
    owner = payload_world.client("other_trainee")
    brief = owner.get(f"/scenarios/{PAYLOAD_PACK}/{PAYLOAD_SCENARIO}")
    start = owner.post(
        f"/scenarios/{PAYLOAD_PACK}/{PAYLOAD_SCENARIO}/attempts",
        data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', brief.text)[1]},  # type: ignore[index]
        follow_redirects=False,
    )
    attempt_id = int(start.headers["location"].rsplit("/", 1)[1])
    frames: list[str] = []
    with owner.websocket_connect(f"/attempts/{attempt_id}/ws") as ws:
        ws.send_json({"type": "hello", "last_seq": -1})
        while 'data-synced="true"' not in (frame := ws.receive_text()):
            frames.append(frame)
        ws.send_json({"type": "hint"})
        frames.append(ws.receive_text())
        for index, line in enumerate(CHAT_LINES):
            ws.send_json({"type": "say", "text": line, "client_id": f"p-{index}"})
            while f'data-client-id="p-{index}"' not in (frame := ws.receive_text()):
                frames.append(frame)
            frames.append(frame)
    joined = "\n".join(frames)
    assert "&lt;script" in joined  # the payloads did arrive, as text
    assert "zqxdescription" in joined  # the practice hint (the criterion's coaching line) came
    assert raw_payloads(joined) == []
    assert CRITERION_DESCRIPTION not in joined


def test_no_page_shows_a_payload_unescaped_to_anyone(payload_world: World) -> None:
    app: FastAPI = payload_world.app
    shown: list[str] = []
    problems: list[str] = []
    for endpoint in endpoints(app):
        if endpoint.method != "GET" or endpoint.path.startswith("/static"):
            continue
        url = fill(endpoint.path, payload_world.samples)
        for role in ROLES:
            response = payload_world.client(role).get(url)
            shown.append(response.text)
            if found := raw_payloads(response.text):
                problems.append(f"{role} GET {url}: {found[0][:40]}")
    assert problems == []
    everything = "\n".join(shown)
    # The walk did see the payloads: in titles, briefs, the transcript, the persona's lines.
    expected = ["Title &lt;script", "Brief &lt;script", "hello &lt;script", "Fact reply &lt;img"]
    # Mentors' comments and case notes, proctors' exam names, trainees' appeals, where built.
    expected += [
        escaped
        for sample, escaped in (
            ("case_id", "Note hello &lt;script"),
            ("case_id", "Comment hello &lt;script"),
            ("exam_id", "Exam hello &lt;script"),
            ("appeal_id", "Appeal hello &lt;script"),
        )
        if sample in payload_world.samples
    ]
    assert [escaped for escaped in expected if escaped not in everything] == []


# --- headers ------------------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    app = create_app(make_settings(tmp_path))
    built = build_world(app)
    yield built
    built.close()


def test_every_response_carries_the_security_headers(world: World) -> None:
    missing: list[str] = []
    urls = [fill(e.path, world.samples) for e in endpoints(world.app) if e.method == "GET"]
    urls += ["/no/such/page", "/static/no-such-file.css", "/attempts/not-a-number"]
    for url in urls:
        for role in ("anonymous", "trainee", "admin"):
            response = world.client(role).get(url, follow_redirects=False)
            for name, value in SECURITY_HEADERS.items():
                if response.headers.get(name) != value:
                    missing.append(f"{role} GET {url} ({response.status_code}): {name}")
    assert missing == []
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
