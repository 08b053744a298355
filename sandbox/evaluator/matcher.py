"""Matchers of section 3 of the format: normalisation, phrases, `any`/`all`/`not`, negation.

A `Text` wraps one message, normalised once, and caches everything a matcher asks of it
(where each phrase occurs, the message's words), so a rubric of many criteria costs little
more than one. Nothing here reads a file or a clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Locale = Literal["en", "zh-CN"]
LOCALES: tuple[str, ...] = ("en", "zh-CN")

_PLAIN = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "−": "-",
    }
)
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, lower case, plain quotes and dashes, one space for each run of white space."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_PLAIN)
    return _SPACE.sub(" ", text).strip()


# --- phrases ---------------------------------------------------------------------------

_W = r"[^\W_]"  # a letter or digit
_EN_WORD = re.compile(rf"{_W}+(?:'{_W}+)*")


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


class PhraseError(ValueError):
    """A phrase that the format does not allow (a misplaced `*`, an empty phrase)."""


@dataclass(frozen=True, slots=True)
class Phrase:
    """One phrase of a matcher, normalised and compiled for its locale."""

    source: str
    text: str
    locale: str
    literal: str  # a substring every occurrence contains: a cheap first test
    pattern: re.Pattern[str] | None  # en only

    @classmethod
    def compile(cls, source: str, locale: str) -> Phrase:
        text = normalize(source)
        if not text:
            raise PhraseError("a phrase may not be empty")
        if locale != "en":
            return cls(source, text, locale, text, None)
        star = text.endswith("*")
        core = text[:-1] if star else text
        if "*" in core:
            raise PhraseError(f"'*' may stand only at the end of a phrase's last word: {source!r}")
        if star and (not core or not _is_word_char(core[-1])):
            raise PhraseError(f"'*' must follow a word: {source!r}")
        parts: list[str] = []
        if _is_word_char(core[0]):
            # Not inside a word: no letter/digit before, nor an apostrophe inside a word.
            parts.append(rf"(?<!{_W})(?<!{_W}')")
        parts.append(re.escape(core))
        if star:
            parts.append(rf"{_W}*(?:'{_W}+)*")
        if _is_word_char(core[-1]):
            # End of a word; a possessive 's is ignored ("doctor" matches "doctor's").
            parts.append(rf"(?=(?:'s)?(?!{_W}|'{_W}))")
        return cls(source, text, locale, core, re.compile("".join(parts)))


Span = tuple[int, int]


# --- messages ----------------------------------------------------------------------------

_CLAUSE_END = frozenset(".,;:!?。、")
_ZH_CLAUSE_WORDS = frozenset({"但", "但是"})

NEGATIONS_EN = frozenset(
    "no not never don't doesn't didn't won't can't cannot isn't aren't wasn't weren't hasn't "
    "haven't shouldn't mustn't wouldn't couldn't without nothing none nor neither zero".split()
)
NEGATIONS_ZH = frozenset(
    "不 不会 不是 不用 不能 不要 不可 不可以 没 没有 无 无需 无法 别 未 毫无 并非 并不 并不会 "
    "绝不 绝不会 从不 从没 从未 没什么 不太 不太会 不怎么 不至于".split()
)
_EN_COMPARISON = frozenset({"more", "less", "later", "longer"})
_ZH_COMPARISONS = ("不超过", "不多于", "不少于", "不低于", "不高于", "不大于", "不小于", "不得超过")


@dataclass(frozen=True, slots=True)
class Word:
    start: int
    end: int
    text: str
    clause_end: bool = False  # punctuation or a word that ends a clause, not a word itself


def _is_punct_or_space(token: str) -> bool:
    return all(not ch.isalnum() for ch in token)


@dataclass
class Text:
    """One message as the matcher sees it: normalised, with cached occurrences and words."""

    raw: str
    locale: str
    text: str = field(init=False)
    _occurrences: dict[str, tuple[Span, ...]] = field(init=False, default_factory=dict)
    _words: list[Word] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.text = normalize(self.raw)

    def occurrences(self, phrase: Phrase) -> tuple[Span, ...]:
        """Every place the phrase occurs, as (start, end) in the normalised text."""
        found = self._occurrences.get(phrase.text)
        if found is not None:
            return found
        spans: list[Span] = []
        if phrase.literal in self.text:
            if phrase.pattern is not None:
                spans = self._overlapping(phrase.pattern)
            else:
                i = self.text.find(phrase.literal)
                while i >= 0:
                    spans.append((i, i + len(phrase.literal)))
                    i = self.text.find(phrase.literal, i + 1)
        result = tuple(spans)
        self._occurrences[phrase.text] = result
        return result

    def _overlapping(self, pattern: re.Pattern[str]) -> list[Span]:
        # Every start, not only finditer's non-overlapping ones: "no no side effects" has two.
        spans: list[Span] = []
        pos = 0
        while (m := pattern.search(self.text, pos)) is not None:
            spans.append(m.span())
            pos = m.start() + 1
        return spans

    def contains(self, phrase: Phrase) -> bool:
        return bool(self.occurrences(phrase))

    # -- words, for negation --

    def words(self) -> list[Word]:
        if self._words is None:
            self._words = self._en_words() if self.locale == "en" else self._zh_words()
        return self._words

    def _en_words(self) -> list[Word]:
        words: list[Word] = []
        last = 0
        for m in _EN_WORD.finditer(self.text):
            gap = self.text[last : m.start()]
            if any(ch in _CLAUSE_END for ch in gap):
                words.append(Word(last, m.start(), gap, clause_end=True))
            w = m.group()
            words.append(Word(m.start(), m.end(), w, clause_end=(w == "but")))
            last = m.end()
        return words

    def _zh_words(self) -> list[Word]:
        from sandbox.evaluator.segmenter import cut

        words: list[Word] = []
        pos = 0
        for token in cut(self.text):
            start, pos = pos, pos + len(token)
            if _is_punct_or_space(token):
                if any(ch in _CLAUSE_END for ch in token):
                    words.append(Word(start, pos, token, clause_end=True))
                continue
            words.append(Word(start, pos, token, clause_end=token in _ZH_CLAUSE_WORDS))
        return words

    def words_before(self, at: int, limit: int = 3) -> list[tuple[int, Word]]:
        """Up to `limit` words just before position `at` in the same clause, nearest first.

        Each comes with its index in `words()`; a word that `at` falls inside contributes
        its part before `at` (index -1 marks such a part).
        """
        words = self.words()
        found: list[tuple[int, Word]] = []
        i = len(words) - 1
        while i >= 0 and words[i].start >= at:
            i -= 1
        if i >= 0 and words[i].end > at and not words[i].clause_end:
            part = words[i]
            found.append((-1, Word(part.start, at, self.text[part.start : at])))
            i -= 1
        while i >= 0 and len(found) < limit:
            w = words[i]
            if w.clause_end:
                break
            found.append((i, w))
            i -= 1
        return found

    def negated(self, at: int, inside: Sequence[Span]) -> bool:
        """Whether a negation word stands among the 3 words before `at`, in the same clause.

        `inside` lists the occurrences of the matcher's own phrases: a negation word within
        one of them does not negate.
        """
        words = self.words()
        negations = NEGATIONS_EN if self.locale == "en" else NEGATIONS_ZH
        for index, word in self.words_before(at):
            if word.text not in negations:
                continue
            if any(s <= word.start and word.end <= e for s, e in inside):
                continue
            if self.locale == "en":
                if word.text in ("no", "not") and index >= 0 and index + 2 < len(words):
                    nxt, then = words[index + 1], words[index + 2]
                    if nxt.text in _EN_COMPARISON and then.text == "than":
                        continue
            elif word.text == "不" and self.text.startswith(_ZH_COMPARISONS, word.start):
                continue
            return True
        return False


# --- matchers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Matcher:
    """A compiled matcher: `any`, `all` (groups) and `not`."""

    any: tuple[Phrase, ...] = ()
    all: tuple[tuple[Phrase, ...], ...] = ()
    none: tuple[Phrase, ...] = ()

    @classmethod
    def compile(
        cls,
        locale: str,
        any: Iterable[str] = (),
        all: Iterable[Iterable[str]] = (),
        none: Iterable[str] = (),
    ) -> Matcher:
        return cls(
            tuple(Phrase.compile(p, locale) for p in any),
            tuple(tuple(Phrase.compile(p, locale) for p in group) for group in all),
            tuple(Phrase.compile(p, locale) for p in none),
        )

    def positive_phrases(self) -> Iterable[Phrase]:
        yield from self.any
        for group in self.all:
            yield from group

    def matches(self, text: Text, negation: bool = False) -> bool:
        """Whether the message says what this matcher describes."""
        if any(text.contains(p) for p in self.none):
            return False
        if not self.any and not self.all:
            return False
        own: list[Span] | None = None
        if negation:
            own = [span for p in self.positive_phrases() for span in text.occurrences(p)]
            if not own:
                return False
        if self.any and not self._group_holds(self.any, text, own):
            return False
        return all(self._group_holds(group, text, own) for group in self.all)

    @staticmethod
    def _group_holds(group: Sequence[Phrase], text: Text, own: list[Span] | None) -> bool:
        for phrase in group:
            spans = text.occurrences(phrase)
            if not spans:
                continue
            if own is None:
                return True
            if any(not text.negated(start, own) for start, _ in spans):
                return True
        return False
