"""How a format v2 pack's phrases are compiled to match a `Reading` (docs/format-v2.md).

English phrases read as lemmas, as messages do (`lemma_phrase`), and may hold `...` gaps of
up to three words; Chinese phrases tolerate filler words between their own words and `...`
gaps of up to eight characters (`zh_pattern`). `V2Compiler` expands a scenario's concepts
(templates included, `sandbox.text.concepts`) and compiles every phrase once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from sandbox.text.concepts import Lexicon
from sandbox.text.hanzi import simplified_phrase
from sandbox.text.lemmas import expand, lemma, verbs_before_objects
from sandbox.text.matcher import _EN_TOKEN, Matcher, Phrase, PhraseError, _literals, normalize
from sandbox.text.negation_en import _CLAUSE_MARKS


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
    forms = [lemma(t) if t not in _CLAUSE_MARKS else t for t in tokens]
    return " ".join(verbs_before_objects(forms))


# Words a Chinese phrase tolerates between its own words (不用太担心 reads as 不用担心).
ZH_FILLERS = (
    "太",
    "很",
    "那么",
    "这么",
    "再",
    "都",
    "也",
    "就",
    "了",
    "的",
    "过",
    "着",
    "给",
    "您",
    "你",
    "一下",
    "先",
    "还",
    "真的",
    "特别",
    "非常",
    "有点",
    "这个",
    "那个",
    "啊",
    "哈",
    "呀",
    "哦",
    "去",
    "来",
    "会",
    "能",
    "能够",
    "可以",
    "要",
    "得",
    "是",
    "他",
    "她",
    "它",
    "咱们",
    "我们",
    "这",
    "那",
    "一定",
    "千万",
    "暂时",
    "最好",
)
_ZH_FILLER = "(?:" + "|".join(map(re.escape, sorted(ZH_FILLERS, key=len, reverse=True))) + ")"
_ZH_TIGHT = frozenset("不 没 别 无 未 非 莫 勿".split())
# A gap stays in its clause and holds no negation: "布洛芬...下单" is not in 布洛芬千万别下单.
# Words that hold a negation's character without negating (特别满意) may stand in a gap.
_ZH_GAP_WORDS = (
    "特别 区别 分别 级别 类别 个别 识别 告别 差别 别人 别的 别家 别处 不错 不少 没错 无论 未来"
).split()
_ZH_GAP = "(?:" + "|".join(_ZH_GAP_WORDS) + "|[^.,;:!?。、，；：！？不没别无未莫勿]){0,8}?"


#: Colloquial spellings read as their standard word, both ways: 没啥大问题 is 没什么大问题,
#: 咋办 is 怎么办. A phrase's first word keeps its spelling up to its first such word, which
#: is the literal every match starts with.
#: A verb's 一下 is often typed 下 alone: 帮您查一下她 matches 帮您查下她.
_ZH_COLLOQUIAL = {
    "什么": "(?:什么|啥)",
    "啥": "(?:啥|什么)",
    "怎么": "(?:怎么|咋)",
    "咋": "(?:咋|怎么)",
    "一下": "一?下",
}
_ZH_COLLOQUIAL_RE = re.compile("|".join(_ZH_COLLOQUIAL))


def _zh_word(word: str) -> str:
    return _ZH_COLLOQUIAL_RE.sub(lambda m: _ZH_COLLOQUIAL[m.group()], re.escape(word))


def zh_pattern(text: str) -> tuple[str, re.Pattern[str]]:
    """A normalised Chinese phrase as (a literal every match holds, a tolerant pattern).

    Up to two filler words may stand between the phrase's own words; `...` or `…` in a
    phrase stands for up to eight characters of the same clause (别...打 matches 别急着打).
    什么/啥 and 怎么/咋 stand for each other (`_ZH_COLLOQUIAL`).
    """
    from sandbox.text.segmenter import cut_plain

    pieces = [p for p in re.split(r"\.\.\.|…", text) if p]
    parts: list[str] = []
    literal = text
    for piece in pieces:
        words = [w for w in cut_plain(piece) if w.strip()] or [piece]
        pattern = _zh_word(words[0])
        if not parts:
            # The literal: the first word up to its first colloquial spelling; a first word
            # that starts with one keeps its spelling, as written.
            found = _ZH_COLLOQUIAL_RE.search(words[0])
            literal = words[0] if found is None else words[0][: found.start()]
            if not literal:
                literal, pattern = words[0], re.escape(words[0])
        for before, word in itertools.pairwise(words):
            # No filler after a one-character negation: 不放心 must not match 不过您放心.
            gap = "" if before in _ZH_TIGHT else f"{_ZH_FILLER}{{0,2}}"
            pattern += gap + _zh_word(word)
        parts.append(pattern)
    # A phrase right after a one-character negation is another word (是我们的问题 is not
    # in 不是我们的问题), unless the phrase itself starts with one.
    # An A-not-A question (发不发烧) still holds its phrase (发烧).
    if parts and text[0] not in _ZH_TIGHT:
        tight = "".join(sorted(_ZH_TIGHT))
        first = re.escape(text[0])
        parts[0] = f"(?:(?<![{tight}])|(?<={first}[{tight}]))" + parts[0]
    # Every match starts with the literal: the matcher looks for the pattern only where it
    # occurs.
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
            for form in _none_forms(source, self.locale):
                phrase = self._phrases.get(form)
                if phrase is None:
                    phrase = self._phrases[form] = compile_phrase(form, self.locale)
                if form != source:
                    self.origins.setdefault(form, self.origins.get(source, source))
                out.append(phrase)
        return tuple(dict.fromkeys(out))

    def compile(
        self, any: Sequence[str], all: Sequence[Sequence[str]], none: Sequence[str]
    ) -> Matcher:
        any_ = self.phrases(any)
        all_ = tuple(self.phrases(group) for group in all)
        none_ = self.phrases(none)
        positives = any_ + tuple(p for group in all_ for p in group)
        return Matcher(
            any_,
            all_,
            none_,
            positives,
            _literals(any_),
            tuple(_literals(group) for group in all_),
            _literals(none_),
        )


#: A phrase that says there is none of something, and the other ways each language says
#: it: 一点风险都没有, 没有任何副作用, 什么副作用都没有, 副作用为零 are 没有风险 and
#: 没有副作用 (X of two to four characters); "you won't get any bruising" and "there won't
#: be any side effects" are "no bruising" and "no side effects". Per locale: the phrase's
#: form, the words X may not start with (没有任何…, "no one", "no way"), the other forms.
_NONE_FORMS: dict[str, tuple[re.Pattern[str], tuple[str, ...], tuple[str, ...]]] = {
    "zh-CN": (
        re.compile(r"没有([\u4e00-\u9fff]{2,4})"),
        ("任", "什", "一"),
        ("一点{}都没有", "一点儿{}都没有", "一点{}也没有", "没有任何{}", "什么{}都没有", "{}为零"),
    ),
    "en": (
        re.compile(r"no ([a-z]+(?: [a-z]+)?\*?)"),
        ("one", "body", "way", "more", "need"),
        ("not get any {}", "not have any {}", "not be any {}"),
    ),
}


def _none_forms(source: str, locale: str) -> tuple[str, ...]:
    """A phrase and, when it says there is none of X, its other forms (`_NONE_FORMS`)."""
    pattern, not_after, forms = _NONE_FORMS["en" if locale == "en" else "zh-CN"]
    found = pattern.fullmatch(source.strip().lower() if locale == "en" else source)
    if found is None:
        return (source,)
    x = found.group(1)
    first = x.split()[0] if locale == "en" else x[0]
    if first in not_after:
        return (source,)
    return (source, *(form.format(x) for form in forms))


#: What `...` stands for in an English phrase: up to three words of the same clause.
_EN_GAP = r'(?: (?!(?:but|-|not|no|never)(?: |$))[^\s.,;:!?"]+){0,3} '


def _gapped_en(source: str, text: str) -> Phrase:
    """An English phrase with `...` between its words ("stop ... warfarin")."""
    parts = [part.strip() for part in text.split("...")]
    if any(not part for part in parts):
        raise PhraseError(f"'...' must stand between two words of a phrase: {source!r}")
    compiled = [Phrase.compile(lemma_phrase(part), "en") for part in parts]
    patterns = [c.pattern.pattern for c in compiled if c.pattern is not None]
    lemma_text = " ... ".join(c.text for c in compiled)
    return Phrase(source, lemma_text, "en", compiled[0].literal, re.compile(_EN_GAP.join(patterns)))


def check_phrase(source: str, locale: str) -> str:
    """A plain v2 phrase normalised; `PhraseError` if the format does not allow it.

    v1's rules (`Phrase.check`), and a `...` gap stands between two words: a phrase may not
    begin or end with one (`…` reads as `...`; in English two gaps in a row are an error
    too, while Chinese writes its ellipsis ……, one gap).
    """
    text = Phrase.check(source, locale)
    if "..." in text:
        parts = text.split("...") if locale == "en" else re.split(r"(?:\.\.\.)+", text)
        if any(not part.strip() for part in parts):
            raise PhraseError(f"'...' must stand between two words of a phrase: {source!r}")
    return text


def compile_phrase(source: str, locale: str) -> Phrase:
    """One plain v2 phrase, compiled to match a `Reading` (`PhraseError` if not allowed)."""
    text = check_phrase(source, locale)
    if locale == "en" and "..." in text:
        return _gapped_en(source, text)
    if locale == "en":
        compiled = Phrase.compile(lemma_phrase(text), "en")
        return Phrase(source, compiled.text, locale, compiled.literal, compiled.pattern)
    text = simplified_phrase(text)
    literal, pattern = zh_pattern(text)
    return Phrase(source, text, locale, literal, pattern)
