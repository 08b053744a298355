"""Concepts: named sets of phrases in both languages, referred to as `~name` (format v2).

A lexicon maps each concept to its English and Chinese phrases; a phrase may itself be
`~another`. `expand` turns a matcher's phrases into plain ones for a locale, so a v2 pack
says `~nsaid` once instead of listing every brand in two languages. Expansion happens once,
when a pack is compiled; what a concept expands to is shown by `sandbox lexicon show`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LANGS = {"en": "en", "zh-CN": "zh"}


class ConceptError(ValueError):
    """A reference to a concept that does not exist, or concepts that include each other."""


@dataclass(frozen=True)
class Concept:
    id: str
    description: str
    en: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    source: str = ""  # FILE:LINE where it was defined

    def phrases(self, locale: str) -> tuple[str, ...]:
        return self.en if LANGS.get(locale, "en") == "en" else self.zh


@dataclass
class Lexicon:
    """Concepts by id; a later definition of an id extends the earlier one."""

    concepts: dict[str, Concept] = field(default_factory=dict)
    #: Phrases a pack's own `concepts` added: matched like any other, but kept out of the
    #: Chinese segmenter's dictionary, which every pack shares (so one pack's words never
    #: change how another pack's messages are cut).
    local: frozenset[str] = frozenset()

    def merged(self, others: Iterable[Concept], local: bool = False) -> Lexicon:
        """A new lexicon: this one with these concepts added (same id: phrases added).

        `local`: the concepts are a pack's own (see `local`)."""
        others = list(others)
        result = dict(self.concepts)
        for concept in others:
            old = result.get(concept.id)
            if old is not None:
                concept = Concept(
                    concept.id,
                    concept.description or old.description,
                    _unique(old.en + concept.en),
                    _unique(old.zh + concept.zh),
                    concept.source,
                )
            result[concept.id] = concept
        added = self.local
        if local:
            before = {p for c in self.concepts.values() for p in (*c.en, *c.zh)}
            added = added | ({p for c in others for p in (*c.en, *c.zh)} - before)
        return Lexicon(result, added)

    def expand(
        self,
        phrases: Iterable[str],
        locale: str,
        local: Mapping[str, tuple[str, ...]] | None = None,
    ) -> tuple[str, ...]:
        """The phrases with every `~concept` replaced by its phrases for `locale`.

        `local` holds concepts of one scenario (its `~topic`), which come first.
        """
        out: list[str] = []
        for phrase in phrases:
            out.extend(self._expand(phrase, locale, local or {}, ()))
        return _unique(tuple(out))

    def origins(
        self,
        phrases: Iterable[str],
        locale: str,
        local: Mapping[str, tuple[str, ...]] | None = None,
    ) -> dict[str, str]:
        """For each plain phrase of the expansion, the concepts it came through ("~a > ~b")."""
        found: dict[str, str] = {}
        for phrase in phrases:
            self._expand(phrase, locale, local or {}, (), found)
        return found

    def _expand(
        self,
        phrase: str,
        locale: str,
        local: Mapping[str, tuple[str, ...]],
        trail: tuple[str, ...],
        origins: dict[str, str] | None = None,
    ) -> list[str]:
        if not phrase.startswith("~"):
            if origins is not None and trail and phrase not in origins:
                origins[phrase] = " > ".join(f"~{t}" for t in trail)
            return [phrase]
        name = phrase[1:].strip()
        if name in trail:
            raise ConceptError(f"concepts include each other: {' -> '.join((*trail, name))}")
        if name in local:
            members: tuple[str, ...] = local[name]
        elif name in self.concepts:
            members = self.concepts[name].phrases(locale)
        else:
            raise ConceptError(f"no concept '~{name}' in the lexicon")
        out: list[str] = []
        for member in members:
            out.extend(self._expand(member, locale, local, (*trail, name), origins))
        return out

    def words(self, locale: str) -> frozenset[str]:
        """Every plain phrase of the locale: the v2 Chinese segmenter's extra words."""
        return frozenset(
            p
            for c in self.concepts.values()
            for p in c.phrases(locale)
            if not p.startswith("~") and p not in self.local
        )


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
