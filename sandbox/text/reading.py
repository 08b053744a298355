"""How a format v2 pack reads a message (docs/format-v2.md).

A `Reading` is the v1 `Text` of `matcher.py` with three differences, so that v1 matchers,
literal screens and the grader work on it unchanged:

- English is read as lemmas with contractions spelt out ("we wouldn't inject" reads
  "we would not inject"), and v2 phrases are compiled the same way, so inflections match;
  Chinese is segmented with the domain's own words added to jieba's dictionary.
- Negation reaches to the end of its clause and knows reported and rejected claims: the
  rules are `sandbox.text.negation.Negation`, which a `Reading` is.
- It tells a question or request from a statement, for `inquiry` and `disclosure`
  criteria: the rules are `sandbox.text.acts.SpeechActs`, which a `Reading` also is.

Every rule here is a rule: nothing is learned, so the same message always reads the same.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox.text.acts import SpeechActs
from sandbox.text.hanzi import simplified
from sandbox.text.lemmas import expand, is_word, lemma, verbs_before_objects
from sandbox.text.matcher import (
    Phrase,
    Span,
    Text,
    Word,
    _is_punct_or_space,
    normalize,
)
from sandbox.text.negation import Negation
from sandbox.text.negation_en import _CLAUSE_MARKS, _ELLIPSIS, _V2_EN_TOKEN
from sandbox.text.negation_zh import _CLAUSE_MARKS_ZH

# -- English -----------------------------------------------------------------------------

# Adverbs an English phrase tolerates between its own words: "nobody will know" matches
# "nobody will ever know", "you will look" "you'll really look", "i will send" "i'll just
# send". Only words that intensify or soften without changing what is said: no negation, no
# hedge ("probably", "maybe"), no time word that could turn a claim round. A phrase that
# names one of them ("just a bruise") still needs it.
EN_FILLERS = frozenset(
    "just really ever actually honestly totally definitely absolutely completely even "
    "very literally pretty quite simply truly certainly surely".split()
)


class Literals(tuple[str, ...]):
    """A scenario's literals (`Text.universe`), indexed by their first three characters: a
    v2 scenario looks for thousands (its concepts expanded), and a message holds few."""

    by_key: dict[str, tuple[str, ...]]
    short: tuple[str, ...]  # literals of fewer than three characters

    def __new__(cls, literals: Sequence[str]) -> Literals:
        self = super().__new__(cls, literals)
        index: dict[str, list[str]] = {}
        short = []
        for literal in self:
            if len(literal) < _KEY:
                short.append(literal)
            else:
                index.setdefault(literal[:_KEY], []).append(literal)
        self.by_key = {k: tuple(v) for k, v in index.items()}
        self.short = tuple(short)
        return self

    @property
    def spelling(self) -> dict[str, tuple[str, ...]]:
        """The literals' long words (`_SPELT`) by themselves and by each form with one letter
        left out: two words one typo apart share a key (`respell`). Made on first need."""
        index = self.__dict__.get("_spelling")
        if index is None:
            found: dict[str, set[str]] = {}
            for literal in self:
                for word in literal.split():
                    if len(word) > _SPELT and word.isalpha() and word.isascii():
                        for key in _one_out(word):
                            found.setdefault(key, set()).add(word)
            index = {k: tuple(sorted(v)) for k, v in found.items()}
            self.__dict__["_spelling"] = index
        return index

    def respell(self, forms: list[str], raw: str = "") -> list[str] | None:
        """`forms` with each long word that no dictionary knows and that is one typo (a
        letter added, left out, changed, or two swapped) from exactly one of the literals'
        longer words read as that word ("prescripton", "ibuprofin", "asprin"); None when
        nothing changed. A word written with a capital in `raw` is a name and stays
        ("Mrs Hadley" is not "hardly")."""
        fixed: list[str] | None = None
        memo: dict[str, str | None] = self.__dict__.setdefault("_respelt", {})
        for i, form in enumerate(forms):
            if len(form) < _SPELT:
                continue
            if form in memo:
                word = memo[form]
            else:
                word = self._near(form)
                if len(memo) < _RESPELT_KEPT:
                    memo[form] = word
            if word is not None and form.capitalize() not in raw:
                if fixed is None:
                    fixed = list(forms)
                fixed[i] = word
        return fixed

    def _near(self, form: str) -> str | None:
        """The one literal word a typo away from `form`, when the dictionary does not know
        `form` (kept per form by `respell`)."""
        if not form.isalpha() or not form.isascii():
            return None
        spelling = self.spelling
        if form in spelling and form in spelling[form]:
            return None  # one of the literals' own words
        if is_word(form):
            return None
        near = {w for key in _one_out(form) for w in spelling.get(key, ())}
        return near.pop() if len(near) == 1 else None

    def present_in(self, text: str) -> frozenset[str]:
        """The literals that occur in `text`."""
        by_key = self.by_key
        keys = {text[i : i + _KEY] for i in range(len(text) - _KEY + 1)}
        found = [lit for key in keys.intersection(by_key) for lit in by_key[key] if lit in text]
        found.extend(lit for lit in self.short if lit in text)
        return frozenset(found)


_KEY = 3
#: Words of at least this many letters are read through one typo into a literal's word of
#: more letters than this (`Literals.respell`): shorter ones are too often another word one
#: letter away.
_SPELT = 6


@functools.lru_cache(maxsize=8)
def _speller(universe: tuple[str, ...]) -> Literals:
    """A plain tuple of literals as `Literals`, for its spelling: a reading given literals
    without their index (tests read that way to check the index) reads typos the same."""
    return Literals(universe)


#: How many long forms a scenario keeps the reading of (`Literals.respell`).
_RESPELT_KEPT = 65536


def _one_out(word: str) -> set[str]:
    """The word and every form of it with one letter left out."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


_ZH_SPACE = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])")
#: Negations a space after which does not end the clause (不会 留疤).
_SPACED_NEGATIONS_ZH = ("不", "不会", "没", "没有", "别", "不要", "不用", "不能", "不可能", "不太")
#: Below this many literals, testing each one is as quick as the index.
_INDEXED = 200


@dataclass
class Reading(Negation, SpeechActs, Text):
    """One message as a format v2 matcher reads it."""

    #: English: the lemmas, in order; their `Word`s are placed in `text` when first needed
    #: (most messages are decided by their literals alone).
    _forms: list[str] = field(init=False, default_factory=list)
    _word_list: list[Word] | None = field(init=False, default=None)
    _plain: str = field(init=False, default="")
    _frames: list[int] | None = field(init=False, default=None)
    _form_frozenset: frozenset[str] | None = field(init=False, default=None)
    _negating: bool | None = field(init=False, default=None)
    #: English: the text without its filler adverbs, and where each of its characters
    #: stands in `text` (None when the message holds no filler).
    _unfilled: tuple[str, list[int]] | None = field(init=False, default=None)
    #: Chinese: the spans a sentence does not assert, found once per message.
    _unreal: list[tuple[int, int, Word]] | None = field(init=False, default=None)
    #: The sentences that reject the one before them, found once per message.
    _rejections: list[tuple[int, Word]] | None = field(init=False, default=None)
    #: Where this message's last sentence starts, when the next message rejects it.
    _rejected_tail: tuple[int, Word] | None = field(init=False, default=None)
    #: Where the marks that end a clause and a sentence stand, found once per message.
    _clause_marks: list[int] | None = field(init=False, default=None)
    _sentence_marks: list[int] | None = field(init=False, default=None)
    #: What negates each occurrence asked about, by position and the matcher's own spans.
    _negations: dict[tuple[int, tuple[Span, ...]], Word | None] | None = field(
        init=False, default=None
    )

    def __post_init__(self) -> None:
        self._plain = normalize(self.raw)
        if self.locale != "en" and not self._plain.isascii():
            self._plain = simplified(self._plain)
        if self.locale == "en":
            self.text, self._forms = _en_lemmas(self._plain)
            universe = self.universe
            if universe is not None:
                speller = universe if isinstance(universe, Literals) else _speller(tuple(universe))
                respelt = speller.respell(self._forms, self.raw)
                if respelt is not None:
                    self._forms = respelt
                    self.text = " ".join(respelt)
            if not EN_FILLERS.isdisjoint(self._forms):
                self._unfilled = _without_fillers(self._tokens)
        else:
            # On a phone a space often ends a Chinese clause ("打完会肿几天 也可能有淤青"):
            # between two Chinese characters it reads as a comma (one for one, so that
            # positions hold).
            self.text = _zh_spaces(self._plain) if " " in self._plain else self._plain
            self._word_list = _zh_tokens(self.text)

    @property
    def _tokens(self) -> list[Word]:
        words = self._word_list
        if words is None:
            words = self._word_list = _placed(self._forms)
        return words

    def present(self) -> frozenset[str]:
        """`Text.present`, through the scenario's index of literals when it has one; in
        English also the literals found once the filler adverbs are left out."""
        present = self._present
        if present is not None:
            return present
        if isinstance(self.universe, Literals) and len(self.universe) > _INDEXED:
            self._present = self.universe.present_in(self.text)
            if self._unfilled is not None:
                self._present |= self.universe.present_in(self._unfilled[0])
        elif self._unfilled is not None:
            texts = (self.text, self._unfilled[0])
            universe = self.universe or ()
            self._present = frozenset(lit for lit in universe if lit in texts[0] or lit in texts[1])
        return super().present()

    def has_any(self, literals: frozenset[str]) -> bool:
        """`Text.has_any`, also in the text without filler adverbs."""
        if self.universe is None and self._unfilled is not None:
            texts = (self.text, self._unfilled[0])
            return any(lit in t for lit in literals for t in texts)
        return super().has_any(literals)

    def occurrences(self, phrase: Phrase) -> tuple[Span, ...]:
        """`Text.occurrences`, and in English also the occurrences that filler adverbs
        interrupt ("nobody will ever know" holds "nobody will know"), placed in `text`."""
        found = self._occurrences.get(phrase.text)
        if found is not None:
            return found
        spans = super().occurrences(phrase)
        unfilled = self._unfilled
        if unfilled is None or " " not in phrase.literal:
            return spans
        text, where = unfilled
        more: list[Span] = []
        if phrase.literal in text:
            k = text.find(phrase.literal)
            while k >= 0:
                m = phrase.pattern.match(text, k) if phrase.pattern is not None else None
                if m is not None or phrase.pattern is None:
                    end = m.end() if m is not None else k + len(phrase.literal)
                    more.append((where[k], where[end - 1] + 1))
                k = text.find(phrase.literal, k + 1)
        if more:
            spans = tuple(sorted(set(spans).union(more)))
            self._occurrences[phrase.text] = spans
        return spans

    def candidates(self, phrases: Sequence[Phrase]) -> Sequence[Phrase]:
        """Only the phrases whose literal the message holds (concept groups are long)."""
        if not isinstance(self.universe, Literals) or len(phrases) < 8:
            return phrases
        present = self.present()
        return [p for p in phrases if p.literal in present]

    def blocks(self, spans: Sequence[Span]) -> bool:
        """A `not` phrase blocks the match where it is said, not where it is negated: "这些
        都是常规价，不是限时的" does not pressure, so it does not undo an honest offer."""
        return not self.may_negate() or any(not self.negated(start, spans) for start, _ in spans)

    @property
    def plain(self) -> str:
        """The message normalised as v1 does, before lemmas."""
        return self._plain

    def words(self) -> list[Word]:
        return self._tokens


_ENDS_CLAUSE_EN = frozenset({*_CLAUSE_MARKS, "but", "-"})
#: Each chunk's reading (the text between two spaces), cached: most chat words recur, and
#: `lemma` is the costly part. No token spans a space, and the one token that depends on
#: its neighbours, a dash between spaces, is a chunk of its own, so reading chunk by chunk
#: gives the tokens of reading the whole.
_CHUNKS_EN: dict[str, tuple[str, ...]] = {}


def _chunk_forms(chunk: str) -> tuple[str, ...]:
    # A chunk of letters and digits only is one token: `_V2_EN_TOKEN` takes a run of them
    # (`[^\W_]` is exactly what `str.isalnum` accepts), so the regex is left for the rest.
    tokens = [chunk] if chunk.isalnum() else _V2_EN_TOKEN.findall(chunk)
    return tuple([token if token in _CLAUSE_MARKS else lemma(token) for token in expand(tokens)])


def _en_lemmas(plain: str) -> tuple[str, list[str]]:
    """The message as lemmas joined by spaces, and the lemmas."""
    # "The order number would be...?": an ellipsis does not end the sentence.
    if ".." in plain:
        plain = _ELLIPSIS.sub(" ", plain)
    chunks = plain.split(" ")
    last = len(chunks) - 1
    forms: list[str] = []
    cache = _CHUNKS_EN
    for i, chunk in enumerate(chunks):
        if chunk == "-":
            if 0 < i < last:  # a dash between spaces ends a clause
                forms.append("-")
            continue
        found = cache.get(chunk)
        if found is None:
            found = _chunk_forms(chunk)
            if len(cache) < 65536:
                cache[chunk] = found
        forms += found
    verbs_before_objects(forms)
    return " ".join(forms), forms


def _placed(forms: list[str]) -> list[Word]:
    """The lemmas as words placed in the text that joins them with spaces."""
    words: list[Word] = []
    pos = 0
    ends = _ENDS_CLAUSE_EN
    for form in forms:
        end = pos + len(form)
        words.append(Word(pos, end, form, form in ends))
        pos = end + 1
    return words


def _without_fillers(words: list[Word]) -> tuple[str, list[int]]:
    """The lemma text without filler adverbs, and each character's position in the text."""
    parts: list[str] = []
    where: list[int] = []
    for w in words:
        if w.text in EN_FILLERS:
            continue
        if parts:
            parts.append(" ")
            where.append(w.start - 1)
        parts.append(w.text)
        where.extend(range(w.start, w.end))
    return "".join(parts), where


def _zh_spaces(text: str) -> str:
    """A space between two Chinese characters as a comma (one for one, so that positions
    hold), except after a negation: "不会 留疤" still says no scar, where a comma would end
    the negation's reach."""

    def comma(m: re.Match[str]) -> str:
        before = text[max(0, m.start() - 4) : m.start()]
        return " " if before.endswith(_SPACED_NEGATIONS_ZH) else "，"

    return _ZH_SPACE.sub(comma, text)


def _zh_tokens(text: str) -> list[Word]:
    from sandbox.text.segmenter import cut_domain

    words: list[Word] = []
    pos = 0
    for token in cut_domain(text):
        start, pos = pos, pos + len(token)
        if _is_punct_or_space(token):
            if any(ch in _CLAUSE_MARKS_ZH for ch in token):
                words.append(Word(start, pos, token, clause_end=True))
            continue
        words.append(Word(start, pos, token, clause_end=token in ("但", "但是")))
    return words
