"""Jinja2 rendering of whole pages and of single blocks for htmx swaps, one environment per
interface locale (jinja2.ext.i18n with that locale's gettext callables)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from sandbox.evaluator.service_metrics import clock_text
from sandbox.web.i18n import DEFAULT_LOCALE, translations, translator

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Pages load only their own files: no inline script, no third-party origin, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def format_score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _is_cjk(char: str) -> bool:
    return ord(char) >= 0x2E80


def _unwrap(block: str) -> str:
    # A line break inside a paragraph is a space in English and nothing in Chinese.
    text = ""
    for line in (line.strip() for line in block.splitlines()):
        if not line:
            continue
        if text and not (_is_cjk(text[-1]) and _is_cjk(line[0])):
            text += " "
        text += " ".join(line.split())
    return text


def paragraphs(text: str) -> Markup:
    """Author text as paragraphs: blank lines split them, single line breaks are unwrapped."""
    blocks = [_unwrap(block) for block in text.strip().split("\n\n")]
    return Markup("").join(Markup("<p>{}</p>").format(escape(block)) for block in blocks if block)


def minutes(seconds: float) -> str:
    value = seconds / 60
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


@functools.cache
def static_url(path: str) -> str:
    """The URL of a file under static/, versioned by its content (`?v=` and the first 12
    hex digits of its SHA-256): a deploy never pairs new HTML with an old script or style
    sheet from a browser's cache. Static files are package files, so each is read once per
    process; a missing one (vendor files not copied yet) gets its plain URL."""
    try:
        digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
    except FileNotFoundError:
        return f"/static/{path}"
    return f"/static/{path}?v={digest}"


@functools.cache
def environment_for(locale: str) -> Environment:
    """The template environment of an interface locale. Templates call `t('key', name=...)`
    and `tn('key', count, ...)` (plural forms), or the i18n extension's `_()`, `gettext()`,
    `ngettext()` and `{% trans %}` (newstyle: fields are keyword arguments, autoescaped)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are package files: they change with a new release, never while serving.
        # Checking each file's mtime on every render was a tenth of a chat turn's CPU.
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    gettext = translations(locale)
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext.gettext, gettext.ngettext, newstyle=True
    )
    environment.globals["tn"] = translator(locale).tn
    environment.globals["static_url"] = static_url
    environment.filters["score"] = format_score
    environment.filters["paragraphs"] = paragraphs
    environment.filters["minutes"] = minutes
    environment.filters["clock"] = clock_text
    return environment


#: The default locale's environment (English), for tests and tools that render without a
#: viewer.
environment = environment_for(DEFAULT_LOCALE)


def render_text(name: str, context: Mapping[str, Any], *, block: str | None = None) -> str:
    """The template `name`, or only its `block`, rendered with `context` in the locale of
    its `t` (the viewer's translator; English without one)."""
    locale = getattr(context.get("t"), "locale", DEFAULT_LOCALE)
    template = environment_for(locale).get_template(name)
    if block is None:
        return template.render(context)
    render_block = template.blocks[block]
    return "".join(render_block(template.new_context(dict(context))))


def render(
    name: str,
    context: Mapping[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """An HTML response of a page or of one of its blocks, with the security headers."""
    return HTMLResponse(
        render_text(name, context, block=block),
        status_code=status_code,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )
