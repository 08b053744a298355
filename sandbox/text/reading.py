"""How a format v2 pack reads a message (docs/format-v2.md).

A `Reading` is the v1 `Text` of `matcher.py` with three differences, so that v1 matchers,
literal screens and the grader work on it unchanged:

- English is read as lemmas with contractions spelt out ("we wouldn't inject" reads
  "we would not inject"), and v2 phrases are compiled the same way, so inflections match;
  Chinese is segmented with the domain's own words added to jieba's dictionary.
- Negation reaches to the end of its clause (up to `SCOPE` words) rather than three words,
  knows negative quantifiers ("nobody", "no clinic", 没人, 谁也不) and refusal frames
  ("unable to", 没办法), and treats a reported or rejected claim ("anyone who tells you
  it's 100% safe...", 谁说...) as not made. Litotes ("not unusual") and comparisons ("no
  more than") do not negate.
- It tells a question or request from a statement (`asks_at`), for `inquiry` and
  `disclosure` criteria.

Every rule here is a rule: nothing is learned, so the same message always reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox.text.concepts import Lexicon
from sandbox.text.lemmas import expand, lemma
from sandbox.text.matcher import (
    _EN_TOKEN,
    Matcher,
    Phrase,
    Span,
    Text,
    Word,
    _is_punct_or_space,
    _literals,
    normalize,
)

#: How many words after a negation it can still reach, within the clause.
SCOPE = 8

# -- English -----------------------------------------------------------------------------

NEGATORS_EN = frozenset(
    "not no never nobody nothing none neither nor without zero unable refuse avoid "
    "nowhere hardly".split()
)
# Two-word negators, read on lemmas.
NEGATOR_PAIRS_EN = frozenset({("no", "one"), ("instead", "of"), ("rather", "than"),
                              ("steer", "clear"), ("stay", "away"), ("far", "from")})
# "no"/"not" that do not negate what follows: comparisons and litotes.
_NOT_NEGATING_NEXT_EN = frozenset(
    "more less later longer only just unusual uncommon unheard rare unlikely "
    "always".split()
)
# Words that end a negation's reach before the clause ends.
_SCOPE_BREAK_EN = frozenset(
    "and then so because since while if when unless until which who although though "
    "instead but however otherwise also".split()
)
_CLAUSE_MARKS = frozenset(".,;:!?")
_SENTENCE_MARKS_EN = frozenset(".;!?")
# Frames that report or reject a claim: what follows in the sentence is not asserted.
_REPORT_FRAMES_EN = (
    ("anyone", "who"), ("anybody", "who"), ("anyone", "that"), ("whoever",),
    ("someone", "who"), ("somebody", "who"), ("people", "who"), ("anyone", "claim"),
    ("if", "someone"), ("if", "anyone"), ("if", "somebody"), ("some", "clinic"),
    ("other", "clinic"), ("some", "place"), ("do", "not", "believe"),
    ("do", "not", "trust"), ("beware",), ("myth",), ("be", "wary"),
)
_REPORT_FRAMES_BY_HEAD_EN: dict[str, tuple[tuple[str, ...], ...]] = {}
for _frame in _REPORT_FRAMES_EN:
    _REPORT_FRAMES_BY_HEAD_EN[_frame[0]] = (*_REPORT_FRAMES_BY_HEAD_EN.get(_frame[0], ()), _frame)
_PAIR_HEADS_EN = frozenset(head for head, _ in NEGATOR_PAIRS_EN)
_QUESTION_OPENERS_EN = frozenset(
    "do did have can could would will are is be was were any anything what which who "
    "whom whose how when where why may might shall should ever".split()
)
_REQUEST_FRAMES_EN = tuple(f" {frame} " for frame in (
    "tell me", "let me know", "let us know", "can you", "could you", "would you",
    "will you", "please share", "like to know", "need to know", "want to know",
    "may i ask", "mind tell", "wonder if", "wonder whether", "check if",
    "check whether", "just to check", "quick question", "please confirm", "confirm for me",
    "please list", "please describe", "describe", "let me ask",
))

# -- Chinese -----------------------------------------------------------------------------

NEGATORS_ZH = frozenset(
    (
        "不 不会 不是 不用 不能 不要 不可 不可以 没 没有 无 无需 无法 别 未 毫无 并非 并不 并不会 "
        "绝不 绝不会 从不 从没 从未 没什么 不太 不太会 不怎么 不至于 没人 没有人 谁也不 谁都不 "
        "谁也 没办法 没法 不敢 不建议 不推荐 千万别 千万不要 避免 别再 不再 不宜 禁止 不得 "
        "不能够 不应该 不该 不必 甭 莫 勿 切勿 拒绝 暂停"
    ).split()
)
_LONG_NEGATORS_ZH = tuple(sorted((w for w in NEGATORS_ZH if len(w) > 1), key=len, reverse=True))
_NOT_NEGATING_ZH = ("不超过", "不多于", "不少于", "不低于", "不高于", "不大于", "不小于",
                    "不得超过", "不错", "不少", "不仅", "不但", "不管", "不过", "无论",
                    "不止", "没错")
_ZH_NEGATION_CHARS = re.compile(f"[{''.join(sorted({w[0] for w in NEGATORS_ZH}))}]")
_SCOPE_BREAK_ZH = frozenset("而是 所以 因为 如果 要是 然后 而且 并且 可是 不过 然而 只是 改用 换成 "
                            "建议 可以".split())
_CLAUSE_MARKS_ZH = frozenset(".,;:!?。、，；：！？…~")
_SENTENCE_MARKS_ZH = frozenset(".;!?。；！？")
_REPORT_FRAMES_ZH = ("有人说", "别人说", "谁说", "谁跟您说", "谁跟你说", "谁保证", "谁和您说",
                     "别信", "不要信", "不要相信", "别相信", "别听", "不要听", "号称",
                     "所谓的", "宣传说", "忽悠")
_QUESTION_WORDS_ZH = ("?", "吗", "是否", "有没有", "是不是", "什么", "哪", "多少", "几",
                      "怎么", "请问", "告诉我", "说一下", "说下", "讲一下", "方便说",
                      "能不能", "可不可以", "会不会", "有无", "要不要", "用不用", "吃没吃",
                      "有吃", "在吃", "麻烦您说", "跟我说说", "了解一下", "确认一下",
                      "问一下", "问下", "如何", "咋")
_QUESTION_ENDS_ZH = ("吗", "呢", "么", "嘛", "没")


@dataclass
class Reading(Text):
    """One message as a format v2 matcher reads it."""

    _tokens: list[Word] = field(init=False, default_factory=list)
    _plain: str = field(init=False, default="")
    _frames: list[int] | None = field(init=False, default=None)
    _negating: bool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._plain = normalize(self.raw)
        if self.locale == "en":
            self.text, self._tokens = _en_lemmas(self._plain)
        else:
            self.text = self._plain
            self._tokens = _zh_tokens(self._plain)

    @property
    def plain(self) -> str:
        """The message normalised as v1 does, before lemmas."""
        return self._plain

    def words(self) -> list[Word]:
        return self._tokens

    def may_negate(self) -> bool:
        """False when no negation word and no reporting frame occurs in the message."""
        if self._negating is None:
            if self.locale == "en":
                texts = {w.text for w in self._tokens}
                self._negating = (not texts.isdisjoint(NEGATORS_EN)
                                  or not texts.isdisjoint(_PAIR_HEADS_EN)
                                  or bool(self._frame_starts()))
            else:
                self._negating = (_ZH_NEGATION_CHARS.search(self.text) is not None
                                  or bool(self._frame_starts()))
        return self._negating

    def _frame_starts(self) -> list[int]:
        """Where a reporting frame starts: word indices (en) or text positions (zh)."""
        if self._frames is None:
            frames: list[int] = []
            if self.locale == "en":
                words = self._tokens
                for j, w in enumerate(words):
                    for frame in _REPORT_FRAMES_BY_HEAD_EN.get(w.text, ()):
                        if tuple(x.text for x in words[j : j + len(frame)]) == frame:
                            frames.append(j)
                            break
            else:
                text = self.text
                for marker in _REPORT_FRAMES_ZH:
                    k = text.find(marker)
                    while k >= 0:
                        frames.append(k)
                        k = text.find(marker, k + 1)
                frames.sort()
            self._frames = frames
        return self._frames

    # -- negation --

    def negated(self, at: int, inside: Sequence[Span]) -> bool:
        """Whether the occurrence at `at` is negated, reported or rejected."""
        return self.negation_at(at, inside) is not None

    def negation_at(self, at: int, inside: Sequence[Span] = ()) -> Word | None:
        """The word that negates the occurrence at `at`, or None."""
        words = self._tokens
        i = len(words) - 1
        while i >= 0 and words[i].start >= at:
            i -= 1
        en = self.locale == "en"
        breaks = _SCOPE_BREAK_EN if en else _SCOPE_BREAK_ZH
        seen = 0
        j = i
        # The part of a segmenter word that the occurrence starts inside counts as a word.
        if j >= 0 and words[j].end > at and not words[j].clause_end:
            part = self.text[words[j].start : at]
            if not en and self._negates_zh(part, words[j].start, inside):
                return Word(words[j].start, at, part)
            j -= 1
        while j >= 0 and seen < SCOPE:
            w = words[j]
            if w.clause_end or w.text in breaks:
                break
            if any(s <= w.start and w.end <= e for s, e in inside):
                j -= 1
                seen += 1
                continue
            if en and self._negates_en(j):
                return w
            if not en and self._negates_zh(w.text, w.start, inside):
                return w
            j -= 1
            seen += 1
        return self._reported(i)

    def _negates_en(self, j: int) -> bool:
        words = self._tokens
        w = words[j].text
        nxt = words[j + 1].text if j + 1 < len(words) else ""
        if w in ("no", "not") and nxt in _NOT_NEGATING_NEXT_EN:
            return False
        if w in NEGATORS_EN:
            return True
        return (w, nxt) in NEGATOR_PAIRS_EN

    def _negates_zh(self, token: str, start: int, inside: Sequence[Span]) -> bool:
        # jieba glues adverbs to a negation (先别, 再不, 千万不要): read past them.
        lead = token.lstrip("先再也都就还可千万暂时最好")
        start += len(token) - len(lead)
        if not lead or self.text.startswith(_NOT_NEGATING_ZH, start):
            return False
        # A longer word may start with a negation of two characters or more (the lexicon's
        # 不能保证 is one word to the segmenter); one character alone negates only as a word
        # (不良反应 is no negation).
        return lead in NEGATORS_ZH or lead.startswith(_LONG_NEGATORS_ZH)

    def _reported(self, i: int) -> Word | None:
        """A frame earlier in the sentence that reports or rejects what follows."""
        frames = self._frame_starts()
        if not frames or i < 0:
            return None
        words = self._tokens
        marks = _SENTENCE_MARKS_EN if self.locale == "en" else _SENTENCE_MARKS_ZH
        start = i
        while start > 0 and words[start - 1].text not in marks:
            start -= 1
        if self.locale == "en":
            found = [j for j in frames if start <= j <= i]
            return words[found[-1]] if found else None
        begin, end = words[start].start, words[i].end
        for k in frames:
            if begin <= k < end:
                marker = next(m for m in _REPORT_FRAMES_ZH if self.text.startswith(m, k))
                return Word(k, k + len(marker), marker)
        return None

    # -- speech acts --

    def asks_at(self, at: int) -> bool:
        """Whether the sentence around position `at` asks or requests something."""
        sentence = self._sentence(at)
        if self.locale != "en":
            stripped = sentence.rstrip("。.!！~ 哈啊呀哦")
            return (any(w in sentence for w in _QUESTION_WORDS_ZH)
                    or stripped.endswith(_QUESTION_ENDS_ZH))
        if "?" in sentence:
            return True
        first = sentence.split(" ", 3)
        if first and first[0] in ("so", "and", "also", "ok", "okay", "oh", "um", "hi", "hello"):
            first = first[1:]
        opener = first[0] if first else ""
        # "don't take it" is an order, "do you take it" a question.
        if opener in _QUESTION_OPENERS_EN and not (len(first) > 1 and first[1] == "not"):
            return True
        padded = f" {sentence} "
        return any(frame in padded for frame in _REQUEST_FRAMES_EN)

    def _sentence(self, at: int) -> str:
        text = self.text
        marks = "?!.;。！？；\n" if self.locale != "en" else "?!.;"
        begin = max(text.rfind(m, 0, at) for m in marks) + 1
        ends = [k for k in (text.find(m, at) for m in marks) if k >= 0]
        end = min(ends) + 1 if ends else len(text)
        return text[begin:end].strip()


def _en_lemmas(plain: str) -> tuple[str, list[Word]]:
    """The message as lemmas joined by spaces, and its words placed in that text."""
    out: list[str] = []
    words: list[Word] = []
    pos = 0
    for token in expand(_EN_TOKEN.findall(plain)):
        form = token if token in _CLAUSE_MARKS else lemma(token)
        if out:
            pos += 1
        words.append(Word(pos, pos + len(form), form, form in _CLAUSE_MARKS or form == "but"))
        out.append(form)
        pos += len(form)
    return " ".join(out), words


def lemma_phrase(source: str) -> str:
    """A v2 English phrase read the way messages are (a final `*` kept, its word as typed)."""
    text = normalize(source)
    star = text.endswith("*")
    core = text[:-1] if star else text
    tokens = expand(_EN_TOKEN.findall(core))
    if not tokens:
        return text
    if star:
        head = [lemma(t) if t not in _CLAUSE_MARKS else t for t in tokens[:-1]]
        return " ".join([*head, tokens[-1]]) + "*"
    return " ".join(lemma(t) if t not in _CLAUSE_MARKS else t for t in tokens)


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


# Words a Chinese phrase tolerates between its own words (不用太担心 reads as 不用担心).
ZH_FILLERS = ("太", "很", "那么", "这么", "再", "都", "也", "就", "了", "的", "过", "着", "给",
              "您", "你", "一下", "先", "还", "真的", "特别", "非常", "有点", "这个", "那个",
              "啊", "哈", "呀", "哦", "去", "来", "会", "要", "得", "是", "他", "她", "它",
              "咱们", "我们", "这", "那", "一定", "千万", "暂时", "最好")
_ZH_FILLER = "(?:" + "|".join(map(re.escape, sorted(ZH_FILLERS, key=len, reverse=True))) + ")"
_ZH_GAP = "[^.,;:!?。、，；：！？]{0,8}?"


def zh_pattern(text: str) -> tuple[str, re.Pattern[str]]:
    """A normalised Chinese phrase as (a literal every match holds, a tolerant pattern).

    Up to two filler words may stand between the phrase's own words; `...` or `…` in a
    phrase stands for up to eight characters of the same clause (别...打 matches 别急着打).
    """
    from sandbox.text.segmenter import cut_plain

    pieces = [p for p in re.split(r"\.\.\.|…", text) if p]
    parts = []
    for piece in pieces:
        words = [w for w in cut_plain(piece) if w.strip()] or [piece]
        parts.append(f"{_ZH_FILLER}{{0,2}}".join(map(re.escape, words)))
    # Every match starts with the phrase's first word: the matcher looks for the pattern
    # only where that word occurs.
    literal = next(w for w in cut_plain(pieces[0]) if w.strip()) if pieces else text
    return literal, re.compile(_ZH_GAP.join(parts))


class V2Compiler:
    """Compiles a v2 scenario's matchers: concepts expanded, phrases read as messages are."""

    def __init__(self, lexicon: Lexicon, locale: str, topic: Sequence[str] | None) -> None:
        self.lexicon = lexicon
        self.locale = locale
        local: dict[str, tuple[str, ...]] = {}
        if topic:
            local["topic"] = (*topic, "~topic-reference")
        self.local = local
        self._phrases: dict[str, Phrase] = {}
        #: For each plain phrase that came from a concept, the concepts it came through.
        self.origins: dict[str, str] = {}

    def phrases(self, sources: Sequence[str]) -> tuple[Phrase, ...]:
        """The plain phrases of these (concepts expanded), compiled."""
        out = []
        for plain, origin in self.lexicon.origins(sources, self.locale, self.local).items():
            self.origins.setdefault(plain, origin)
        for source in self.lexicon.expand(sources, self.locale, self.local):
            phrase = self._phrases.get(source)
            if phrase is None:
                phrase = self._phrases[source] = compile_phrase(source, self.locale)
            out.append(phrase)
        return tuple(dict.fromkeys(out))

    def compile(
        self, any: Sequence[str], all: Sequence[Sequence[str]], none: Sequence[str]
    ) -> Matcher:
        any_ = self.phrases(any)
        all_ = tuple(self.phrases(group) for group in all)
        none_ = self.phrases(none)
        positives = any_ + tuple(p for group in all_ for p in group)
        return Matcher(any_, all_, none_, positives, _literals(any_),
                       tuple(_literals(group) for group in all_), _literals(none_))


def compile_phrase(source: str, locale: str) -> Phrase:
    """One plain v2 phrase, compiled to match a `Reading` (`PhraseError` if not allowed)."""
    text = Phrase.check(source, locale)
    if locale == "en":
        compiled = Phrase.compile(lemma_phrase(text), "en")
        return Phrase(source, compiled.text, locale, compiled.literal, compiled.pattern)
    literal, pattern = zh_pattern(text)
    return Phrase(source, text, locale, literal, pattern)
