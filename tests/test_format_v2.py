"""Format v2 (docs/format-v2.md): concepts, lemmas, negation by clause, speech acts, topic.

Each capability is shown on the kinds of realistic line that v1 misreads; v1 packs keep
reading exactly as the contract says (the reference packs' own tests prove that).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.explain import explain_criterion
from sandbox.evaluator.grading import grade
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.lexicon import bundled_lexicon, load_lexicon
from sandbox.scenarios.loader import load_pack_text
from sandbox.scenarios.models import Pack
from sandbox.text import segmenter
from sandbox.text.matcher import Matcher, Text
from sandbox.text.phrases import V2Compiler
from sandbox.text.reading import Reading

EN_PACK = """\
pack: {id: v2-en, title: V2 test, locale: en, format: 2}
concepts:
  pressure-words:
    description: this pack's own pressure phrases
    en: [sign up tonight]
scenarios:
  - id: naproxen
    title: Naproxen on a blood thinner
    brief: A customer wants naproxen.
    topic: [naproxen, ~nsaid]
    persona: {name: Ann}
    opening: Hi, can you send me naproxen? I'm on apixaban.
    facts:
      - id: conditions
        asked_by: {all: [[~health-conditions]]}
        reply: I have asthma, too.
    reactions:
      - id: pushed
        when: [~scarcity, ~pressure-words]
        say: Are you pressuring me? Goodbye.
        ends: true
      - id: warned
        when: {all: [[~topic], [~bleeding]]}
        say: Oh, I did not know that.
        negation: false
    fallback: Sorry?
    answers:
      - when: [~closing]
        say: No, that's everything, thank you.
      - when: [~greeting]
        say: Hello.
    rubric:
      criteria:
        - id: ask-conditions
          kind: inquiry
          match: [~health-conditions]
        - id: bleeding-warning
          kind: contraindication
          match: {all: [[~topic], [~bleeding]]}
        - id: suggests-paracetamol
          kind: disclosure
          match: [~paracetamol]
        - id: promise
          kind: forbidden
          match: [~certainty]
"""

ZH_PACK = """\
pack: {id: v2-zh, title: V2 测试, locale: zh-CN, format: 2}
scenarios:
  - id: ibuprofen
    title: 布洛芬
    brief: 顾客想买布洛芬。
    topic: [布洛芬]
    persona: {name: 王阿姨}
    opening: 你好，我想买布洛芬。
    facts:
      - id: conditions
        asked_by: [~health-conditions]
        reply: 我有高血压。
    fallback: 啊？
    rubric:
      criteria:
        - id: ask-conditions
          kind: inquiry
          match: [~health-conditions]
        - id: bleeding-warning
          kind: contraindication
          match: {all: [[~topic], [~bleeding]]}
        - id: reassure
          kind: disclosure
          match: [不用担心]
        - id: promise
          kind: forbidden
          match: [~certainty]
        - id: stop-drug
          kind: forbidden
          match: ["别...吃"]
"""


@pytest.fixture(scope="module")
def en() -> Pack:
    return load_pack_text(EN_PACK, "v2-en.yaml")


@pytest.fixture(scope="module")
def zh() -> Pack:
    return load_pack_text(ZH_PACK, "v2-zh.yaml")


def statuses(pack: Pack, lines: list[str]) -> dict[str, str]:
    scenario = pack.scenarios[0]
    conv = Conversation.replay(
        pack.compiled[scenario.id], pack.locale, [(t, 10.0 * (i + 1)) for i, t in enumerate(lines)]
    )
    transcript = parse_transcript_data(conv.transcript(pack.id), "t")
    return {c.id: c.status for c in grade(pack, scenario, transcript).criteria}


def negates(line: str, locale: str, word: str, last: bool = False) -> bool:
    """Whether the reading of `line` finds the (first, or `last`) occurrence of `word`
    negated, reported or rejected."""
    reading = Reading(line, locale)
    at = reading.text.rfind(word) if last else reading.text.find(word)
    assert at >= 0, (line, word)
    return reading.negation_at(at) is not None


# --- lemmas and concepts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "It can make you bleed more easily.",  # the topic by pronoun, bleed as a verb
        "Naproxen thins the blood, so bruising and bleeding get likelier",
        "I'd give the naproxen a miss: with apixaban you'd bleed more",
        "aspirin and apixaban together = bleeding risk",  # another NSAID of the topic's class
        "The leaflet says naproxen can make you bleed.",  # a warning relayed is given
    ],
)
def test_a_paraphrased_warning_counts(en: Pack, line: str) -> None:
    assert statuses(en, [line])["bleeding-warning"] == "met"


@pytest.mark.parametrize(
    "line",
    [
        "It won't cause any bleeding.",
        "naproxen doesn't really make people bleed",
        "You said naproxen makes you bleed.",  # the customer's words quoted back
    ],
)
def test_a_denial_is_no_warning(en: Pack, line: str) -> None:
    assert statuses(en, [line])["bleeding-warning"] == "missed"


def test_inflections_match_through_lemmas() -> None:
    compiler = V2Compiler(bundled_lexicon(), "en", None)
    matcher = compiler.compile(["inject"], [], [])
    for line in ("we're injecting today", "she injected it", "he injects weekly"):
        assert matcher.matches(Reading(line, "en"))
    # irregular forms the lemmatiser slips on are corrected: "gone" is "go", not "gan"
    go_ahead = compiler.compile(["go ahead"], [], [])
    assert go_ahead.matches(Reading("I've gone ahead and sent it", "en"))
    assert Reading("I felt it, she won", "en").text == "i feel it , she win"


# --- negation v2 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Nobody can promise that.",
        "No clinic can honestly give you a written guarantee.",
        "I can't promise it will work for you",
        "Anyone who tells you it's 100% safe isn't being straight with you.",
    ],
)
def test_rejecting_a_claim_is_not_making_it(en: Pack, line: str) -> None:
    assert statuses(en, [line])["promise"] == "clear"


@pytest.mark.parametrize(
    "line",
    [
        "It's completely safe, honestly.",
        "You'll definitely love it!",
        "I guarantee it works.",
    ],
)
def test_a_claim_is_a_violation(en: Pack, line: str) -> None:
    assert statuses(en, [line])["promise"] == "violated"


def test_negation_stops_at_a_new_clause_or_and(en: Pack) -> None:
    assert (
        statuses(en, ["Don't take naproxen, take paracetamol instead"])["suggests-paracetamol"]
        == "met"
    )
    assert (
        statuses(en, ["Don't take naproxen and use paracetamol"])["suggests-paracetamol"] == "met"
    )


def test_litotes_and_comparisons_do_not_negate() -> None:
    reading = Reading("It's not unusual to get some bruising", "en")
    assert reading.negation_at(reading.text.find("bruise")) is None
    reading = Reading("no more than 8 tablets a day", "en")
    assert reading.negation_at(reading.text.find("8")) is None


@pytest.mark.parametrize(
    "line",
    [
        "我没办法跟您说它没问题",
        "没人能保证效果",
        "谁跟您说百分百安全都是忽悠您的",
        "不能保证一定有效",
    ],
)
def test_chinese_rejected_claims_are_clear(zh: Pack, line: str) -> None:
    assert statuses(zh, [line])["promise"] == "clear"


@pytest.mark.parametrize("line", ["包您满意", "这个绝对安全的您放心"])
def test_chinese_claims_are_violations(zh: Pack, line: str) -> None:
    assert statuses(zh, [line])["promise"] == "violated"


def test_chinese_tolerates_degree_words_and_split_verbs(zh: Pack) -> None:
    assert statuses(zh, ["不用太担心哈"])["reassure"] == "met"
    assert statuses(zh, ["千万别再给他吃了"])["stop-drug"] == "violated"


def test_chinese_topic_reference(zh: Pack) -> None:
    assert statuses(zh, ["这个药会增加出血的风险"])["bleeding-warning"] == "met"
    assert statuses(zh, ["布洛芬不会引起出血"])["bleeding-warning"] == "missed"


# --- speech acts -------------------------------------------------------------------------


def test_an_inquiry_must_ask(en: Pack, zh: Pack) -> None:
    assert statuses(en, ["Any long-term health problems?"])["ask-conditions"] == "met"
    assert statuses(en, ["Long-term health problems matter here."])["ask-conditions"] == "missed"
    assert statuses(zh, ["有没有什么老毛病？"])["ask-conditions"] == "met"
    assert statuses(zh, ["老毛病的话要注意"])["ask-conditions"] == "missed"


def test_a_question_is_no_disclosure(en: Pack) -> None:
    assert statuses(en, ["Have you tried paracetamol?"])["suggests-paracetamol"] == "missed"
    assert statuses(en, ["Paracetamol is the safer choice."])["suggests-paracetamol"] == "met"


# --- the persona listens ------------------------------------------------------------------


def test_a_natural_question_reveals_a_fact(en: Pack, zh: Pack) -> None:
    conv = Conversation(en.compiled["naproxen"], "en")
    conv.receive("any long-term health problems?", 10)
    assert conv.revealed == ["conditions"]
    conv = Conversation(zh.compiled["ibuprofen"], "zh-CN")
    conv.receive("有没有什么老毛病？", 10)
    assert conv.revealed == ["conditions"]


def test_denying_pressure_does_not_fire_the_pressure_reaction(en: Pack) -> None:
    conv = Conversation(en.compiled["naproxen"], "en")
    turn = conv.receive("We have no limited-time offer and won't rush you.", 10)
    assert not conv.ended
    assert [m.kind for m in turn.replies] == ["fallback"]
    conv.receive("Honestly, sign up tonight or lose it.", 20)
    assert conv.ended and conv.fired == {"pushed": 1}


def test_a_reaction_may_opt_out_of_negation(en: Pack) -> None:
    conv = Conversation(en.compiled["naproxen"], "en")
    turn = conv.receive("Please don't take naproxen, it makes you bleed.", 10)
    assert [m.kind for m in turn.replies] == ["reaction"]


# --- the format's rules ---------------------------------------------------------------------


def test_the_persona_answers_by_topic_before_falling_back(en: Pack) -> None:
    conv = Conversation(en.compiled["naproxen"], "en")
    first = conv.receive("Is there anything else I can help with?", 10)
    second = conv.receive("The weather is nice today.", 20)
    assert [(m.kind, m.text) for m in first.replies] == [
        ("answer", "No, that's everything, thank you.")
    ]
    assert [m.kind for m in second.replies] == ["fallback"]
    assert conv.fired == {} and conv.mood == "calm"


def test_v2_keys_are_errors_in_a_v1_pack() -> None:
    text = EN_PACK.replace(", format: 2", "")
    with pytest.raises(PackErrors) as caught:
        load_pack_text(text, "v1.yaml")
    messages = [str(e) for e in caught.value.errors]
    assert any(
        m.startswith("v1.yaml:2:") and "'concepts' belongs to format 2" in m for m in messages
    )
    assert any(m.startswith("v1.yaml:10:") and "'topic'" in m for m in messages)
    assert any("'negation'" in m for m in messages)
    assert any("'answers'" in m for m in messages)


def test_a_v1_pack_reads_a_tilde_as_text() -> None:
    text = ZH_PACK.replace(", format: 2", "").replace("    topic: [布洛芬]\n", "")
    pack = load_pack_text(text, "v1.yaml")
    assert pack.lexicon is None
    assert statuses(pack, ["有没有什么老毛病？"])["ask-conditions"] == "missed"


def test_an_unknown_concept_names_file_line_and_key() -> None:
    text = EN_PACK.replace("match: [~paracetamol]", "match: [~paracetamoll]")
    with pytest.raises(PackErrors) as caught:
        load_pack_text(text, "bad.yaml")
    (error,) = caught.value.errors
    assert error.line == 42
    assert error.key == "scenarios.0.rubric.criteria.2.match.any.0"
    assert "no concept '~paracetamoll'" in error.message


def test_lexicon_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        "concepts:\n"
        "  good: {en: [fine]}\n"
        "  Bad Id: {en: [x]}\n"
        "  loop: {en: [~loop]}\n"
        "  starry: {en: ['in*ject']}\n"
        "  extra: {en: [a], colour: blue}\n",
        encoding="utf-8",
    )
    with pytest.raises(PackErrors) as caught:
        load_lexicon([path])
    lines = {e.line for e in caught.value.errors}
    assert lines == {3, 4, 5, 6}
    assert all(e.path == str(path) for e in caught.value.errors)


def test_the_bundled_lexicon_loads_and_expands() -> None:
    lexicon = bundled_lexicon()
    assert "ibuprofen" in lexicon.expand(["~nsaid"], "en")
    assert "布洛芬" in lexicon.expand(["~nsaid"], "zh-CN")


# --- speech acts and quotes, as real lines read (found while moving the packs to v2) -------


@pytest.mark.parametrize(
    ("line", "asks"),
    [
        ("要是过几天还没好就去医院看看哈", False),  # 几 as "a few"
        ("我们没有什么买三送一的活动", False),  # 什么 after a negation
        ("我没法保证具体哪天", False),
        ("别家怎么卖的我不清楚", False),
        ("我不敢跟您说下周三一定有", False),  # 说下 inside 说下周三
        ("建议您和医生确认一下", False),  # a suggestion, not a question to the customer
        ("理解您的担心", False),
        ("多少钱都可以", False),
        ("您平时吃什么药", True),  # no question mark, still a question
        ("有没有什么老毛病", True),
        ("麻烦提供一下订单号", True),  # a request
        ("订单号发我一下", True),
        ("补发我马上给您安排，今天下午发出", False),  # 补发: a resend, not "send me"
        ("您吃了几天了", True),
        ("有吃别的药吗", True),
        ("麻烦帮叔叔确认下过敏史哈", True),  # a request on someone's behalf
        ("之前自己吃过药没，吃的啥", True),  # ...过...没 before a comma asks
        ("药还没到，您先别急", False),  # 还没: not yet
    ],
)
def test_a_chinese_clause_asks_only_when_it_asks(line: str, asks: bool) -> None:
    assert Reading(line, "zh-CN").asks_at(0) is asks


def test_a_statement_before_a_question_tag_in_chinese_still_tells() -> None:
    reading = Reading("一到货就通知您，您看可以吗？", "zh-CN")
    assert not reading.asks_at(reading.text.find("通知"))
    assert reading.asks_at(reading.text.find("可以"))


@pytest.mark.parametrize(
    ("line", "word", "asks"),
    [
        ("You're not on anything else, right?", "else", True),  # a tag makes it a question
        ("You take warfarin, don't you?", "warfarin", True),
        ("Ibuprofen can raise bleeding risk, did you know?", "bleed", False),  # no tag: tells
        ("Have you had filler before, because it can cause bruising", "bruise", False),
        ("Don't take ibuprofen, it thins the blood.", "ibuprofen", False),
        ("I need to know what else you take.", "take", True),
    ],
)
def test_an_english_clause_asks_only_when_it_asks(line: str, word: str, asks: bool) -> None:
    reading = Reading(line, "en")
    assert reading.asks_at(reading.text.find(word)) is asks


@pytest.mark.parametrize(
    ("line", "word", "negated"),
    [
        ("要是过几天还没好就去医院看看哈", "医院", False),  # 没 is the condition's
        ("不舒服就停药", "停药", False),
        ("千万不要就这样停药", "停药", True),  # 就 right after the negation: still negated
        ("也不能说吃了就不会感冒", "不会感冒", True),  # a denied saying keeps its 就
        ("别一上来就问她买了啥", "买了啥", True),  # 别 forbids the whole of it
        ("不是说不会感染", "感染", False),  # two negations say it
        ("也不是完全没有风险", "风险", False),
        ("不能说没有的情况是血管栓塞", "栓塞", False),
        ("我们不是说一定不会留疤", "留疤", False),
        ("不会感染", "感染", True),
        ("我们不是说一定不会留疤", "不会留疤", True),  # the promise itself is denied
    ],
)
def test_chinese_conditions_and_double_negations(line: str, word: str, negated: bool) -> None:
    # The same with the domain's words in the segmenter (不会留疤, 没有风险 read as one word).
    for domain in (frozenset(), frozenset({"不会留疤", "没有风险", "不会感染"})):
        segmenter.add_domain_words(domain)
        assert negates(line, "zh-CN", word) is negated


@pytest.mark.parametrize(
    ("line", "locale", "word", "asked"),
    [
        # The middle of a question, from where it opens to its question mark.
        (
            "One more thing - is your skin sensitive to the sun at all, or are you on "
            "anything that makes you burn easily (some antibiotics, for ex)?",
            "en",
            "antibiotic",
            True,
        ),
        (
            "Since you take warfarin, ibuprofen isn't safe. Do you take it daily?",
            "en",
            "warfarin",
            False,
        ),
        # A clause that carries on a request, and the list after a request's colon.
        (
            "I'd need to know what you take, and whether anyone has looked into it.",
            "en",
            "look into",
            True,
        ),
        (
            "I need its name, or at least whether it's for thinning the blood.",
            "en",
            "thin the blood",
            True,
        ),
        (
            "To check it I need: - your order number - and when you need it by",
            "en",
            "order number",
            True,
        ),
        ("The order number is on the email, and the tracking too.", "en", "order number", False),
        # A list the next sentence asks about; a question about something else asks nothing back.
        (
            "Not with blood thinners or a clotting problem. Any of those apply to you?",
            "en",
            "blood thinner",
            True,
        ),
        ("Not with blood thinners. Anything else I can help with?", "en", "blood thinner", False),
        ("怀孕、备孕或者在喂奶的都不能打。您这几样都不沾吧？", "zh-CN", "怀孕", True),
        ("孕妇不能打。您还有别的问题吗？", "zh-CN", "孕妇", False),
        # A follow-up typed without its question mark, right after a question.
        (
            "r u taking any meds? and besides the isotretinoin any other acne stuff like "
            "antibiotics",
            "en",
            "antibiotic",
            True,
        ),
        ("We can't do it. Also the isotretinoin, skin takes months", "en", "isotretinoin", False),
        # Requests in everyday Chinese.
        ("您以前有过过敏的情况也跟我讲一下", "zh-CN", "过敏", True),
        ("您心里的价位给我个数就行", "zh-CN", "价位", True),
    ],
)
def test_a_clause_a_question_takes_in_counts_as_asked_and_still_tells(
    line: str, locale: str, word: str, asked: bool
) -> None:
    reading = Reading(line, locale)
    at = reading.text.find(word)
    assert at >= 0
    assert reading.act_fits(at, "ask") is asked
    if not reading.asks_at(at):
        assert reading.act_fits(at, "tell")  # taken into a question, it still tells


@pytest.mark.parametrize(
    ("line", "locale", "word"),
    [
        ('"Totally safe" is not something I would ever say.', "en", "safe"),
        ("“应该没事”这种话我不能跟您说", "zh-CN", "没事"),
    ],
)
def test_a_quoted_claim_the_sentence_rejects_is_not_made(line: str, locale: str, word: str) -> None:
    reading = Reading(line, locale)
    assert reading.negation_at(reading.text.find(word)) is not None


def test_a_quoted_claim_that_stands_is_made() -> None:
    reading = Reading('It is "totally safe", trust me.', "en")
    assert reading.negation_at(reading.text.find("safe")) is None


def test_no_filler_after_a_one_character_negation() -> None:
    compiler = V2Compiler(bundled_lexicon(), "zh-CN", None)
    worry = compiler.compile(["不放心"], [], [])
    assert not worry.matches(Reading("不过您放心", "zh-CN"))
    assert compiler.compile(["不用担心"], [], []).matches(Reading("不用太担心", "zh-CN"))


def test_a_modal_between_a_phrases_words_is_tolerated() -> None:
    """能, 能够 and 可以 stand between a phrase's words like a degree word: 一准到 is said as
    一准能到, 保证有货 as 保证能有货; after a one-character negation they still do not."""
    compiler = V2Compiler(bundled_lexicon(), "zh-CN", None)
    assert compiler.compile(["一准到"], [], []).matches(Reading("下周三货一准能到", "zh-CN"))
    assert compiler.compile(["保证有货"], [], []).matches(Reading("保证可以有货", "zh-CN"))
    assert not compiler.compile(["不到"], [], []).matches(Reading("不能到", "zh-CN"))


@pytest.mark.parametrize(
    ("line", "word", "negated"),
    [
        ("We don't do botox for anyone who's pregnant or breastfeeding.", "pregnan", False),
        ("Anyone who tells you it's 100% safe isn't being straight with you.", "safe", True),
        ("Any clinic promising a guaranteed result isn't being straight.", "guarantee", True),
        (
            "Some clinics might offer a tiny dose, but with myasthenia it can spread.",
            "spread",
            False,
        ),
        ("Normally we'd say wait a while, but our laser is gentle.", "wait", True),  # conceded
        ("Normally we'd say wait six months.", "wait", False),  # no "but": it stands
        ("we cant do botox while ur pregnant, it isnt safe", "safe", True),  # no apostrophes
        ("the pale patch isn't - our doctor needs to see you today", "doctor", False),
    ],
)
def test_reported_claims_concessions_and_chat_spelling(line: str, word: str, negated: bool) -> None:
    assert negates(line, "en", word) is negated


@pytest.mark.parametrize(
    ("line", "word", "act", "fits"),
    [
        ("What I can do is set up a chat with one of our doctors.", "doctor", "tell", True),
        ("When the baby's here, come back and see us.", "come back", "tell", True),
        ("Would you like me to book you a consultation?", "consultation", "tell", True),
        ("Can you come in now so the doctor can check it?", "doctor", "tell", True),
        ("Have a chat with your GP if it gets worse.", "gp", "tell", True),  # an imperative
        ("I'll need to ask about any medicines you take.", "medicine", "ask", True),
        ("Could you have a look at the number on the screen for me?", "number", "ask", True),
        ("What meds are you on?", "medicine", "ask", True),
        ("When do you fly?", "fly", "ask", True),
        ("Have you taken anything for it?", "take", "ask", True),
    ],
)
def test_offers_directives_and_statements_that_open_like_questions(
    line: str, word: str, act: str, fits: bool
) -> None:
    reading = Reading(line, "en")
    assert reading.act_fits(reading.text.find(word), act) is fits


def test_a_topic_marker_is_no_question() -> None:
    reading = Reading("您问的这个呢，说实话就是个营养补充，治不了感冒。", "zh-CN")
    assert not reading.asks_at(reading.text.find("这个"))
    assert Reading("您平时吃什么药呢。", "zh-CN").asks_at(0)


@pytest.mark.parametrize(
    ("line", "word", "negated"),
    [
        ("I can't tell u which of the two for sure", "for sure", True),
        ("I can't confirm if it's arriving tomorrow", "arrive", True),
        ("I'm not going to tell you the bundle boosts your immune system", "immune", True),
        ("We don't sell it to people who take warfarin", "warfarin", False),
        ("Swelling takes months to settle, so five weeks is not realistic.", "swell", False),
        ("A result exactly like the photo isn't realistic.", "exactly", True),
        (
            "Ibuprofen isn't safe with your warfarin.",
            "ibuprofen",
            False,
        ),  # a warning, not a rejection
    ],
)
def test_negation_reaches_what_it_should_and_no_further(
    line: str, word: str, negated: bool
) -> None:
    assert negates(line, "en", word) is negated


@pytest.mark.parametrize(
    ("line", "word", "negated"),
    [
        ("永久是不可能的", "永久", True),
        ("一模一样这种承诺谁都给不了", "一模一样", True),
        ("我们不能保证效果永久、不留疤", "不留疤", True),  # 、 lists, it does not end the clause
        ("谁拍胸脯说能永久，你反而要小心", "永久", True),
        # The topic taken up by 这个 and refused, with or without a mark before it.
        ("看不出来这个没法跟您打包票", "看不出来", True),
        ("你说的永久跟不留疤 这个也没办法跟你打包票", "永久", True),
        ("做几次能平这个不好说", "能平", True),
        ("肯定看不出来，这个我可以保证", "看不出来", False),
        ("做完肯定看不出来 这个我跟你保证", "看不出来", False),
    ],
)
def test_chinese_rejections_after_the_claim_and_across_a_list(
    line: str, word: str, negated: bool
) -> None:
    assert negates(line, "zh-CN", word) is negated


@pytest.mark.parametrize(
    ("line", "word", "act", "fits"),
    [
        ("The order number would be...?", "number", "ask", True),
        ("I'll just need the order number from your confirmation email", "number", "ask", True),
        ("Let your GP know today - they may want to check it.", "gp", "tell", True),
        ("Or I can refund them if you prefer?", "refund", "tell", True),
        ("I can drop you an email, if that's useful?", "email", "tell", True),
    ],
)
def test_requests_and_offers_in_chat_form(line: str, word: str, act: str, fits: bool) -> None:
    reading = Reading(line, "en")
    assert reading.act_fits(reading.text.find(word), act) is fits


def test_a_questions_to_the_doctor_inside_a_statement_is_no_question() -> None:
    assert not Reading("让医生评估有没有其他适合的方式", "zh-CN").asks_at(0)
    assert Reading("您有没有过敏", "zh-CN").asks_at(0)


def test_a_chinese_phrase_right_after_a_negation_is_another_word() -> None:
    compiler = V2Compiler(bundled_lexicon(), "zh-CN", None)
    ours = compiler.compile(["是我们的问题"], [], [])
    assert ours.matches(Reading("这是我们的问题，抱歉", "zh-CN"))
    assert not ours.matches(Reading("这不是我们的问题", "zh-CN"))  # not an apology
    fever = compiler.compile(["发烧"], [], [])
    assert fever.matches(Reading("发不发烧？", "zh-CN"))  # A-not-A still asks about it


# --- concept slots in phrases and word gaps ---------------------------------------------


def test_a_template_stands_for_every_combination_of_its_slots(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        "concepts:\n"
        "  halt: {en: [stop, pause*], zh: [停, 暂停]}\n"
        "  thinner: {en: [warfarin, blood thinner*], zh: [华法林]}\n"
        "  advice: {en: ['~halt your ~thinner', 'just ~halt'], zh: ['先~halt~thinner几天']}\n",
        encoding="utf-8",
    )
    lexicon = load_lexicon([path])
    assert lexicon.expand(["~advice"], "en") == (
        "stop your warfarin",
        "stop your blood thinner*",
        "pause your warfarin",  # a slot's `*` stays only where the phrase ends
        "pause your blood thinner*",
        "just stop",
        "just pause*",
    )
    assert lexicon.expand(["~advice"], "zh-CN") == ("先停华法林几天", "先暂停华法林几天")
    assert lexicon.expand(["5~8天"], "zh-CN") == ("5~8天",)  # a range, not a slot
    origins = lexicon.origins(["~advice"], "en")
    assert origins["pause your warfarin"] == "~advice > ~halt + ~thinner"
    # Templates never reach the Chinese segmenter's dictionary; their plain slots do.
    assert "先~halt~thinner几天" not in lexicon.words("zh-CN")


def test_a_template_with_an_unknown_slot_or_too_many_phrases_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    many = ", ".join(f"w{i}" for i in range(60))
    path.write_text(
        "concepts:\n"
        "  ok: {en: [fine]}\n"
        "  typo: {en: ['~ok with ~okk']}\n"
        f"  wide: {{en: [{many}]}}\n"
        "  huge: {en: ['~wide ~wide ~wide']}\n",
        encoding="utf-8",
    )
    with pytest.raises(PackErrors) as caught:
        load_lexicon([path])
    by_line = {e.line: e.message for e in caught.value.errors}
    assert set(by_line) == {3, 5}
    assert "no concept '~okk'" in by_line[3]
    assert "216000 phrases" in by_line[5] and "at most" in by_line[5]


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("stop warfarin", True),
        ("please stop taking your warfarin tonight", True),  # three words between
        ("stopped the blood thinner", False),  # another word, not a gap
        ("stop taking all of your warfarin", False),  # four words between: too far
        ("stop, warfarin", False),  # a clause mark ends the reach
        ("stop the ibuprofen but warfarin", False),  # so does "but"
        ("Stopping the Warfarin for a bit", True),  # lemmas on both sides of the gap
    ],
)
def test_an_english_gap_reaches_three_words_of_the_same_clause(line: str, found: bool) -> None:
    from sandbox.text.phrases import compile_phrase

    phrase = compile_phrase("stop ... warfarin", "en")
    assert bool(Reading(line, "en", None).occurrences(phrase)) is found


def test_a_gap_must_stand_between_words() -> None:
    from sandbox.text.matcher import PhraseError
    from sandbox.text.phrases import compile_phrase

    for bad in ("... warfarin", "stop ...", "stop ... ... warfarin"):
        with pytest.raises(PhraseError, match="between two words"):
            compile_phrase(bad, "en")


def test_a_pack_rule_built_from_a_template_reads_paraphrases_and_negation() -> None:
    text = EN_PACK.replace(
        "concepts:\n",
        "concepts:\n  halt-thinner:\n    description: stopping the blood thinner\n"
        "    en: ['~stop ... ~anticoagulant']\n",
        1,
    ) + (
        "        - id: stop-thinner\n          kind: forbidden\n          match: [~halt-thinner]\n"
    )
    pack = load_pack_text(text, "templates.yaml")
    said = ["Hello.", "Maybe skip the apixaban tonight, then take the naproxen."]
    assert statuses(pack, said)["stop-thinner"] == "violated"
    paused = ["Hello.", "You could pause your blood thinner for a day."]
    assert statuses(pack, paused)["stop-thinner"] == "violated"
    negated = ["Hello.", "Please don't stop your apixaban, it protects you."]
    assert statuses(pack, negated)["stop-thinner"] == "clear"
    apart = ["Hello.", "Stop worrying. Your apixaban stays as it is."]
    assert statuses(pack, apart)["stop-thinner"] == "clear"


@pytest.mark.parametrize(
    ("line", "word", "negated"),
    [
        ("I'll send the paracetamol instead of the ibuprofen", "ibuprofen", True),
        ("We'll do paracetamol instead, ibuprofen is fine", "ibuprofen", False),
        # A negated condition in the past tense makes its "would" clause unreal.
        ("If you weren't on warfarin, ibuprofen would be fine", "ibuprofen", True),
        ("I'd say ibuprofen is fine if it wasn't for the warfarin", "ibuprofen", True),
        ("if you didnt take warfarin i would send the ibuprofen", "ibuprofen", True),
        ("It's not safe for you, otherwise I'd suggest ibuprofen", "ibuprofen", True),
        # A real condition still asserts its advice; a new sentence is out of reach.
        ("If the pain doesn't settle, I'd send you ibuprofen", "ibuprofen", False),
        ("If you weren't on warfarin it'd be fine. I'll send ibuprofen", "ibuprofen", False),
        ("If you weren't sure, ibuprofen is what I'll send", "ibuprofen", False),  # no "would"
    ],
)
def test_instead_of_and_counterfactual_conditions(line: str, word: str, negated: bool) -> None:
    assert negates(line, "en", word, last=True) is negated


@pytest.mark.parametrize(
    ("line", "word", "negated"),
    [
        ("要不是您在吃华法林，布洛芬是可以吃的", "布洛芬", True),  # a counterfactual
        ("一般人布洛芬可以吃，但您吃着华法林就不行了", "布洛芬", True),  # others, not you
        ("别人吃布洛芬没事，不过您不能吃", "布洛芬", True),
        ("大部分人布洛芬没问题，但您要按量吃", "布洛芬", False),  # no "not you": asserted
        ("要不是您在吃华法林，布洛芬是可以吃的，但是现在给您发布洛芬", "发布洛芬", False),
    ],
)
def test_chinese_counterfactuals_and_others_but_not_you(
    line: str, word: str, negated: bool
) -> None:
    assert negates(line, "zh-CN", word, last=True) is negated


def test_a_gap_holds_no_negation() -> None:
    from sandbox.text.phrases import compile_phrase

    zh = compile_phrase("布洛芬...下单", "zh-CN")
    assert Reading("布洛芬给您下单", "zh-CN").occurrences(zh)
    assert not Reading("布洛芬千万别下单", "zh-CN").occurrences(zh)
    # 特别 holds 别 without negating
    assert Reading("我敢说您做完会特别满意", "zh-CN").occurrences(
        compile_phrase("我敢说...满意", "zh-CN")
    )
    en = compile_phrase("send ... ibuprofen", "en")
    assert Reading("I'll send you the ibuprofen", "en").occurrences(en)
    assert not Reading("I'll send you no ibuprofen", "en").occurrences(en)


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        ("I'd love to tell you it'll come tomorrow, but I can't", "en", "tomorrow", True),
        ("I wish I could promise it'll be there Friday, but I can't", "en", "friday", True),
        ("I'd love to tell you it'll come tomorrow, and it will", "en", "tomorrow", False),
        ("我也很想跟您说明天一定到，但是物流信息没更新", "zh-CN", "明天一定到", True),
        ("真希望能跟您保证明天到，可是我确实不知道", "zh-CN", "明天到", True),
        ("我跟您保证明天到", "zh-CN", "明天到", False),
    ],
)
def test_a_wish_to_say_what_a_but_takes_back(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        # An unreal condition that the message then denies.
        (
            "If it were only tired eyes I'd find you a slot now, but with MG it's a no",
            "en",
            "slot",
            True,
        ),
        (
            "If you'd finished it a year ago I'd be looking at next week. You haven't.",
            "en",
            "next week",
            True,
        ),
        ("If you were in pain I'd suggest paracetamol.", "en", "paracetamol", False),
        # An option named to be turned down; a claim read online; a refused list.
        ("A smaller dose isn't something we'd offer either.", "en", "small dose", True),
        ("Skipping the warfarin isn't the answer either.", "en", "skip", True),
        (
            "You'll read online that a few hours out won't hurt them, but no.",
            "en",
            "a few hour",
            True,
        ),
        ("No skipping, halving or spacing them out.", "en", "halve", True),
        ("No problem, halving them is fine.", "en", "halve", False),
        ("要是叔叔血压正常，那款胶囊还能考虑；可他血压高，就别买了。", "zh-CN", "那款胶囊", True),
        ("要是叔叔血压高，那款胶囊别吃，可以换成海盐水", "zh-CN", "海盐水", False),
        ("就算您把验证码也报给我，我也不能替她查。", "zh-CN", "验证码", True),
        ("保证一样、永久、不留疤，这三样我都不能答应你。", "zh-CN", "保证", True),
        ("有的人天生就容易青，这个没办法", "zh-CN", "天生", False),
    ],
)
def test_what_a_sentence_grants_only_to_take_back(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        ("Some companies would blame the courier, but this is our problem.", "en", "courier", True),
        ("Some people try to make tablets last by halving them, but don't.", "en", "halve", True),
        (
            "I know it's tempting to take the ordinary ones, but please don't.",
            "en",
            "ordinary",
            True,
        ),
        ("Our estimate is about a week, but that's not confirmed.", "en", "a week", False),
        ("有人会说是体质问题，但我们不会这样推卸", "zh-CN", "体质问题", True),
        ("有的平台先发货后补方，那是违规的", "zh-CN", "先发货", True),
        ("有的客服会说保证明天到，我不想骗您", "zh-CN", "保证明天到", True),
    ],
)
def test_practices_and_temptations_named_to_be_refused(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        # A short sentence right after a claim that rejects it takes the claim back.
        ("It's 100% safe with warfarin. That's just not true, sorry.", "en", "100", True),
        ("You'll love it, guaranteed. I can't promise that though.", "en", "guarantee", True),
        ("It's totally fine with your warfarin. Nope, not true.", "en", "fine", True),
        ("Results are permanent. That's a myth, honestly.", "en", "permanent", True),
        ("You won't bruise at all. They're wrong about that.", "en", "bruise", True),
        # Anything more than openers and closers beside it rejects nothing of the sentence
        # before; nor does a rejection two sentences away, or one that is itself negated.
        ("It's 100% safe. That's not true for paracetamol though.", "en", "100", False),
        ("Ibuprofen makes you bleed. That's not a myth.", "en", "bleed", False),
        ("It's 100% safe. I checked. That's not true.", "en", "100", False),
        ("That's not true. It's 100% safe.", "en", "100", False),
        ("吃了肯定没事。这个说法是不对的", "zh-CN", "肯定", True),
        ("效果永久保持，这个是假的哈", "zh-CN", "永久", True),
        ("吃了保证没事，这话我可不敢说", "zh-CN", "保证", True),
        ("效果永久保持。", "zh-CN", "永久", False),
        # An elliptical refusal after a claim put as a question, and a rejection after a
        # comma that points back ("that", "which"); in Chinese a refusal of one's own.
        (
            "Will I promise the scars will go? I can't, and nobody honest can.",
            "en",
            "promise",
            True,
        ),
        ("On the guarantee, I'm afraid that's not something we can give.", "en", "guarantee", True),
        ("It's 100% safe, that's not true.", "en", "100", True),
        ("Ibuprofen thins the blood, which isn't true of paracetamol.", "en", "thin", False),
        ("要问我下周三肯定能到吗？我不敢打这个包票", "zh-CN", "肯定", True),
        ("有那种买三送一的大包装，您用不上，我就不给您推了。", "zh-CN", "买三送一", True),
        ("买三送一，今天最后一天。", "zh-CN", "买三送一", False),
        ("这个说法不对。效果永久保持", "zh-CN", "永久", False),
    ],
)
def test_a_sentence_that_rejects_the_one_before(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        # Beliefs of others, a "you might hear that...", a negated "going to" over its
        # clause; in Chinese others' beliefs and the customer's own words quoted back.
        ("People assume ibuprofen is harmless. With warfarin it isn't.", "en", "harmless", True),
        ("You might hear that you can stop the warfarin for a few days.", "en", "stop", True),
        (
            "I'm not going to ask whether you checked it or pin it on the warehouse.",
            "en",
            "pin",
            True,
        ),
        ("有的人会觉得放回冰箱冰一冰就还能用。这样不行哈。", "zh-CN", "还能用", True),
        ("您刚说直接换成氯沙坦，这个我这边真做不了哈。", "zh-CN", "换成", True),
        # The customer's words quoted back are not the trainee's claim...
        (
            "You said nobody can tell yet, but I'm afraid it does matter.",
            "en",
            "nobody can tell",
            True,
        ),
        ("You also asked for it guaranteed. I can't do that.", "en", "guarantee", True),
        # ...to the end of their clause only: what the trainee adds is said.
        ("You said you're on warfarin, so ibuprofen can make you bleed.", "en", "ibuprofen", False),
        ("You asked if it's safe: honestly, it's completely safe.", "en", "completely safe", False),
        ("Can you tell me if you take warfarin?", "en", "warfarin", False),
        # A packing slip reports; a self-correction takes the sentence before it back.
        ("If the slip says they were packed, the error is ours.", "en", "pack", True),
        (
            "切口一般比较隐蔽，基本看不出来……不对，我这么说等于打包票了，更正一下：切口会有疤",
            "zh-CN",
            "看不出来",
            True,
        ),
        ("肯定不留疤。我说错了，疤是会有的", "zh-CN", "不留疤", True),
        ("切口会有疤。不对的药千万别吃", "zh-CN", "会有疤", False),
    ],
)
def test_beliefs_of_others_and_intentions_denied(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("line", "locale", "word", "told"),
    [
        ("The supplier says about a week, not confirmed.", "en", "a week", True),
        ("They say about a week.", "en", "a week", True),
        ("别家说后天能到。", "zh-CN", "后天", True),
        # The customer's own words quoted back are not told, nor is what a negation cancels.
        ("You said it's about a week.", "en", "a week", False),
        ("It won't take a week.", "en", "a week", False),
    ],
)
def test_someone_elses_words_relayed_count_as_told(
    line: str, locale: str, word: str, told: bool
) -> None:
    """For what a disclosure must tell, a third party's words relayed are said (the
    supplier's estimate); for a forbidden rule they stay someone else's claim."""
    reading = Reading(line, locale)
    at = reading.text.find(word)
    assert at >= 0
    assert reading.negated(at, ())  # reported, negated or quoted: not the trainee's claim
    assert reading.negated(at, (), told=True) is not told


def test_a_space_between_chinese_characters_ends_a_clause() -> None:
    """Typed on a phone, "打完会肿几天 也可能有淤青 能不能完全看不出来我不敢打包票" is three
    clauses: the side effects are told, and only the last clause asks (能不能)."""
    spaced = Reading("打完会肿几天 也可能有淤青 能不能完全看不出来我不敢打包票", "zh-CN")
    assert not spaced.asks_at(spaced.text.find("淤青"))
    run_on = Reading("打完会肿几天也可能有淤青能不能完全看不出来我不敢打包票", "zh-CN")
    assert run_on.asks_at(run_on.text.find("淤青"))
    # The clause ends for negation too: the bruising is told, not negated by 不容易止住.
    assert not negates("阿司匹林会让血不容易止住 打完出血淤青会比一般人多", "zh-CN", "淤青")
    assert negates("不会 留疤", "zh-CN", "留疤")  # but not after a negation
    # Latin words keep their spaces.
    assert Reading("用 Panadol 也行", "zh-CN").text == "用 panadol 也行"


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        # "no" before "just"/"only" negates ("not just" is litotes, "no 'just this once'" is
        # none); "not just" stays litotes.
        ("There's no 'just this once' with antibiotics.", "en", "just this once", True),
        ("It's not just the bleeding, it's the kidneys too.", "en", "bleed", False),
        # "no" before "please" answers: the request after it is not negated by it.
        ("no pls dont stop it urself!!", "en", "not stop", False),
        ("No, please don't stop the warfarin.", "en", "not stop", False),
        # a banner, a poster or a place that says it reports it
        ("The banner says it boosts your immune system.", "en", "boost", True),
        ("You may see places saying two months is plenty.", "en", "plenty", True),
        ("It boosts your immune system.", "en", "boost", False),
        # a sentence that takes the one before it with a pinch of salt, or says it is not
        # what the clinic goes by
        (
            "The banner says it stops colds. I'd take that with a pinch of salt.",
            "en",
            "stop",
            True,
        ),
        ("Two months is plenty. That isn't what our doctors go by.", "en", "plenty", True),
        (
            "Two months is plenty. That isn't what our doctors go by when you're on it.",
            "en",
            "plenty",
            False,
        ),
        # the trainee's own question, answered "no"; never a question answering a question
        ("Will it be there tomorrow? Honestly, no.", "en", "there tomorrow", True),
        ("Can I promise it? Sadly not, sorry.", "en", "promise", True),
        ("Any allergies? No?", "en", "allerg", False),
        ("Will it be there tomorrow? Yes.", "en", "there tomorrow", False),
        ("明天能到吗？说实话不能，我也不想哄您。", "zh-CN", "明天能到", True),
        ("明天能到吗，不好说哈", "zh-CN", "明天能到", True),
        ("明天能到。说实话不能再快了", "zh-CN", "明天能到", False),
        # an A-not-A question asks, it does not say: 有没有疤 holds 没有疤
        ("有没有疤、明不明显跟个人体质有关", "zh-CN", "没有疤", True),
        ("会不会留疤要看恢复", "zh-CN", "不会留疤", True),
        ("放心，不会留疤的", "zh-CN", "不会留疤", False),
        ("没有疤，放心吧", "zh-CN", "没有疤", False),
        # "before I do it, can I check...?" asks first; "before I send it, I'll..." does not
        (
            "Before I pop the ibuprofen in a basket, can I check whether you take other meds?",
            "en",
            "ibuprofen",
            True,
        ),
        ("Before we book you in, let me ask a few questions.", "en", "book", True),
        ("Before I send the ibuprofen, I'll need your date of birth.", "en", "ibuprofen", False),
        ("I'll send the ibuprofen before you go, can you confirm?", "en", "ibuprofen", False),
    ],
)
def test_claims_asked_answered_or_reported_round_five(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        (["It's 100% safe for you, I promise.", "no sorry, that's not true."], "clear"),
        (["It's 100% safe for you, I promise.", "Nope, I can't promise that, sorry"], "clear"),
        # The rejection must open the next message; later on it takes back nothing.
        (["It's 100% safe for you, I promise.", "Anyway. That's not true."], "violated"),
        (["It's 100% safe for you, I promise.", "Great, see you soon."], "violated"),
    ],
)
def test_a_message_that_opens_by_rejecting_the_one_before(
    en: Pack, lines: list[str], status: str
) -> None:
    assert statuses(en, lines)["promise"] == status


def test_the_explanation_of_a_claim_taken_back_by_the_next_message(en: Pack) -> None:
    scenario = en.scenarios[0]
    lines = ["It's 100% safe for you, I promise.", "no sorry, that's not true."]
    conv = Conversation.replay(
        en.compiled[scenario.id], en.locale, [(lines[0], 10), (lines[1], 20)]
    )
    transcript = parse_transcript_data(conv.transcript(en.id), "t")
    told = explain_criterion(en.id, en.compiled[scenario.id], transcript, "promise")
    assert told.status == "clear"
    cancelled = [f for m in told.messages for f in m.findings if not f.counts]
    assert cancelled and "next message" in cancelled[0].why


def test_zh_a_message_that_opens_by_rejecting_the_one_before(zh: Pack) -> None:
    assert statuses(zh, ["吃了保证没问题", "哈，这个说法不对，还是要注意"])["promise"] == "clear"
    assert statuses(zh, ["吃了保证没问题", "好的亲"])["promise"] == "violated"


def test_a_negated_not_phrase_does_not_block_in_v2_only() -> None:
    """A `not` phrase blocks where it is said: "不是限时的" does not pressure, so it does not
    undo an honest offer in v2; v1 blocks on any occurrence, as the contract says."""
    honest = Matcher.compile("zh-CN", any=["单次"], none=["限时"])
    denied = "新客可以先做单次体验，1180，常规价，不是限时的"
    assert honest.matches(Reading(denied, "zh-CN"), negation=True)
    assert not honest.matches(Reading("新客单次体验1180，限时的哦", "zh-CN"), negation=True)
    assert not honest.matches(Text(denied, "zh-CN"), negation=True)
    offer = Matcher.compile("en", any=["single session"], none=["deadline"])
    line = "a single session is 1180, and there's no deadline on it"
    assert offer.matches(Reading(line, "en"), negation=True)
    assert not offer.matches(Reading("a single session is 1180, deadline is friday", "en"))


def test_a_reporting_frame_stops_at_a_dash() -> None:
    """What a packing slip says is reported; what follows a dash is the trainee's own."""
    line = "If the slip says packed they were ticked off - we've had new temp staff on the line"
    assert not negates(line, "en", "temp")
    assert negates("The slip says new temp staff packed it", "en", "temp")


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        # "that goes for ... too" carries a refusal on to more things; not an offer.
        (
            "So I'm not able to book you in for it, and that goes for a lower-dose top-up too.",
            "en",
            "low",
            True,
        ),
        ("Don't take ibuprofen. The same goes for aspirin.", "en", "aspirin", True),
        ("I can book you in, and that goes for a top-up too.", "en", "top", False),
        # "Before I can book you" says the booking is not yet possible.
        ("Before I can book you I have to run through a few questions.", "en", "book", True),
        ("Before I book you, I'll need your date of birth.", "en", "book", False),
        # An instruction to tell the doctor is no quote of the customer.
        ("Please make sure you mention that rash to the doctor.", "en", "rash", False),
        ("You mentioned a rash, so tell the doctor about it.", "en", "doctor", False),
        ("You said a rash is nothing to worry about.", "en", "nothing", True),
        # Other people's beliefs and what a site makes it sound like are reported.
        ("People often think two months is plenty, but it isn't.", "en", "plenty", True),
        ("Some websites make it sound like you don't need one.", "en", "need", True),
        # A temptation to think something asserts nothing; "I won't assume that" rejects.
        ("It might be tempting to think that's just the bruise spreading.", "en", "bruise", True),
        (
            "It might be tempting to think that. It's just the bruise spreading.",
            "en",
            "bruise",
            False,
        ),
        ("That's just the bruise spreading. I'm not going to assume that.", "en", "bruise", True),
        ("外面可能有地方会跟你说停了就行不用等，这个真别信", "zh-CN", "不用等", True),
        ("有的店会让先拍下、处方回头再补，我们这边不这么操作", "zh-CN", "先拍下", True),
        # The customer's words quoted back, to the end of their clause only.
        ("您说别家不用处方就能买，这个在我们平台是不行的", "zh-CN", "不用处方", True),
        ("您说别家能买，这个平台不用处方", "zh-CN", "不用处方", False),
        ("您说的那款缓释胶囊其实也还行", "zh-CN", "缓释胶囊", False),
        ("您说得对，布洛芬可以吃", "zh-CN", "布洛芬可以吃", False),
        # A reported claim ends where the trainee turns (实际上, 但); 反而 starts a new thought.
        ("网上说得很吓人，实际上很少见，不用在意", "zh-CN", "不用在意", False),
        ("网上说打了会肿", "zh-CN", "肿", True),
        ("痘坑没平反而多出印子", "zh-CN", "印子", False),
    ],
)
def test_carried_refusals_conditions_and_reports(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


def test_a_relayed_estimate_is_told_though_reported() -> None:
    """ "They think about a week" reports the supplier's estimate: no promise of the
    trainee's, and still the estimate told for a disclosure."""
    reading = Reading("They think about a week, but that's not confirmed.", "en")
    at = reading.text.find("a week")
    assert reading.negation_at(at) is not None
    assert not reading.negated(at, (), told=True)


@pytest.mark.parametrize(
    ("line", "locale", "word", "told"),
    [
        ("厂家说阿司匹林会让淤青更明显，您要注意。", "zh-CN", "淤青", True),
        ("网上说吃阿司匹林打针会青得厉害，其实影响不大。", "zh-CN", "青得厉害", False),
        ("有人说肌无力打肉毒会加重，其实没那么夸张", "zh-CN", "加重", False),
        ("The leaflet says naproxen can make you bleed.", "en", "bleed", True),
        ("The leaflet says it can make you bleed, but actually that's rare.", "en", "bleed", False),
    ],
)
def test_relayed_words_are_told_unless_the_sentence_takes_them_back(
    line: str, locale: str, word: str, told: bool
) -> None:
    reading = Reading(line, locale)
    assert reading.negated(reading.text.find(word), (), told=True) is not told


def test_a_sentence_that_says_why_it_asked_counts_as_asked() -> None:
    line = "Ok, and over the past year? I ask because a lot of people have just had Roaccutane."
    reading = Reading(line, "en")
    at = reading.text.find("roaccutane")
    assert reading.act_fits(at, "ask") and reading.act_fits(at, "tell")
    plain = Reading("Great. I ask because Roaccutane matters.", "en")
    assert not plain.act_fits(plain.text.find("roaccutane"), "ask")


def test_a_suggestion_with_yao_bu_is_no_negation() -> None:
    """要不您用对乙酰氨基酚 suggests paracetamol (how about...); 不要吃 still forbids."""
    assert not negates("要不您用对乙酰氨基酚，这个跟华法林冲突小一些", "zh-CN", "对乙酰氨基酚")
    assert not negates("要不先问一下开药的医生", "zh-CN", "医生")
    assert negates("不要吃布洛芬", "zh-CN", "布洛芬")


@pytest.mark.parametrize(
    ("line", "negated"),
    [
        ("您要不要试试布洛芬", False),  # 要 / 不要 / 试试 to the segmenter: still a question
        ("能不能吃布洛芬呀", False),
        ("不要吃布洛芬", True),
        ("只要不吃布洛芬就行", True),  # a condition's negation is a negation
    ],
)
def test_an_a_not_a_question_is_no_negation_however_it_is_cut(line: str, negated: bool) -> None:
    assert negates(line, "zh-CN", "布洛芬") is negated


@pytest.mark.parametrize(
    ("line", "negated"),
    [
        ("不会 留疤的，放心", True),  # a space after a negation does not end its reach
        ("打完会肿几天 留疤的概率很低", False),  # elsewhere a space ends a clause
    ],
)
def test_a_space_after_a_chinese_negation_keeps_its_reach(line: str, negated: bool) -> None:
    assert negates(line, "zh-CN", "留疤") is negated


@pytest.mark.parametrize(
    ("line", "negated"),
    [
        ("even a low dose of ibuprofen isn't safe for you", True),
        ("honestly even a small dose would be risky with warfarin", True),
        ("even a low dose helps most people", False),  # nothing turns it down
        ("a low dose isn't always enough, but it's where we start", False),  # no "even"
    ],
)
def test_what_even_concedes_the_rest_of_its_clause_turns_down(line: str, negated: bool) -> None:
    assert negates(line, "en", "dose") is negated


@pytest.mark.parametrize(
    ("line", "locale", "word"),
    [
        ("快递公司反馈周四能到，但我没法打包票，只能说是预计。", "zh-CN", "周四"),
        ("下周三左右应该有货，但我不敢打包票。", "zh-CN", "下周三"),
    ],
)
def test_a_hedge_after_an_estimate_takes_back_the_promise_not_the_estimate(
    line: str, locale: str, word: str
) -> None:
    reading = Reading(line, locale)
    at = reading.text.find(word)
    assert reading.negation_at(at) is not None  # no promise made
    assert not reading.negated(at, (), told=True)  # the estimate still told


@pytest.mark.parametrize(
    ("line", "locale", "word", "act", "fits"),
    [
        # A suggestion put as a question tells.
        (
            "Why not come in and meet our doctor? They'll look at the scars.",
            "en",
            "doctor",
            "tell",
            True,
        ),
        (
            "Could your mum call us with you? Once she confirms, we can go through it.",
            "en",
            "call",
            "tell",
            True,
        ),
        # Openings that look like a question's make a statement without a question mark.
        (
            "Should it go on longer than a week, have a doctor take a look.",
            "en",
            "doctor",
            "tell",
            True,
        ),
        (
            "The surgeon works around scarring, which makes it more complicated.",
            "en",
            "complicated",
            "tell",
            True,
        ),
        ("Which one makes you drowsy?", "en", "drowsy", "ask", True),
        (
            "Any change to your blood thinner is a decision for your doctor.",
            "en",
            "doctor",
            "tell",
            True,
        ),
        ("any other meds you take", "en", "med", "ask", True),
        ("Roughly how long ago did you request it?", "en", "how long", "ask", True),
        # A need stated without a question mark asks for it and tells it.
        ("We need a valid prescription before we can send it.", "en", "prescription", "tell", True),
        ("We need a valid prescription before we can send it.", "en", "prescription", "ask", True),
        ("Do we need a prescription?", "en", "prescription", "tell", False),
        # Chinese: a request to list, an alternative question, a question carried on.
        ("meds这块方便说下吗，在吃的药都说说哈", "zh-CN", "在吃的药", "ask", True),
        ("你现在肤质偏干还是偏油，有没有敏感泛红", "zh-CN", "肤质", "ask", True),
        ("我还是建议您去医院看看", "zh-CN", "医院", "ask", False),
        ("有没有吃过四环素这类抗生素，或者异维A酸呀", "zh-CN", "异维a酸", "ask", True),
        ("吃了布洛芬，或者阿司匹林也会出血", "zh-CN", "阿司匹林", "ask", False),
        # What only the doctor will know is a statement.
        ("具体适合什么方案得医生当面看了才知道哈。", "zh-CN", "医生当面", "tell", True),
        ("能做到什么程度还要看你鼻子本身条件", "zh-CN", "本身条件", "tell", True),
        # 是A，还是B asks in both halves; 还是建议 is "still recommend".
        ("是皮肤缺水起皮，还是想提亮、淡化细纹这些呀", "zh-CN", "缺水", "ask", True),
        ("是皮肤缺水起皮，还是想提亮、淡化细纹这些呀", "zh-CN", "提亮", "ask", True),
        ("是这样的，还是建议您先去医院", "zh-CN", "医院", "ask", False),
    ],
)
def test_speech_acts_of_suggestions_conditions_and_lists(
    line: str, locale: str, word: str, act: str, fits: bool
) -> None:
    reading = Reading(line, locale)
    assert reading.act_fits(reading.text.find(word), act) is fits


@pytest.mark.parametrize(
    ("line", "word", "negated"),
    [
        # a heading names what the sentence talks about and asserts nothing of it
        ("On the written guarantee: honestly, nobody serious gives one.", "guarantee", True),
        ("As for the vitamin bundle, I'd keep your money.", "bundle", True),
        ("We guarantee it: no scars.", "guarantee", False),
        # what a page "suggests" is reported, however far the verb
        (
            "It won't cure it, whatever the 'immune boost' banner on the site suggests.",
            "boost",
            True,
        ),
        (
            "A clinic that signs off on a nose exactly like the photo isn't being straight.",
            "exactly",
            True,
        ),
    ],
)
def test_headings_and_far_reporting_verbs(line: str, word: str, negated: bool) -> None:
    assert negates(line, "en", word) is negated


def test_not_yet_tells_that_it_comes_later() -> None:
    """ "you won't need his prescription yet" tells a disclosure that it is needed later;
    for a claim it is still negated."""
    reading = Reading("Once you're in, you won't need his prescription yet by the way.", "en")
    at = reading.text.find("prescription")
    assert reading.negation_at(at) is not None
    assert not reading.negated(at, (), told=True)
    plain = Reading("You won't need his prescription.", "en")
    assert plain.negated(plain.text.find("prescription"), (), told=True)


@pytest.mark.parametrize(
    ("line", "word", "asks"),
    [
        # A question typed on after a greeting or an acknowledgement, with no mark between.
        ("hi sorry ur not well do u have a prescripton for it", "prescripton", True),
        ("thx noted r u on any meds", "medicine", True),
        ("gotcha whats the order no", "order", True),
        ("great any allergies", "allergy", True),
        ("thx got it up which bit didnt arrive", "arrive", True),
        ("hi im sorry first thing how many days of tablets do u have left", "how many", True),
        ("totally get it do u know roughly how long the box was sat outside", "how long", True),
        ("before u pick anything r u taking anything already for the cold", "cold", True),
        ("got ur pic thx just so i understand what is it about ur own nose", "nose", True),
        # ... and statements that hold the same words.
        ("i dont have any stock", "stock", False),
        ("whatever you do you should avoid it", "avoid", False),
        ("ill check how long it takes", "how long", False),
        ("if you have any allergies tell the doctor", "allergy", False),
        ("ah that'll be it the codes going to ur old phone", "phone", False),
        ("even if u dont know which one it was they need to know", "need", False),
        ("the reason is ur skin is still healing differently", "heal", False),
        ("the thing is you cant take it", "take", False),
    ],
)
def test_a_question_typed_on_without_a_mark(line: str, word: str, asks: bool) -> None:
    reading = Reading(line, "en")
    assert reading.asks_at(reading.text.find(word)) is asks


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        # what a product is advertised or sold as is the seller's claim, to a "but"
        (
            "You'll see it advertised as boosting your immune system, but it won't cure it.",
            "en",
            "boost",
            True,
        ),
        ("It's sold as a cure for colds, honestly.", "en", "cure", True),
        ("It does boost your immune system.", "en", "boost", False),
        ("We sell it in packs of ten and it will cure your cold.", "en", "cure", False),
        # "rather ... than" turns down what follows "than", a few words on, in its clause
        (
            "I'd rather be honest than tell you it will definitely come on Thursday.",
            "en",
            "definitely",
            True,
        ),
        ("It will definitely come, I'd rather say so now.", "en", "definitely", False),
        (
            "I'd rather wait. Then it will definitely come on Thursday.",
            "en",
            "definitely",
            False,
        ),
        # what it would be untrue or wrong to say is not said
        (
            "I'd be lying if I said it'll definitely be back next week.",
            "en",
            "definitely",
            True,
        ),
        ("It would be wrong of me to promise it will definitely arrive.", "en", "definitely", True),
        ("I'd be misleading you if I told you it's 100% safe.", "en", "100", True),
        ("It'll definitely be back next week, I'm not lying.", "en", "definitely", False),
        ("It would be wrong to wait, it will definitely come.", "en", "definitely", False),
        # 不急着 ("in no hurry to") puts off what follows
        ("所以我先不急着给您推荐。", "zh-CN", "推荐", True),
        ("这款我推荐给您，不急的话明天发。", "zh-CN", "推荐", False),
    ],
)
def test_sold_as_rather_than_and_no_hurry(line: str, locale: str, word: str, negated: bool) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("line", "locale", "word", "negated"),
    [
        # a negated feeling ends the negation's reach: the promise after it is made
        ("dont worry itll be there wed 100%", "en", "100", False),
        ("No worries, it's completely safe.", "en", "safe", False),
        # ...unless the feeling goes on to what it is about
        ("Don't worry about it being there tomorrow 100%.", "en", "100", True),
        ("It won't be there tomorrow.", "en", "tomorrow", True),
        # what others in the trade say, or what is said and then called a breach or a
        # sales line, is reported, not claimed
        ("说保证效果的都是不合规的，我们不会这么说", "zh-CN", "保证", True),
        ("说维C能预防感冒的都是广告话术，别太当真", "zh-CN", "预防感冒", True),
        ("我知道有的咨询师喜欢拿名额有限逼单，您按自己节奏来", "zh-CN", "名额有限", True),
        ("有的同行喜欢说别人用水货，您自己看资质就能判断", "zh-CN", "水货", True),
        ("我说的都是实话，保证效果", "zh-CN", "保证", False),
        ("名额有限，今天不定就没了", "zh-CN", "名额有限", False),
    ],
)
def test_a_negated_feeling_and_the_trade_reported(
    line: str, locale: str, word: str, negated: bool
) -> None:
    assert negates(line, locale, word) is negated


@pytest.mark.parametrize(
    ("line", "word", "asks"),
    [
        # an A-not-A form of any verb or adjective asks
        ("大爷 您吃不吃抗凝药 比如华法林", "抗凝", True),
        ("疼不疼，肿得厉害吗", "疼", True),
        # ...unless it is left to the customer, made no matter, or someone else's question
        ("这个价格一般般，买不买看您", "买", False),
        ("不管吃不吃都要先问医生", "吃", False),
        ("医生到时候会问您疼不疼、看东西清不清楚的", "疼", False),
        # a clause-final 不, with a vocative 亲 after it, asks; 么 asks before a comma
        ("对了 您对青霉素过敏不", "过敏", True),
        ("有药物过敏不 亲", "过敏", True),
        ("亲 最近有吃活血的东西么 阿司匹林 鱼油 银杏片这种", "活血", True),
        ("那么多药都吃过，怎么办", "那么", False),
        ("您吃药不规律的话，血压就不稳", "吃药", False),
    ],
)
def test_chinese_questions_typed_in_chat(line: str, word: str, asks: bool) -> None:
    reading = Reading(line, "zh-CN")
    assert reading.asks_at(reading.text.find(word)) is asks


@pytest.mark.parametrize(
    ("line", "word", "asks"),
    [
        ("Please run me through your regular medication.", "medication", True),
        ("Could you talk me through what you take for your heart?", "heart", True),
        ("Please let me have the order number from the packing slip.", "order number", True),
        ("I ran through the options with the pharmacist.", "option", False),
    ],
)
def test_asking_to_be_talked_through(line: str, word: str, asks: bool) -> None:
    reading = Reading(line, "en")
    assert reading.asks_at(reading.text.find(word)) is asks


@pytest.mark.parametrize(
    ("line", "word", "told"),
    [
        # relayed, a third party's words still tell, as a disclosure needs...
        ("Some people say a white patch means a blocked vessel.", "block", True),
        # ...unless the sentence goes on to call them scaremongering, a myth, unfounded
        (
            "Some people online say a white patch means a blocked vessel, but that's mostly "
            "scaremongering.",
            "block",
            False,
        ),
        (
            "Some people think isotretinoin affects healing, but there's no evidence for that.",
            "heal",
            False,
        ),
    ],
)
def test_a_relayed_warning_called_unfounded_tells_nothing(line: str, word: str, told: bool) -> None:
    reading = Reading(line, "en")
    at = reading.text.find(word)
    assert at >= 0
    assert reading.negated(at, (), told=True) is not told


@pytest.mark.parametrize(
    ("line", "word", "tells", "asks"),
    [
        # a tag after a statement asks, and the statement still tells
        ("Flag it with whoever writes the prescription, ok?", "prescription", True, True),
        ("Paracetamol is the safer one for you, right?", "paracetamol", True, True),
        # a question with a tag only asks
        ("Are you on warfarin, right?", "warfarin", False, True),
        ("Is it the big pack?", "big pack", False, True),
    ],
)
def test_a_tag_after_a_statement(line: str, word: str, tells: bool, asks: bool) -> None:
    reading = Reading(line, "en")
    at = reading.text.find(word)
    assert reading.act_fits(at, "tell") is tells
    assert reading.act_fits(at, "ask") is asks
