"""Concepts: named sets of phrases in both languages, referred to as `~name` (format v2).

A lexicon maps each concept to its English and Chinese phrases; a phrase may itself be
`~another`. `expand` turns a matcher's phrases into plain ones for a locale, so a v2 pack
says `~nsaid` once instead of listing every brand in two languages. Expansion happens once,
when a pack is compiled; what a concept expands to is shown by `sandbox lexicon show`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LANGS = {"en": "en", "zh-CN": "zh"}

#: A concept named inside a longer phrase: a slot of a template ("~stop your ~anticoagulant",
#: "先~stop几天"). A phrase that is one `~name` and nothing else is a plain reference; a
#: tilde after a digit is a range ("5~8天"), not a slot.
SLOT = re.compile(r"(?<![0-9])~([a-z][a-z0-9-]*)")
#: The most phrases one template may stand for: its slots' phrases multiplied together.
TEMPLATE_LIMIT = 3000


class ConceptError(ValueError):
    """A reference to a concept that does not exist, or concepts that include each other."""


#: A tilde that a phrase may hold other than a slot: a range after a digit ("5~8天").
_RANGE_TILDE = re.compile(r"(?<=[0-9])~")
#: The id a scenario's `topic` goes by (a concept of a pack or a lexicon may not take it).
TOPIC = "topic"


def check_slots(phrase: str, locale: str) -> None:
    """`ConceptError` unless every `~` of a v2 phrase starts a concept's id.

    `~ send` and `~` name no concept; in English a slot starts a word (`send~sell` is no
    phrase), while Chinese writes slots against its characters (`先~stop几天`). A tilde
    after a digit, or inside a phrase before a Chinese character, is a range (`5~8天`,
    `三~五天`), not a slot.
    """
    if "~" not in phrase:
        return
    for i, char in enumerate(phrase):
        if char != "~" or _RANGE_TILDE.match(phrase, i):
            continue
        after = phrase[i + 1 : i + 2]
        if i > 0 and after and not after.isspace() and not after.isascii():
            continue  # between characters of a language without spaces: 三~五天
        if SLOT.match(phrase, i) is None:
            raise ConceptError(
                f"'~' must be followed by a concept's id (~name: lower-case letters, digits "
                f"and '-'): {phrase!r}"
            )
        if LANGS.get(locale, "en") == "en" and i > 0 and phrase[i - 1].isalnum():
            raise ConceptError(f"a concept ('~name') must start a word: {phrase!r}")


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
        if "~" in phrase and not _is_reference(phrase) and SLOT.search(phrase):
            return self._template(phrase, locale, local, trail, origins)
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
        elif name == TOPIC:
            raise ConceptError("~topic needs the scenario's `topic`")
        else:
            raise ConceptError(f"no concept '~{name}' in the lexicon")
        out: list[str] = []
        for member in members:
            out.extend(self._expand(member, locale, local, (*trail, name), origins))
        return out

    def _template(
        self,
        phrase: str,
        locale: str,
        local: Mapping[str, tuple[str, ...]],
        trail: tuple[str, ...],
        origins: dict[str, str] | None,
    ) -> list[str]:
        """A phrase with concept slots: every combination of the slots' phrases.

        A slot's phrase that ends with `*` loses it unless the slot ends the template (a
        `*` may stand only at the end of a phrase; lemmas already read inflections).
        """
        pieces = SLOT.split(phrase)  # text, name, text, name, ..., text
        names = pieces[1::2]
        choices: list[list[str]] = []
        for i, name in enumerate(names):
            last = i == len(names) - 1 and not pieces[-1].strip()
            members = self._expand(f"~{name}", locale, local, trail)
            choices.append(list(dict.fromkeys(m if last else m.removesuffix("*") for m in members)))
        count = 1
        for members in choices:
            count *= len(members)
        if count > TEMPLATE_LIMIT:
            raise ConceptError(
                f"the template {phrase!r} stands for {count} phrases (at most {TEMPLATE_LIMIT}):"
                " use narrower concepts or split it"
            )
        origin = " > ".join(f"~{t}" for t in trail)
        label = (origin + " > " if origin else "") + " + ".join(f"~{n}" for n in names)
        out: list[str] = []
        for combination in itertools.product(*choices):
            parts = [pieces[0]]
            for member, text in zip(combination, pieces[2::2], strict=True):
                parts += [member, text]
            plain = "".join(parts).strip()
            if locale == "en":
                plain = " ".join(plain.split())
            out.append(plain)
            if origins is not None and plain not in origins:
                origins[plain] = label
        return out

    def words(self, locale: str) -> frozenset[str]:
        """Every plain phrase of the locale: the v2 Chinese segmenter's extra words."""
        return frozenset(
            p
            for c in self.concepts.values()
            for p in c.phrases(locale)
            if "~" not in p and p not in self.local
        )


def _is_reference(phrase: str) -> bool:
    """Whether the phrase is one `~name` and nothing else (not a template)."""
    return phrase.startswith("~") and "~" not in phrase[1:] and " " not in phrase.strip()


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
