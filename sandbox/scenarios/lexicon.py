"""Reading lexicon files (docs/format-v2.md): concepts that v2 packs refer to as `~id`.

A lexicon file is YAML like a pack, read with the same safe loader, and every problem is
reported as FILE:LINE with the key, like a pack's. The bundled lexicon is `lexicon/*.yaml`
beside the package; a v2 pack adds its own `concepts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

from sandbox.scenarios.errors import PackError, PackErrors
from sandbox.scenarios.files import pack_files
from sandbox.scenarios.yamlnodes import YamlError, read_yaml
from sandbox.text.concepts import LANGS, Concept, ConceptError, Lexicon
from sandbox.text.matcher import Phrase, PhraseError

BUNDLED_LEXICON = FsPath(__file__).resolve().parents[2] / "lexicon"
MAX_LEXICON_BYTES = 1024 * 1024
_ID = re.compile(r"^[a-z0-9-]+$")
_CONCEPT_KEYS = ("description", "en", "zh")


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
            found, problems = read_lexicon_text(raw.decode("utf-8"), source)
        except UnicodeDecodeError:
            errors.append(PackError(source, None, None, "not UTF-8 text"))
            continue
        errors.extend(problems)
        concepts.extend(found)
    lexicon = (base or Lexicon()).merged(concepts)
    errors.extend(check_references(lexicon))
    if errors:
        raise PackErrors(errors)
    return lexicon


def read_lexicon_text(text: str, source: str) -> tuple[list[Concept], list[PackError]]:
    """The concepts of one lexicon file and its problems."""
    try:
        doc = read_yaml(text)
    except YamlError as exc:
        return [], [PackError(source, exc.line, exc.key, exc.message)]
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
        return [], errors
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
    concepts, problems = read_concepts(data["concepts"], source, doc.line_of, ("concepts",))
    return concepts, errors + problems


def read_concepts(
    data: dict[str, Any], source: str, line_of: Any, base: tuple[str | int, ...]
) -> tuple[list[Concept], list[PackError]]:
    """Concepts from a mapping of id to {description, en, zh}, checked as a pack is."""
    errors: list[PackError] = []
    concepts: list[Concept] = []

    def add(path: tuple[str | int, ...], message: str) -> None:
        errors.append(PackError(source, line_of(path), ".".join(map(str, path)), message))

    for cid, body in data.items():
        path = (*base, cid)
        if not isinstance(cid, str) or not _ID.match(cid):
            add(path, f"concept id {cid!r} must be lower-case letters, digits and '-'")
            continue
        if not isinstance(body, dict):
            add(path, "a concept is a mapping of 'description', 'en' and 'zh'")
            continue
        for key in body:
            if key not in _CONCEPT_KEYS:
                add((*path, key), f"unknown key {key!r} (a concept has description, en, zh)")
        phrases: dict[str, tuple[str, ...]] = {}
        for lang, locale in (("en", "en"), ("zh", "zh-CN")):
            values = body.get(lang, [])
            if not isinstance(values, list):
                add((*path, lang), f"'{lang}' is a list of phrases")
                continue
            kept = []
            for i, value in enumerate(values):
                if not isinstance(value, str) or not value.strip():
                    add((*path, lang, i), "a phrase is a non-empty string")
                    continue
                if not value.startswith("~"):
                    try:
                        Phrase.check(value, locale)
                    except PhraseError as exc:
                        add((*path, lang, i), str(exc))
                        continue
                kept.append(value)
            phrases[lang] = tuple(kept)
        description = body.get("description", "")
        if not isinstance(description, str):
            add((*path, "description"), "'description' is a string")
            description = ""
        if not phrases.get("en") and not phrases.get("zh"):
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
    return concepts, errors


def check_references(lexicon: Lexicon) -> list[PackError]:
    """Every `~id` inside a concept names a concept, and no concept includes itself."""
    errors: list[PackError] = []
    for concept in lexicon.concepts.values():
        for locale in LANGS:
            try:
                lexicon.expand([f"~{concept.id}"], locale)
            except ConceptError as exc:
                file, _, line = concept.source.rpartition(":")
                errors.append(
                    PackError(
                        file or concept.source,
                        int(line) if line.isdigit() else None,
                        f"concepts.{concept.id}",
                        str(exc),
                    )
                )
                break
    return errors


@lru_cache(maxsize=1)
def bundled_lexicon() -> Lexicon:
    """The lexicon shipped with the product (`lexicon/*.yaml`)."""
    return load_lexicon([BUNDLED_LEXICON])
