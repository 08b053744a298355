"""Matchers, section 3 of the format: normalisation, phrases, any/all/not and negation."""

from __future__ import annotations

import random
import sys
import unicodedata
from typing import Any

import pytest
from pydantic import ValidationError

from sandbox.scenarios.models import MatcherSpec
from sandbox.text import matcher as matcher_module
from sandbox.text.matcher import (
    NEGATIONS_EN,
    Matcher,
    Phrase,
    PhraseError,
    Text,
    normalize,
)

# --- factories ---------------------------------------------------------------------------


def matcher(locale: str, spec: list[str] | dict[str, Any]) -> Matcher:
    """A matcher as a pack writes it: a bare list of phrases, or a mapping of any/all/not."""
    mapping = {"any": spec} if isinstance(spec, list) else spec
    return MatcherSpec.model_validate(mapping).compile(locale)


def says(locale: str, spec: list[str] | dict[str, Any], message: str, negation: bool) -> bool:
    return matcher(locale, spec).matches(Text(message, locale), negation=negation)


def case(
    id: str,
    locale: str,
    spec: list[str] | dict[str, Any],
    message: str,
    negation: bool,
    expected: bool,
) -> Any:
    return pytest.param(locale, spec, message, negation, expected, id=id)


# Shorthands for the negation column: NEG is a disclosure/contraindication/forbidden
# criterion, PLAIN any other use of a matcher (reactions, facts, inquiry...).
NEG, PLAIN = True, False

# The matcher of section 3's "negation word inside the matcher's own phrase" examples.
DECONGESTANT_WARNING = {
    "all": [["decongestant*"], ["blood pressure"], ["not suitable", "don't take", "raise*"]]
}

CASES = [
    # -- en: whole words --
    case("en-word-whole", "en", ["cost"], "What does it cost?", PLAIN, True),
    case("en-word-costume", "en", ["cost"], "Is this a costume shop?", PLAIN, False),
    case("en-word-costly", "en", ["cost"], "It is costly.", PLAIN, False),
    case("en-word-end-of-other-word", "en", ["pin"], "aspirin please", PLAIN, False),
    case("en-word-plural-is-another-word", "en", ["doctor"], "both doctors agree", PLAIN, False),
    case("en-word-multi", "en", ["how much"], "So how much is it?", PLAIN, True),
    # -- en: `*` continuation --
    case("en-star-allergy", "en", ["allerg*"], "Any allergy?", PLAIN, True),
    case("en-star-allergic", "en", ["allerg*"], "I'm allergic to nuts", PLAIN, True),
    case("en-star-allergies", "en", ["allerg*"], "Allergies: none known", PLAIN, True),
    case("en-star-no-continuation", "en", ["raise*"], "it can raise blood pressure", PLAIN, True),
    case("en-star-raised", "en", ["raise*"], "it raised my blood pressure", PLAIN, True),
    case("en-star-word-start-only", "en", ["allerg*"], "a hypoallergenic cream", PLAIN, False),
    case("en-star-last-word", "en", ["side effect*"], "any side effects?", PLAIN, True),
    case("en-star-not-across-words", "en", ["side effect*"], "side eff ect", PLAIN, False),
    # -- normalisation: NFKC, case, quotes, dashes, white space --
    case("en-nfkc-fullwidth-letters", "en", ["price"], "ＰＲＩＣＥ？", PLAIN, True),
    case("en-nfkc-fullwidth-phrase", "en", ["ＡＢＣ"], "abc tablets", PLAIN, True),
    case("en-nfkc-fullwidth-question", "en", ["side effects?"], "any side effects？", PLAIN, True),
    case(
        "en-nfkc-fullwidth-comma-not-skipped",
        "en",
        ["no side effects"],
        "no，side effects are rare",
        PLAIN,
        False,
    ),
    case(
        "en-nfkc-fullwidth-bang-ends-clause",
        "en",
        ["swelling"],
        "No！Swelling is possible",
        NEG,
        True,
    ),
    case("en-case-message", "en", ["price"], "WHAT IS THE PRICE", PLAIN, True),
    case("en-case-phrase", "en", ["Price"], "the price", PLAIN, True),
    case(
        "en-quote-apostrophe-message", "en", ["don't take"], "Don’t take it with food", PLAIN, True
    ),
    case("en-quote-apostrophe-phrase", "en", ["don’t take"], "don't take it", PLAIN, True),
    case("en-quote-double", "en", ['"strongest"'], "the “strongest” one", PLAIN, True),
    case("en-dash-en", "en", ["over-the-counter"], "an over–the–counter medicine", PLAIN, True),
    case("en-dash-em", "en", ["follow-up"], "a follow—up call", PLAIN, True),
    case("en-dash-minus", "en", ["2-3 days"], "wait 2−3 days", PLAIN, True),
    case("en-dash-is-not-space", "en", ["over-the-counter"], "over the counter", PLAIN, False),
    case("en-space-runs-message", "en", ["side effects"], "side \t\n  effects", PLAIN, True),
    case("en-space-runs-phrase", "en", ["side    effects"], "side effects", PLAIN, True),
    # -- apostrophes and possessives --
    case("en-possessive", "en", ["doctor"], "ask for your doctor's advice", PLAIN, True),
    case("en-possessive-typographic", "en", ["doctor"], "your doctor’s advice", PLAIN, True),
    case("en-apostrophe-word-wont", "en", ["won"], "it won't hurt", PLAIN, False),
    case("en-apostrophe-word-cant", "en", ["can"], "I can't say", PLAIN, False),
    case("en-apostrophe-plain-won", "en", ["won"], "we won", PLAIN, True),
    # -- punctuation is not skipped --
    case(
        "en-punct-not-skipped", "en", ["no side effects"], "No, side effects are rare", PLAIN, False
    ),
    case(
        "en-punct-not-skipped-neg",
        "en",
        ["no side effects"],
        "No, side effects are rare",
        NEG,
        False,
    ),
    # -- any / all / not --
    case("en-any-one", "en", {"any": ["price", "how much"]}, "how much is it", PLAIN, True),
    case("en-any-none", "en", {"any": ["price", "how much"]}, "when do you open", PLAIN, False),
    case(
        "en-all-every-group",
        "en",
        {"all": [["blood pressure", "hypertension"], ["raise*", "increase*"]]},
        "it may increase your blood pressure",
        PLAIN,
        True,
    ),
    case(
        "en-all-group-missing",
        "en",
        {"all": [["blood pressure", "hypertension"], ["raise*", "increase*"]]},
        "it may increase your heart rate",
        PLAIN,
        False,
    ),
    case(
        "en-any-and-all-both-hold",
        "en",
        {"any": ["tablet*"], "all": [["blood pressure"]]},
        "the tablets and your blood pressure",
        PLAIN,
        True,
    ),
    case(
        "en-any-and-all-any-missing",
        "en",
        {"any": ["tablet*"], "all": [["blood pressure"]]},
        "your blood pressure is fine",
        PLAIN,
        False,
    ),
    case(
        "en-not-blocks",
        "en",
        {"any": ["refund"], "not": ["no refund"]},
        "no refund, sorry",
        PLAIN,
        False,
    ),
    case(
        "en-not-absent",
        "en",
        {"any": ["refund"], "not": ["no refund"]},
        "you will get a refund",
        PLAIN,
        True,
    ),
    case(
        "en-not-never-negated",
        "en",
        {"any": ["refund"], "not": ["fee"]},
        "a refund with no fee",
        NEG,
        False,
    ),
    # -- negation: clauses --
    case("en-neg-plain-kind-ignores", "en", ["swelling"], "no swelling", PLAIN, True),
    case("en-neg-direct", "en", ["swelling"], "no swelling", NEG, False),
    case("en-neg-no-boundary", "en", ["swelling"], "nothing serious and swelling", NEG, False),
    case("en-clause-period", "en", ["swelling"], "No. Swelling can happen", NEG, True),
    case("en-clause-comma", "en", ["swelling"], "no, it may cause some swelling", NEG, True),
    case("en-clause-semicolon", "en", ["swelling"], "not serious; swelling can happen", NEG, True),
    case("en-clause-colon", "en", ["swelling"], "nothing serious: swelling", NEG, True),
    case("en-clause-bang", "en", ["swelling"], "No! swelling is possible", NEG, True),
    case("en-clause-question", "en", ["swelling"], "None? swelling is common", NEG, True),
    case("en-clause-but", "en", ["swelling"], "nothing serious but swelling can happen", NEG, True),
    # -- negation: the 3-word window --
    case("en-window-3", "en", ["swelling"], "never really causes swelling", NEG, False),
    case("en-window-4", "en", ["swelling"], "never really ever causes swelling", NEG, True),
    case("en-neg-word-exact", "en", ["swelling"], "nobody likes swelling", NEG, True),
    case(
        "en-neg-typographic-apostrophe", "en", ["swelling"], "it won’t cause swelling", NEG, False
    ),
    case("en-neg-cannot", "en", ["swelling"], "it cannot cause swelling", NEG, False),
    case(
        "en-neg-one-occurrence-free",
        "en",
        ["swelling"],
        "no swelling today, swelling later",
        NEG,
        True,
    ),
    # -- negation: comparisons --
    case("en-cmp-no-more-than", "en", ["two tablets"], "no more than two tablets", NEG, True),
    case("en-cmp-not-less-than", "en", ["two tablets"], "not less than two tablets", NEG, True),
    case("en-cmp-no-later-than", "en", ["8 pm"], "take it no later than 8 pm", NEG, True),
    case("en-cmp-not-longer-than", "en", ["a week"], "not longer than a week", NEG, True),
    case("en-cmp-no-longer-than", "en", ["a week"], "no longer than a week", NEG, True),
    case("en-cmp-grams", "en", ["4 g"], "no more than 4 g a day", NEG, True),
    case("en-cmp-plain-not", "en", ["two tablets"], "not two tablets", NEG, False),
    case(
        "en-cmp-never-is-negation", "en", ["two tablets"], "never more than two tablets", NEG, False
    ),
    case("en-cmp-needs-than", "en", ["two tablets"], "no more two tablets", NEG, False),
    # -- negation word inside the matcher's own phrases --
    case(
        "en-own-dont-take",
        "en",
        DECONGESTANT_WARNING,
        "don't take decongestants, they raise blood pressure",
        NEG,
        True,
    ),
    case(
        "en-own-not-suitable",
        "en",
        DECONGESTANT_WARNING,
        "decongestants are not suitable with high blood pressure",
        NEG,
        True,
    ),
    case(
        "en-own-phrase-shields",
        "en",
        {"all": [["not suitable"], ["pregnan*"]]},
        "not suitable in pregnancy",
        NEG,
        True,
    ),
    case(
        "en-own-phrase-control",
        "en",
        {"any": ["pregnan*"]},
        "not suitable in pregnancy",
        NEG,
        False,
    ),
    # -- all: each group needs a non-negated occurrence --
    case(
        "en-all-neg-both-free",
        "en",
        {"all": [["swelling"], ["redness"]]},
        "swelling and redness",
        NEG,
        True,
    ),
    case(
        "en-all-neg-one-negated",
        "en",
        {"all": [["swelling"], ["redness"]]},
        "no swelling, but redness",
        NEG,
        False,
    ),
    case(
        "en-all-neg-one-free-occurrence",
        "en",
        {"all": [["swelling"], ["redness"]]},
        "swelling is likely, no swelling later, and redness",
        NEG,
        True,
    ),
    case(
        "en-all-plain-ignores-negation",
        "en",
        {"all": [["swelling"], ["redness"]]},
        "no swelling, but redness",
        PLAIN,
        True,
    ),
    # -- section 3's closing examples --
    case("en-ex-wont-swelling", "en", ["swelling"], "it won't cause any swelling", NEG, False),
    case(
        "en-ex-no-side-effects", "en", ["no side effects"], "there are no side effects", NEG, True
    ),
    case(
        "en-ex-cant-guarantee", "en", ["guarantee result*"], "I can't guarantee results", NEG, False
    ),
    case(
        "en-ex-cant-guarantee-plain",
        "en",
        ["guarantee result*"],
        "I can't guarantee results",
        PLAIN,
        True,
    ),
    case("en-ex-guarantee", "en", ["guarantee result*"], "I guarantee results", NEG, True),
    case("en-ex-dont-take", "en", ["pseudoephedrine"], "don't take pseudoephedrine", NEG, False),
    case(
        "en-ex-no-comma-swelling", "en", ["swelling"], "no, it may cause some swelling", NEG, True
    ),
    # -- zh-CN: substrings --
    case("zh-substring", "zh-CN", ["副作用"], "有副作用吗", PLAIN, True),
    case("zh-substring-inside-word", "zh-CN", ["肿"], "有点红肿", PLAIN, True),
    case("zh-substring-absent", "zh-CN", ["副作用"], "价格是多少", PLAIN, False),
    case("zh-star-literal", "zh-CN", ["副作用*"], "副作用大吗", PLAIN, False),
    case("zh-star-literal-present", "zh-CN", ["5*"], "打5*折", PLAIN, True),
    case("zh-nfkc-fullwidth-letters", "zh-CN", ["abc"], "ＡＢＣ产品", PLAIN, True),
    case("zh-nfkc-fullwidth-bang-message", "zh-CN", ["好的!"], "好的！", PLAIN, True),
    case("zh-nfkc-fullwidth-bang-phrase", "zh-CN", ["好的！"], "好的!", PLAIN, True),
    case("zh-nfkc-fullwidth-comma", "zh-CN", ["可以，"], "可以,谢谢", PLAIN, True),
    case("zh-case", "zh-CN", ["spf"], "SPF50的防晒", PLAIN, True),
    case("zh-space-runs", "zh-CN", ["玻尿酸 注射"], "玻尿酸 \t 注射", PLAIN, True),
    case(
        "zh-any-all", "zh-CN", {"any": ["价格"], "all": [["多少", "几"]]}, "价格是多少", PLAIN, True
    ),
    case(
        "zh-not-blocks", "zh-CN", {"any": ["退款"], "not": ["不退款"]}, "我们不退款", PLAIN, False
    ),
    case("zh-not-absent", "zh-CN", {"any": ["退款"], "not": ["不退款"]}, "可以退款", PLAIN, True),
    # -- zh-CN: negation with jieba words --
    case("zh-neg-plain-kind-ignores", "zh-CN", ["肿胀"], "不会引起肿胀", PLAIN, True),
    case("zh-ex-buhui-zhongzhang", "zh-CN", ["肿胀"], "不会引起肿胀", NEG, False),
    case("zh-ex-buneng-baozheng", "zh-CN", ["保证效果"], "不能保证效果", NEG, False),
    case("zh-ex-buneng-baozheng-plain", "zh-CN", ["保证效果"], "不能保证效果", PLAIN, True),
    case("zh-baozheng", "zh-CN", ["保证效果"], "我们保证效果", NEG, True),
    case("zh-inside-word-wu", "zh-CN", ["副作用"], "无副作用", NEG, False),
    case("zh-inside-word-wu-later", "zh-CN", ["副作用"], "几乎无副作用", NEG, False),
    case("zh-you-fuzuoyong", "zh-CN", ["副作用"], "有副作用", NEG, True),
    case("zh-meiyou", "zh-CN", ["副作用"], "没有副作用", NEG, False),
    case("zh-meishenme", "zh-CN", ["副作用"], "没什么副作用", NEG, False),
    case("zh-congwei", "zh-CN", ["副作用"], "从未出现过副作用", NEG, False),
    case("zh-word-exact-buguo", "zh-CN", ["肿胀"], "不过会肿胀", NEG, True),
    case("zh-bu-not-comparison", "zh-CN", ["过敏"], "不过敏", NEG, False),
    case("zh-window-3", "zh-CN", ["肿胀"], "不会引起任何肿胀", NEG, False),
    case("zh-window-4", "zh-CN", ["肿胀"], "不会引起明显的肿胀", NEG, True),
    # -- zh-CN: clauses --
    case("zh-clause-none", "zh-CN", ["肿胀"], "没有疼痛和肿胀", NEG, False),
    case("zh-clause-juhao", "zh-CN", ["肿胀"], "没有疼痛。肿胀", NEG, True),
    case("zh-clause-dunhao", "zh-CN", ["肿胀"], "没有疼痛、肿胀", NEG, True),
    case("zh-clause-fullwidth-comma", "zh-CN", ["肿胀"], "不，会有一点肿胀", NEG, True),
    case("zh-clause-fullwidth-semicolon", "zh-CN", ["肿胀"], "没有疼痛；肿胀", NEG, True),
    case("zh-clause-fullwidth-colon", "zh-CN", ["肿胀"], "没有疼痛：肿胀", NEG, True),
    case("zh-clause-fullwidth-bang", "zh-CN", ["肿胀"], "没有疼痛！肿胀", NEG, True),
    case("zh-clause-fullwidth-question", "zh-CN", ["肿胀"], "没有疼痛？肿胀", NEG, True),
    case("zh-clause-ascii-comma", "zh-CN", ["肿胀"], "不要担心,术后会有肿胀", NEG, True),
    case("zh-clause-dan", "zh-CN", ["肿胀"], "没有疼痛但肿胀", NEG, True),
    case("zh-clause-danshi", "zh-CN", ["肿胀"], "没有疼痛但是肿胀", NEG, True),
    # jieba glues 但 to the next word here (没/问题/但会/肿胀): it still ends the clause.
    case("zh-clause-dan-glued", "zh-CN", ["肿胀"], "没问题但会肿胀", NEG, True),
    case("zh-clause-danyuan-not-but", "zh-CN", ["肿胀"], "但愿不会肿胀", NEG, False),
    # -- zh-CN: comparisons --
    case("zh-cmp-buchaoguo", "zh-CN", ["两次"], "每天不超过两次", NEG, True),
    case("zh-cmp-buduoyu", "zh-CN", ["三片"], "剂量不多于三片", NEG, True),
    case("zh-cmp-bushaoyu", "zh-CN", ["八小时"], "每天不少于八小时", NEG, True),
    case("zh-cmp-budiyu", "zh-CN", ["十度"], "温度不低于十度", NEG, True),
    case("zh-cmp-bugaoyu", "zh-CN", ["五毫克"], "剂量不高于五毫克", NEG, True),
    case("zh-cmp-budayu", "zh-CN", ["十岁"], "年龄不大于十岁", NEG, True),
    case("zh-cmp-buxiaoyu", "zh-CN", ["三岁"], "年龄不小于三岁", NEG, True),
    case("zh-cmp-budechaoguo", "zh-CN", ["一周"], "疗程不得超过一周", NEG, True),
    case("zh-cmp-control-bushi", "zh-CN", ["两次"], "这个不是两次", NEG, False),
    # -- zh-CN: own phrases and all groups --
    case(
        "zh-own-phrase-shields", "zh-CN", {"all": [["不适合"], ["孕妇"]]}, "不适合孕妇", NEG, True
    ),
    case("zh-own-phrase-control", "zh-CN", {"any": ["孕妇"]}, "不适合孕妇", NEG, False),
    case(
        "zh-all-one-negated",
        "zh-CN",
        {"all": [["红肿"], ["痒"]]},
        "敷完不会红肿，但会有点痒",
        NEG,
        False,
    ),
    case(
        "zh-all-plain",
        "zh-CN",
        {"all": [["红肿"], ["痒"]]},
        "敷完不会红肿，但会有点痒",
        PLAIN,
        True,
    ),
    case("zh-all-both-free", "zh-CN", {"all": [["红肿"], ["痒"]]}, "可能会红肿，也会痒", NEG, True),
]


def test_the_table_is_large_and_covers_both_languages() -> None:
    locales = [c.values[0] for c in CASES]
    assert len(CASES) >= 70
    assert locales.count("en") >= 30 and locales.count("zh-CN") >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("locale", "spec", "message", "negation", "expected"), CASES)
def test_matcher_table(
    locale: str, spec: list[str] | dict[str, Any], message: str, negation: bool, expected: bool
) -> None:
    assert says(locale, spec, message, negation) is expected


# --- phrases that the format does not allow -----------------------------------------------


@pytest.mark.parametrize(
    "phrase", ["*cost", "co*st", "allerg* reaction", "*", "**", "cost *", "cost-*", "   "]
)
def test_misplaced_star_or_empty_phrase_is_rejected_in_en(phrase: str) -> None:
    with pytest.raises(PhraseError):
        Phrase.compile(phrase, "en")


def test_misplaced_star_is_rejected_when_a_matcher_compiles() -> None:
    with pytest.raises(PhraseError):
        matcher("en", {"any": ["price"], "all": [["co*st"]]})


@pytest.mark.parametrize("phrase", ["*", "副*作用", "*副作用"])
def test_star_is_an_ordinary_character_in_zh(phrase: str) -> None:
    compiled = Phrase.compile(phrase, "zh-CN")
    assert Text(f"看{phrase}看", "zh-CN").contains(compiled)


def test_not_alone_is_invalid_at_the_model_level() -> None:
    with pytest.raises(ValidationError, match="needs 'any' or 'all'"):
        MatcherSpec.model_validate({"not": ["refund"]})


def test_a_compiled_matcher_of_not_alone_matches_nothing() -> None:
    compiled = Matcher.compile("en", none=["refund"])
    assert not compiled.matches(Text("hello", "en"))
    assert not compiled.matches(Text("hello", "en"), negation=True)


def test_a_bare_list_and_any_are_the_same_matcher() -> None:
    results = []
    for text in ("How much is the cost?", "a customer", "costly"):
        message = Text(text, "en")
        bare = matcher("en", ["price", "how much", "cost*"]).matches(message)
        mapping = matcher("en", {"any": ["price", "how much", "cost*"]}).matches(message)
        assert bare == mapping
        results.append(bare)
    assert results == [True, False, True]


def test_every_overlapping_occurrence_is_found() -> None:
    text = Text("no no side effects", "en")
    assert text.occurrences(Phrase.compile("no", "en")) == ((0, 2), (3, 5))
    assert len(Text("副作用副作用", "zh-CN").occurrences(Phrase.compile("副作用", "zh-CN"))) == 2


PHRASES_EN = [
    "no",
    "not",
    "take",
    "take any",
    "medic*",
    "doctor",
    "a day",
    "100% safe",
    "don't take",
    "can't",
    "e.g.",
    "#1",
    "'s",
    "it's",
    "no-one",
    "x",
    "side effect*",
    "o'clock",
    "5 mg",
]
WORDS_EN = [
    "no",
    "not",
    "take",
    "any",
    "mistake",
    "taken",
    "medic",
    "medication",
    "medics'",
    "doctor",
    "doctor's",
    "doctors",
    "a",
    "day",
    "days",
    "100%",
    "safe",
    "don't",
    "can't",
    "cannot",
    "e.g.",
    "#1",
    "#12",
    "'s",
    "it's",
    "its",
    "no-one",
    "x",
    "xx",
    "side",
    "effects",
    "o'clock",
    "5",
    "mg",
    "_",
    "'",
    ",",
    ".",
    "-",
    "é",
    "noé",
]


def search_from_each_start(text: str, phrase: Phrase) -> tuple[tuple[int, int], ...]:
    """Every occurrence by searching again one character after each start found."""
    assert phrase.pattern is not None
    spans, pos = [], 0
    while (found := phrase.pattern.search(text, pos)) is not None:
        spans.append(found.span())
        pos = found.start() + 1
    return tuple(spans)


def test_occurrences_found_from_the_literal_are_every_start_the_pattern_matches() -> None:
    # `occurrences` tries an English phrase's pattern only where `str.find` sees its literal.
    rng = random.Random(7)
    phrases = [Phrase.compile(p, "en") for p in PHRASES_EN]
    found = 0
    for _ in range(3_000):
        raw = rng.choice(["", " ", "  "]).join(
            rng.choice(WORDS_EN) for _ in range(rng.randint(0, 9))
        )
        text = Text(raw, "en")
        for phrase in phrases:
            expected = search_from_each_start(text.text, phrase)
            assert text.occurrences(phrase) == expected, (raw, phrase.source)
            found += len(expected)
    assert found > 3_000


def test_every_english_negation_word_holds_a_key_of_the_probe() -> None:
    keys = matcher_module._EN_NEGATION_KEYS
    assert all(any(key in word for key in keys) for word in NEGATIONS_EN)
    rng = random.Random(11)
    words = [*NEGATIONS_EN, "know", "one", "phone", "nope", "anyone", "n't", "zeros", "x", ","]
    for _ in range(5_000):
        raw = " ".join(rng.choice(words) for _ in range(rng.randint(0, 5)))
        text = Text(raw, "en")
        probe = matcher_module._EN_NEGATION_PROBE.search(text.text) is not None
        assert text.may_negate() == probe, raw


# --- normalize ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("ＡＢＣ，！？；：", "abc,!?;:", id="fullwidth"),
        pytest.param("Don’t “Quote” ‘me’ ‚x‛", "don't \"quote\" 'me' 'x'", id="quotes"),
        pytest.param("a‐b‑c‒d–e—f−g", "a-b-c-d-e-f-g", id="dashes"),
        pytest.param("  side \t\n\u3000 effects  ", "side effects", id="whitespace"),
        pytest.param("ﬁne ①", "fine 1", id="nfkc-compatibility"),
        pytest.param("MiXeD Case", "mixed case", id="case"),
        pytest.param("不，会有一点肿胀。", "不,会有一点肿胀。", id="zh-punct"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def reference_normalize(text: str) -> str:
    """Normalisation as the format states it, step by step, without `normalize`'s shortcuts."""
    text = unicodedata.normalize("NFKC", text).lower().translate(matcher_module._PLAIN)
    return matcher_module._SPACE.sub(" ", text).strip()


def test_split_and_join_is_the_white_space_rule_over_all_of_unicode() -> None:
    # `normalize` collapses white space with str.split; the rule is the regex `\s+`.
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    by_regex = {ch for ch in spaces if matcher_module._SPACE.fullmatch(ch)}
    by_split = {ch for ch in spaces if ch.split() == []}
    assert by_regex == by_split
    assert {" ", "\t", "\n", "\u3000", "\x1c"} <= by_split


@pytest.mark.parametrize(
    "raw",
    [
        "Hello,   World!\t\n",
        "  ",
        "",
        "ALREADY plain",
        "x\x1cy\x1fz\x85w",
        "Don’t “Quote” ‘me’ ‚x‛ a‐b‑c‒d–e—f−g",
        "ﬁne ① ＡＢＣ，！？",
        "不，会有一点肿胀。",
        "İstanbul ΣΑΣ straße",
        "\u3000side\u2028effects\u00a0now\u200b",
        "‟„″′‛",
        "Ｎo，it won’t — really  ！",
        "\u212a\u2126 K Ω",
    ],
)
def test_normalize_equals_the_rule_step_by_step(raw: str) -> None:
    assert normalize(raw) == reference_normalize(raw)


def test_normalize_equals_the_rule_on_every_character() -> None:
    # Each character of the Basic Multilingual Plane alone, between words and doubled.
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    for ch in chars:
        for raw in (ch, f"A{ch}b c", f" {ch}{ch} Ü"):
            assert normalize(raw) == reference_normalize(raw), repr(raw)


def test_normalize_is_idempotent() -> None:
    raw = "Ｎo，it won’t — really  ！"
    assert normalize(normalize(raw)) == normalize(raw)


def test_english_words_are_placed_where_the_token_regex_finds_them() -> None:
    # `_en_words` takes the tokens from findall and places each with str.find.
    rng = random.Random(13)
    pieces = [
        "no",
        "no",
        "a",
        "but",
        "but's",
        "it's",
        "'",
        "''",
        "_",
        "__no",
        "x_y",
        "é",
        "ß",
        "１２",
        "3",
        ".",
        ",",
        ";",
        ":",
        "!",
        "?",
        "-",
        "#",
        " ",
        " ",
        "  ",
        "\u00a0",
        "ab'",
    ]
    for _ in range(5_000):
        raw = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        text = Text(raw, "en")
        expected = [
            (m.start(), m.end(), m.group(), m.group() in ".,;:!?" or m.group() == "but")
            for m in matcher_module._EN_TOKEN.finditer(text.text)
        ]
        got = [(w.start, w.end, w.text, w.clause_end) for w in text.words()]
        assert got == expected, raw
