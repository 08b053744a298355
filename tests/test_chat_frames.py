"""The chat socket's turn frames (web/chat_frames.py) are the Jinja2 templates' HTML, byte for
byte: for varied lines, for both interface locales, and as a real socket sends them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_web_chat import PACK, SCENARIO, say, stored, trainee

from sandbox.storage.models import AttemptMessage, Speaker
from sandbox.storage.turns import TurnLine
from sandbox.web.chat_frames import ChatFrames
from sandbox.web.i18n import LOCALES, translator
from sandbox.web.templating import render_text

__all__ = ["trainee"]

FRAMES = "_chat_frames.html"
#: Every kind of line the engine says (engine/conversation.py), and none (older rows).
KINDS = ["opening", "fact", "reaction", "answer", "fallback", "nudge", "farewell", "trainee", None]
TEXTS = [
    "Hello, any medication?",
    "<script>alert(\"x\")</script> & 'quoted' <b>bold</b> &amp; already",
    "我在吃华法林，可以吃布洛芬吗？「引号」和 <标签> & 符号",
    "{seq} {0} %s %(x)s {{ m.text }} {% if %} — braces and percents stay as typed",
    "line one\nline two\r\n\ttabbed   spaced \u00a0nbsp \u200b zero-width",
    "emoji 👩\u200d⚕️ and accents café naïve",
    "",
]
AT = [0.0, 0.4, 59.999, 60.0, 61.5, 599.99, 3599.5, 3600.0, 12345.678]
PERSONAS = [("Mr Lee", "en"), ('O\'Brien <Dr.> & "Co"', "en"), ("王阿姨", "zh-Hans")]


@dataclass
class Line:
    """A line as the service hands it to the socket (ShownMessage)."""

    seq: int
    role: str
    text: str
    at: float
    kind: str | None


def jinja_messages(t: Any, persona: str, lang: str, messages: list[Any]) -> str:
    context = {"t": t, "persona_name": persona, "content_lang": lang, "messages": messages}
    return render_text(FRAMES, context, block="messages")


def varied_lines() -> list[Any]:
    lines: list[Any] = []
    combos = itertools.product(KINDS, TEXTS, AT)
    for seq, (kind, text, at) in enumerate(combos):
        role = "trainee" if kind == "trainee" else "persona"
        lines.append(Line(seq, role, text, at, kind))
    # As the full path hands them (ORM rows, the role an enum) and as the fast path does.
    lines.append(AttemptMessage(attempt_id=1, seq=9998, role=Speaker.TRAINEE, text="<a>", at=7.0))
    lines.append(TurnLine(9999, "persona", "好的 & <ok>", 7.25, "nudge"))
    return lines


@pytest.mark.parametrize("locale", sorted(LOCALES))
@pytest.mark.parametrize(("persona", "lang"), PERSONAS)
def test_a_message_frame_is_the_templates_html(locale: str, persona: str, lang: str) -> None:
    t = translator(locale)
    frames = ChatFrames(t, persona, lang)
    lines = varied_lines()
    for line in lines:  # each line alone, then all of them in one frame
        assert frames.messages([line]) == jinja_messages(t, persona, lang, [line])
    together = frames.messages(lines)
    assert together == jinja_messages(t, persona, lang, lines)
    assert frames.messages([]) == jinja_messages(t, persona, lang, [])
    # Not vacuous: escaping happened, the nudge is marked, the clock is there.
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in together
    assert together.count(" msg-nudge") == len(TEXTS) * len(AT) + 1
    assert "> · 205:45</span>" in together and "<script>" not in together


@pytest.mark.parametrize("client_id", ["c-1", "a\"b<c>&d'e", "客户-1", ""])
def test_the_ack_frame_is_the_templates_html(client_id: str) -> None:
    expected = render_text(FRAMES, {"t": translator("en"), "client_id": client_id}, block="ack")
    assert ChatFrames.ack(client_id) == expected


def test_a_real_socket_sends_the_templates_html(
    app: FastAPI, client: TestClient, trainee: int
) -> None:
    text = 'Hello <b>"there"</b> & 你好 {seq} %s'
    with client.websocket_connect(f"/attempts/{trainee}/ws") as ws:
        turn = "".join(say(ws, text, 'id-"1"'))
    messages = stored(app, trainee)
    assert [m.text for m in messages if m.role == "trainee"] == [text]
    found = app.state.sandbox.library.find(PACK, SCENARIO)
    assert found is not None
    pack, scenario = found
    t = translator("en")
    trainee_line, *replies = messages[1:]
    assert replies  # the persona answered in the same turn
    for lines in ([trainee_line], replies):
        assert jinja_messages(t, scenario.persona.name, pack.locale, lines) in turn
    assert render_text(FRAMES, {"t": t, "client_id": 'id-"1"'}, block="ack") in turn
