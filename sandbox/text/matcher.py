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
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "−": "-",
    }
)
_SPACE = re.compile(r"\s+")  # what `normalize` collapses; the tests compare with it
# The characters `_PLAIN` replaces: one search spares `translate` its per-character lookups.
_NOT_PLAIN = re.compile("[" + re.escape("".join(map(chr, _PLAIN))) + "]")


def normalize(text: str) -> str:
    """NFKC, lower case, plain quotes and dashes, one space for each run of white space.

    The white space rule is `_SPACE.sub(" ", text).strip()`, done as split and join: the
    regex `\\s` and `str.split` accept the same characters (a test checks all of Unicode).
    ASCII text is already NFKC and holds no character `_PLAIN` replaces.
    """
    if text.isascii():
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", text).lower()
    if _NOT_PLAIN.search(text) is not None:
        text = text.translate(_PLAIN)
    return " ".join(text.split())


# --- phrases ---------------------------------------------------------------------------

_W = r"[^\W_]"  # a letter or digit
_EN_TOKEN = re.compile(rf"{_W}+(?:'{_W}+)*|[.,;:!?]")
_EN_CLAUSE_ENDS = frozenset({*".,;:!?", "but"})  # punctuation, and "but", end a clause


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

    @staticmethod
    def check(source: str, locale: str) -> str:
        """The phrase normalised; `PhraseError` if the format does not allow it."""
        text = normalize(source)
        if not text:
            raise PhraseError("a phrase may not be empty")
        if locale == "en":
            core = text.removesuffix("*")
            if "*" in core:
                raise PhraseError(
                    f"'*' may stand only at the end of a phrase's last word: {source!r}"
                )
            if core != text and (not core or not _is_word_char(core[-1])):
                raise PhraseError(f"'*' must follow a word: {source!r}")
        return text

    @classmethod
    def compile(cls, source: str, locale: str) -> Phrase:
        text = cls.check(source, locale)
        if locale != "en":
            return cls(source, text, locale, text, None)
        star = text.endswith("*")
        core = text[:-1] if star else text
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
# Words that start with 但 but do not mean "but" (hopefully, whenever).
_ZH_NOT_BUT = frozenset({"但愿", "但凡"})


def _ends_zh_clause(token: str) -> bool:
    """但 and 但是 end a clause, also where jieba glues 但 to the next word (但会, 但要)."""
    return token in _ZH_CLAUSE_WORDS or (token.startswith("但") and token not in _ZH_NOT_BUT)


NEGATIONS_EN = frozenset(
    (
        "no not never don't doesn't didn't won't can't cannot isn't aren't wasn't weren't "
        "hasn't haven't shouldn't mustn't wouldn't couldn't without nothing none nor neither zero"
    ).split()
)
NEGATIONS_ZH = frozenset(
    (
        "不 不会 不是 不用 不能 不要 不可 不可以 没 没有 无 无需 无法 别 未 毫无 并非 并不 并不会 "
        "绝不 绝不会 从不 从没 从未 没什么 不太 不太会 不怎么 不至于"
    ).split()
)
# A message with none of these cannot negate anything: one search spares the word lists.
_EN_NEGATION_PROBE = re.compile(
    rf"(?<!{_W})(?:{'|'.join(sorted(map(re.escape, NEGATIONS_EN), key=len, reverse=True))})"
    rf"(?!{_W}|'{_W})"
)
# Every English negation word holds one of these: a message with none of them skips the probe.
_EN_NEGATION_KEYS = ("no", "ne", "n't", "without", "zero")
_ZH_NEGATION_PROBE = re.compile(f"[{''.join(sorted({w[0] for w in NEGATIONS_ZH}))}]")
_EN_COMPARISON = frozenset({"more", "less", "later", "longer"})
_ZH_COMPARISONS = ("不超过", "不多于", "不少于", "不低于", "不高于", "不大于", "不小于", "不得超过")


@dataclass(slots=True)
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
    # Every literal a scenario's matchers look for: the message learns once which occur,
    # and each matcher then answers most messages with one set operation.
    universe: Sequence[str] | None = None
    text: str = field(init=False)
    _present: frozenset[str] | None = field(init=False, default=None)
    _occurrences: dict[str, tuple[Span, ...]] = field(init=False, default_factory=dict)
    _words: list[Word] | None = field(init=False, default=None)
    _may_negate: bool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.text = normalize(self.raw)

    def has_any(self, literals: frozenset[str]) -> bool:
        """Whether any of these substrings occurs in the normalised text.

        With a `universe`, the literals asked about must be among it (the matchers of the
        scenario the universe was built from).
        """
        if self.universe is None:
            text = self.text
            return any(lit in text for lit in literals)
        return not self.present().isdisjoint(literals)

    def present(self) -> frozenset[str]:
        """The literals of the `universe` that occur in the normalised text (none without one).

        Messages that hold the same of them pass the same matchers' literal tests, so a
        scenario can answer those tests once per set (`CompiledScenario.screen`).
        """
        present = self._present
        if present is None:
            text = self.text
            universe = self.universe or ()
            present = self._present = frozenset([lit for lit in universe if lit in text])
        return present

    def occurrences(self, phrase: Phrase) -> tuple[Span, ...]:
        """Every place the phrase occurs, as (start, end) in the normalised text."""
        found = self._occurrences.get(phrase.text)
        if found is not None:
            return found
        spans: list[Span] = []
        if phrase.literal in self.text:
            if phrase.pattern is not None:
                spans = self._overlapping(phrase.pattern, phrase.literal)
            else:
                i = self.text.find(phrase.literal)
                while i >= 0:
                    spans.append((i, i + len(phrase.literal)))
                    i = self.text.find(phrase.literal, i + 1)
        result = tuple(spans)
        self._occurrences[phrase.text] = result
        return result

    def _overlapping(self, pattern: re.Pattern[str], literal: str) -> list[Span]:
        # Every start, not only finditer's non-overlapping ones: "no no side effects" has two.
        # Every match starts with the phrase's literal, so the pattern is tried only where
        # `str.find` sees it (its lookbehinds still see the text before that position): the
        # same spans as searching from each start + 1, without testing every position.
        spans: list[Span] = []
        text = self.text
        find, match = text.find, pattern.match
        start = find(literal)
        while start >= 0:
            found = match(text, start)
            if found is not None:
                spans.append(found.span())
            start = find(literal, start + 1)
        return spans

    def contains(self, phrase: Phrase) -> bool:
        return bool(self.occurrences(phrase))

    # -- words, for negation --

    def words(self) -> list[Word]:
        if self._words is None:
            self._words = self._en_words() if self.locale == "en" else self._zh_words()
        return self._words

    def _en_words(self) -> list[Word]:
        # The tokens of `_EN_TOKEN`, placed by `str.find` from the end of the one before:
        # the characters skipped between two tokens hold no letter, digit or clause mark, so
        # the first place a token's text occurs from there is where the regex found it.
        text = self.text
        find = text.find
        words: list[Word] = []
        end = 0
        for token in _EN_TOKEN.findall(text):
            start = find(token, end)
            end = start + len(token)
            words.append(Word(start, end, token, token in _EN_CLAUSE_ENDS))
        return words

    def _zh_words(self) -> list[Word]:
        from sandbox.text.segmenter import cut

        words: list[Word] = []
        pos = 0
        for token in cut(self.text):
            start, pos = pos, pos + len(token)
            if _is_punct_or_space(token):
                if any(ch in _CLAUSE_END for ch in token):
                    words.append(Word(start, pos, token, clause_end=True))
                continue
            words.append(Word(start, pos, token, clause_end=_ends_zh_clause(token)))
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

    def may_negate(self) -> bool:
        """False when no negation word occurs at all: nothing in the message is negated."""
        if self._may_negate is None:
            text = self.text
            if self.locale != "en":
                self._may_negate = _ZH_NEGATION_PROBE.search(text) is not None
            elif not any(key in text for key in _EN_NEGATION_KEYS):
                self._may_negate = False
            else:
                self._may_negate = _EN_NEGATION_PROBE.search(text) is not None
        return self._may_negate

    def asks_at(self, at: int) -> bool:
        """Whether the sentence at `at` asks something: v1 reads no speech acts."""
        return False

    def candidates(self, phrases: Sequence[Phrase]) -> Sequence[Phrase]:
        """The phrases worth looking for (a v2 `Reading` drops those whose literal is absent)."""
        return phrases

    def act_fits(self, at: int, act: str) -> bool:
        """Whether the occurrence at `at` is of the speech act `act` ("ask" or "tell")."""
        return True

    def blocks(self, spans: Sequence[Span]) -> bool:
        """Whether occurrences of a `not` phrase block the match: in v1, always."""
        return True

    def negated(self, at: int, inside: Sequence[Span], told: bool = False) -> bool:
        """Whether a negation word stands among the 3 words before `at`, in the same clause.
        (`told`, for what a v2 disclosure must tell, changes nothing in v1.)

        `inside` lists the occurrences of the matcher's own phrases: a negation word within
        one of them does not negate.
        """
        if not self.may_negate():
            return False
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


def _literals(phrases: Sequence[Phrase]) -> frozenset[str]:
    return frozenset(p.literal for p in phrases)


#: The speech acts of rules that someone else's words relayed can meet (a disclosure, a
#: warning): "the supplier says about a week", "the leaflet says not to take it with...".
TOLD_ACTS = frozenset({"tell", "warn"})


@dataclass(frozen=True, slots=True)
class Matcher:
    """A compiled matcher: `any`, `all` (groups) and `not`."""

    any: tuple[Phrase, ...] = ()
    all: tuple[tuple[Phrase, ...], ...] = ()
    none: tuple[Phrase, ...] = ()
    positives: tuple[Phrase, ...] = ()  # every `any` and `all` phrase, for the negation rule
    # The literal parts of each group's phrases: a message that has none of them cannot
    # match the group, and that is the answer for most messages.
    any_literals: frozenset[str] = frozenset()
    all_literals: tuple[frozenset[str], ...] = ()
    none_literals: frozenset[str] = frozenset()

    @classmethod
    def compile(
        cls,
        locale: str,
        any: Iterable[str] = (),
        all: Iterable[Iterable[str]] = (),
        none: Iterable[str] = (),
    ) -> Matcher:
        any_ = tuple(Phrase.compile(p, locale) for p in any)
        all_ = tuple(tuple(Phrase.compile(p, locale) for p in group) for group in all)
        none_ = tuple(Phrase.compile(p, locale) for p in none)
        positives = any_ + tuple(p for group in all_ for p in group)
        return cls(
            any_,
            all_,
            none_,
            positives,
            _literals(any_),
            tuple(_literals(group) for group in all_),
            _literals(none_),
        )

    @property
    def literals(self) -> frozenset[str]:
        return self.any_literals.union(self.none_literals, *self.all_literals)

    def matches(self, text: Text, negation: bool = False, act: str | None = None) -> bool:
        """Whether the message says what this matcher describes (`act`: see `confirm`)."""
        if not self.any and not self.all:
            return False
        if self.any and not text.has_any(self.any_literals):
            return False
        for literals in self.all_literals:
            if not text.has_any(literals):
                return False
        return self.confirm(text, negation, act)

    def admits(self, present: frozenset[str]) -> bool:
        """The literal test `matches` starts with, for a message holding `present`.

        `present` holds the literals of a universe that includes this matcher's; False means
        no message holding exactly those can match, True that `confirm` decides.
        """
        if not self.any and not self.all:
            return False
        if self.any and present.isdisjoint(self.any_literals):
            return False
        return all(not present.isdisjoint(literals) for literals in self.all_literals)

    def confirm(self, text: Text, negation: bool = False, act: str | None = None) -> bool:
        """`matches` for a message known to pass the literal test (`admits` said True).

        `act` (format v2 only, with a `Reading`): "ask" counts only occurrences in a
        question or request, "tell" only those in a statement.
        """
        if self.none and text.has_any(self.none_literals):
            for phrase in self.none:
                spans = text.occurrences(phrase)
                if spans and text.blocks(spans):
                    return False
        own: list[Span] = []  # filled on first need: most messages never need it
        if self.any and not self._group_holds(self.any, text, negation, own, act):
            return False
        return all(self._group_holds(group, text, negation, own, act) for group in self.all)

    def _group_holds(
        self,
        group: Sequence[Phrase],
        text: Text,
        negation: bool,
        own: list[Span],
        act: str | None = None,
    ) -> bool:
        for phrase in text.candidates(group):
            spans = text.occurrences(phrase)
            if not spans:
                continue
            if act is not None:
                fits = text.act_fits
                spans = tuple(s for s in spans if fits(s[0], act))
                if not spans:
                    continue
            if not negation or not text.may_negate():
                return True
            if not own:
                positives = text.candidates(self.positives)
                own.extend(span for p in positives for span in text.occurrences(p))
            for start, _ in spans:
                if not text.negated(start, own, told=act in TOLD_ACTS):
                    return True
        return False
