"""Reading lexicon files (docs/format-v2.md): concepts that v2 packs refer to as `~id`.

A lexicon file is YAML like a pack, read with the same safe loader, and every problem is
reported as FILE:LINE with the key, like a pack's. The bundled lexicon is `lexicon/*.yaml`
beside the package; a v2 pack adds its own `concepts`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

from sandbox.scenarios.errors import PackError, PackErrors
from sandbox.scenarios.files import pack_files
from sandbox.scenarios.yamlnodes import Document, YamlError, read_yaml, yaml_type
from sandbox.text.concepts import TOPIC, Concept, ConceptError, Lexicon, check_slots
from sandbox.text.matcher import PhraseError
from sandbox.text.phrases import check_phrase

BUNDLED_LEXICON = FsPath(__file__).resolve().parents[2] / "lexicon"
MAX_LEXICON_BYTES = 1024 * 1024
_ID = re.compile(r"^[a-z0-9-]+$")
_CONCEPT_KEYS = ("description", "en", "zh")
_HEADER_KEYS = ("description",)


def lexicon_files(paths: Iterable[str | FsPath]) -> tuple[list[FsPath], list[PackError]]:
    """The files of `paths` (folders: their `*.yaml`), and the links out of a folder that
    are skipped, as pack folders skip them."""
    files: list[FsPath] = []
    refused: list[PackError] = []
    for path, problem in pack_files(paths):
        if problem is None:
            files.append(path)
        else:
            refused.append(problem)
    return files, refused


def load_lexicon(paths: Iterable[str | FsPath], base: Lexicon | None = None) -> Lexicon:
    """The concepts of these files (folders: their `*.yaml`) added to `base`.

    Raises `PackErrors` naming every problem; nothing of a broken file is used.
    """
    concepts: list[Concept] = []
    sites: list[PhraseSite] = []
    files, errors = lexicon_files(paths)
    for path in files:
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            errors.append(PackError(source, None, None, f"cannot read: {exc.strerror}"))
            continue
        if len(raw) > MAX_LEXICON_BYTES:
            errors.append(
                PackError(
                    source,
                    None,
                    None,
                    f"file is {len(raw):,} bytes; a "
                    f"lexicon file may be at most {MAX_LEXICON_BYTES:,}",
                )
            )
            continue
        try:
            found, problems, written = _read_lexicon_text(raw.decode("utf-8"), source)
        except UnicodeDecodeError:
            errors.append(PackError(source, None, None, "not UTF-8 text"))
            continue
        errors.extend(problems)
        concepts.extend(found)
        sites.extend(written)
    lexicon = (base or Lexicon()).merged(concepts)
    errors.extend(check_phrases(lexicon, sites))
    if errors:
        raise PackErrors(errors)
    return lexicon


def read_lexicon_text(text: str, source: str) -> tuple[list[Concept], list[PackError]]:
    """The concepts of one lexicon file and its problems (its phrases checked on their own:
    `load_lexicon` checks what they expand to once every file is read)."""
    concepts, errors, _ = _read_lexicon_text(text, source)
    return concepts, errors


def _read_lexicon_text(
    text: str, source: str
) -> tuple[list[Concept], list[PackError], list[PhraseSite]]:
    try:
        doc = read_yaml(text)
    except YamlError as exc:
        return [], [PackError(source, exc.line, exc.key, exc.message)], []
    errors = [PackError(source, p.line, p.key, p.message) for p in doc.problems]
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("concepts"), dict):
        errors.append(
            PackError(
                source,
                doc.line_of(()),
                "concepts",
                "a lexicon is a mapping with 'concepts' (id: {description, "
                "en, zh}) and an optional 'lexicon' (description)",
            )
        )
        return [], errors, []
    for key in data:
        if key not in ("lexicon", "concepts"):
            errors.append(
                PackError(
                    source,
                    doc.line_of((key,)),
                    str(key),
                    f"unknown key {key!r} (a lexicon has 'lexicon' and 'concepts')",
                )
            )
    if "lexicon" in data:
        errors.extend(_check_header(data["lexicon"], source, doc))
    concepts, problems, sites = read_concepts(data["concepts"], source, doc.line_of, ("concepts",))
    return concepts, errors + problems, sites


def _check_header(header: Any, source: str, doc: Document) -> list[PackError]:
    """The `lexicon:` header: a mapping of the keys `_HEADER_KEYS` (a description)."""
    errors: list[PackError] = []

    def add(path: tuple[str, ...], message: str) -> None:
        where = " › ".join(path)
        errors.append(PackError(source, doc.line_of(path), ".".join(path), f"{where}: {message}"))

    if not isinstance(header, dict):
        keys = ", ".join(_HEADER_KEYS)
        add(("lexicon",), f"expected a mapping ({keys}), got {yaml_type(header)}")
        return errors
    for key, value in header.items():
        if key not in _HEADER_KEYS:
            add(("lexicon", str(key)), _unknown_key(str(key), _HEADER_KEYS, "a lexicon's header"))
        elif not isinstance(value, str):
            add(("lexicon", key), f"expected a string, got {yaml_type(value)}")
        elif not value.strip():
            add(("lexicon", key), "must not be empty")
    return errors


def _unknown_key(key: str, allowed: tuple[str, ...], what: str) -> str:
    near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return f"unknown key {key!r} ({hint}{what} has {', '.join(allowed)})"


@dataclass(frozen=True)
class PhraseSite:
    """Where one phrase of a concept was written, to check what it expands to once every
    concept it may name is known."""

    source: str
    line: int | None
    path: tuple[str | int, ...]
    label: str  # concept 'x' › en[2]
    locale: str
    phrase: str


def _label(path: tuple[str | int, ...]) -> str:
    """A concept's path as a message names it: `concept 'x' › en[2]`."""
    cid, *rest = path
    parts = [f"concept {cid!r}"]
    for step in rest:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
        else:
            parts.append(step)
    return " › ".join(parts)


def read_concepts(
    data: dict[str, Any], source: str, line_of: Any, base: tuple[str | int, ...]
) -> tuple[list[Concept], list[PackError], list[PhraseSite]]:
    """Concepts from a mapping of id to {description, en, zh}, checked as a pack is.

    Each phrase is checked on its own (a pack phrase's rules, its `~` slots); the sites of
    the phrases come back for `check_phrases`, which checks what they expand to.
    """
    errors: list[PackError] = []
    concepts: list[Concept] = []
    sites: list[PhraseSite] = []

    def add(path: tuple[str | int, ...], message: str) -> None:
        errors.append(
            PackError(
                source,
                line_of(path),
                ".".join(map(str, path)),
                f"{_label(path[len(base) :])}: {message}",
            )
        )

    for cid, body in data.items():
        path = (*base, cid)
        if not isinstance(cid, str) or not _ID.match(cid):
            add(path, f"concept id {cid!r} must be lower-case letters, digits and '-'")
            continue
        if cid == TOPIC:
            add(path, "a concept may not be named 'topic': ~topic is a scenario's `topic`")
            continue
        if not isinstance(body, dict):
            add(path, "a concept is a mapping of 'description', 'en' and 'zh'")
            continue
        for key in body:
            if key not in _CONCEPT_KEYS:
                add((*path, key), _unknown_key(str(key), _CONCEPT_KEYS, "a concept"))
        phrases: dict[str, tuple[str, ...]] = {}
        written = False
        for lang, locale in (("en", "en"), ("zh", "zh-CN")):
            values = body.get(lang, [])
            if not isinstance(values, list):
                add((*path, lang), f"expected a list of phrases, got {yaml_type(values)}")
                written = True
                continue
            written = written or bool(values)
            kept = []
            for i, value in enumerate(values):
                where = (*path, lang, i)
                if not isinstance(value, str):
                    add(where, f"expected a phrase (a string), got {yaml_type(value)}")
                    continue
                if not value.strip():
                    add(where, "a phrase may not be empty")
                    continue
                try:
                    check_slots(value, locale)
                    check_phrase(value, locale)
                except (ConceptError, PhraseError) as exc:
                    add(where, str(exc))
                    continue
                kept.append(value)
                sites.append(
                    PhraseSite(
                        source,
                        line_of(where),
                        where,
                        _label(where[len(base) :]),
                        locale,
                        value,
                    )
                )
            phrases[lang] = tuple(kept)
        description = body.get("description", "")
        if not isinstance(description, str):
            add((*path, "description"), f"expected a string, got {yaml_type(description)}")
            description = ""
        if not written:
            add(path, "a concept needs phrases in 'en' or 'zh'")
        line = line_of(path)
        concepts.append(
            Concept(
                cid,
                description,
                phrases.get("en", ()),
                phrases.get("zh", ()),
                f"{source}:{line}" if line else source,
            )
        )
    return concepts, errors, sites


def check_phrases(lexicon: Lexicon, sites: Iterable[PhraseSite]) -> list[PackError]:
    """What each phrase of `sites` expands to in `lexicon`: every `~id` names a concept, no
    concept includes itself, a template stands for at most `TEMPLATE_LIMIT` phrases, and
    every phrase it stands for is one a pack may write (`*`, `...`). The error names the
    phrase's own file, line and key."""
    errors: list[PackError] = []
    # The phrases of the concepts were checked where they were written; what is left to
    # check is what templates make of them.
    written = {
        locale: {p for c in lexicon.concepts.values() for p in c.phrases(locale)}
        for locale in ("en", "zh-CN")
    }
    for site in sites:
        if "~" not in site.phrase:
            continue
        try:
            for plain in lexicon.expand([site.phrase], site.locale):
                if plain in written[site.locale]:
                    continue
                try:
                    check_phrase(plain, site.locale)
                except PhraseError as exc:
                    raise PhraseError(f"{exc} (from {site.phrase!r})") from None
        except (ConceptError, PhraseError) as exc:
            message = str(exc)
            errors.append(
                PackError(
                    site.source,
                    site.line,
                    ".".join(map(str, site.path)),
                    f"{site.label}: {message}",
                )
            )
    return errors


@lru_cache(maxsize=1)
def bundled_lexicon() -> Lexicon:
    """The lexicon shipped with the product (`lexicon/*.yaml`)."""
    return load_lexicon([BUNDLED_LEXICON])
