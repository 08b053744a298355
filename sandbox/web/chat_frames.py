"""The chat socket's frames of every turn, from small formats instead of Jinja2 blocks.

Each turn sends its lines (the `messages` block of templates/_chat_frames.html, a line
being templates/_message.html without a reviewer's highlights) and the sender's `ack`.
Rendering them through Jinja2 (a new context for the block, the include, the `format`
filter) cost about a fifth of a turn's CPU; here each is a format string filled with
values escaped by markupsafe, as Jinja2's autoescape escapes them. The HTML is the
templates' own, byte for byte: tests/test_chat_frames.py renders both for varied lines and
compares them, so a change to one of the templates must be made here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from markupsafe import escape

from sandbox.conversations.live import ShownMessage

MESSAGES_OPEN = '<div id="messages" hx-swap-oob="beforeend">\n'
MESSAGES_CLOSE = "</div>\n"
MESSAGE = (
    '<article id="msg-{seq}" data-seq="{seq}" class="msg msg-{role}{nudge}">\n'
    '  <p class="msg-who">{who}<span class="msg-at"> · {clock}</span></p>\n'
    '  <p class="msg-text" lang="{lang}">{text}</p>\n'
    "</article>"
)
ACK = (
    '<div id="ack" hidden data-client-id="{client_id}" hx-swap-oob="true"></div>\n'
    '<p id="notice" class="notice" role="alert" hx-swap-oob="true"></p>\n'
)


class ChatFrames:
    """One socket's turn frames: its interface language's "You", its persona's name and the
    language of the conversation's text are escaped once."""

    __slots__ = ("_lang", "_persona", "_you")

    def __init__(self, t: Callable[..., str], persona_name: str, content_lang: str) -> None:
        self._you = str(escape(t("chat.you")))
        self._persona = str(escape(persona_name))
        self._lang = str(escape(content_lang))

    def messages(self, messages: Iterable[ShownMessage]) -> str:
        """The `messages` block: the lines, appended to the page's transcript."""
        return MESSAGES_OPEN + "".join(map(self.message, messages)) + MESSAGES_CLOSE

    def message(self, m: ShownMessage) -> str:
        """One line, as `_message.html` shows it in the chat."""
        at = m.at
        return MESSAGE.format(
            seq=escape(m.seq),
            role=escape(m.role),
            nudge=" msg-nudge" if m.kind == "nudge" else "",
            who=self._you if m.role == "trainee" else self._persona,
            clock="%d:%02d" % (int(at // 60), int(at % 60)),  # noqa: UP031 (as the template's)
            lang=self._lang,
            text=escape(m.text),
        )

    @staticmethod
    def ack(client_id: str) -> str:
        """The `ack` block: the sender's input clears and its notice empties."""
        return ACK.format(client_id=escape(client_id))
