"""Knowledge articles as HTML: CommonMark and tables, raw HTML off (shown as text), so an
article file can never put a script or a form on a page."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@lru_cache(maxsize=256)
def to_html(markdown: str) -> Markup:
    """The article body as safe HTML (markdown-it escapes text and refuses unsafe links)."""
    return Markup(_parser().render(markdown))
