"""Interface text in English and Simplified Chinese, from gettext catalogues.

The catalogues are `sandbox/web/locale/<locale>/LC_MESSAGES/messages.po` (Babel's format,
kept with `scripts/i18n`). A message id is a key (`nav.login`); its msgstr is the text, a
%-format string: `%(name)s` fields, a literal `%%` doubled. Each process reads the .po files
once, on first use, and compiles them in memory: there is no .mo file that could go stale.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DEFAULT_LOCALE = "en"
LOCALES = {"en": "English", "zh-CN": "简体中文"}
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

Translate = Callable[..., str]


def catalogue_name(locale: str) -> str:
    """The catalogue directory of an interface locale (`zh-CN` is `zh_CN`)."""
    return locale.replace("-", "_")


def catalogue_path(locale: str) -> Path:
    """The .po file of an interface locale."""
    return LOCALE_DIR / catalogue_name(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(locale: str) -> Catalog:
    """The Babel catalogue of an interface locale, as its .po file has it."""
    with catalogue_path(locale).open("rb") as handle:
        return read_po(handle, locale=catalogue_name(locale), domain=DOMAIN)


def N_(key: str) -> str:
    """gettext's "mark now, translate later": a message key named in a constant or a table,
    so that extraction (`scripts/i18n`) finds it; its text is looked up later, `t(key)`."""
    return key


def normalise_locale(value: str | None) -> str | None:
    """The supported locale `value` names (`zh`, `zh-cn`, `zh_CN` all give zh-CN), or None."""
    if not value:
        return None
    lowered = value.strip().replace("_", "-").lower()
    for locale in LOCALES:
        if lowered == locale.lower():
            return locale
    primary = lowered.split("-")[0]
    if primary == "zh" and lowered not in ("zh-tw", "zh-hk", "zh-hant"):
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an Accept-Language header."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = normalise_locale(tag)
        if locale and quality > 0:
            choices.append((-quality, index, locale))
    return sorted(choices)[0][2] if choices else DEFAULT_LOCALE


@functools.cache
def translations(locale: str) -> Translations:
    """The gettext translations of `locale` (an unknown one gets English); a message missing
    from a catalogue falls back to English, then to its key."""
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(locale))
    compiled.seek(0)
    result = Translations(compiled, domain=DOMAIN)
    if locale != DEFAULT_LOCALE:
        result.add_fallback(translations(DEFAULT_LOCALE))
    return result


class Translator:
    """A locale's interface text: `t(key, **fields)`, and `t.tn(key, count, **fields)` for a
    message with plural forms (the form `count` asks for, with `count` among the fields)."""

    __slots__ = ("locale", "translations")

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self.translations = translations(self.locale)

    def __call__(self, key: str, **fields: object) -> str:
        text: str = self.translations.gettext(key)
        if fields:
            return text % fields
        try:
            return text % {}
        except (KeyError, ValueError, TypeError):
            return text  # a call that gives no fields never fails a page (scripts/i18n warns)

    def tn(self, key: str, count: int, **fields: object) -> str:
        text: str = self.translations.ngettext(key, key, count)
        return text % {"count": count, **fields}


@functools.cache
def translator(locale: str) -> Translator:
    """A function from message key (and format fields) to text in `locale`."""
    return Translator(locale)


def messages(locale: str) -> dict[str, str]:
    """Every message of `locale`'s catalogue by key, translated or not (a plural message by
    its last form), for tests and tools; pages use `translator`."""
    result: dict[str, str] = {}
    for message in read_catalogue(locale):
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        string = message.string
        result[key] = string if isinstance(string, str) else (string[-1] if string else "")
    return result


def __getattr__(name: str) -> Mapping[str, Mapping[str, str]]:
    # `CATALOGUE[locale][key]`, the shape of the dicts the catalogues replaced, read from
    # the .po files: tests written against the old dicts keep working.
    if name == "CATALOGUE":
        return {locale: messages(locale) for locale in LOCALES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
