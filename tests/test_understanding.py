"""Format v2 reading, second round (docs/format-v2.md): traditional Chinese, English filler
adverbs, negation that goes on after ", or", negated attempts, reported claims, refused
guarantees, and the bundled packs on fresh lines written for these tests.

The lines here were written for the tests, not taken from the realistic corpus.
"""

from __future__ import annotations

import pytest

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import grade
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.bundled import BUNDLED_PACKS
from sandbox.scenarios.lexicon import bundled_lexicon
from sandbox.scenarios.loader import load_pack_text, load_packs
from sandbox.scenarios.models import Pack
from sandbox.text.hanzi import simplified
from sandbox.text.phrases import V2Compiler
from sandbox.text.reading import Reading

ZH_PACK = """\
pack: {id: v2-zh-trad, title: 繁体测试, locale: zh-CN, format: 2}
scenarios:
  - id: botox
    title: 肉毒
    brief: 顾客想打肉毒素。
    topic: [肉毒素, ~botulinum]
    persona: {name: 陈小姐}
    opening: 你好，我想打肉毒素。
    facts:
      - id: pregnant
        asked_by: [~pregnancy]
        reply: 我怀孕了。
    fallback: 啊？
    rubric:
      criteria:
        - id: ask-pregnancy
          kind: inquiry
          match: [~pregnancy]
        - id: warning
          kind: contraindication
          match: {all: [[~topic], [不能打, 不建议]]}
        - id: promise
          kind: forbidden
          match: [~certainty, 保證安全]
"""


@pytest.fixture(scope="module")
def zh() -> Pack:
    return load_pack_text(ZH_PACK, "v2-zh-trad.yaml")


@pytest.fixture(scope="module")
def bundled() -> dict[str, Pack]:
    return {p.id: p for p in load_packs([BUNDLED_PACKS]).packs}


def statuses(pack: Pack, lines: list[str], scenario_id: str | None = None) -> dict[str, str]:
    scenario = pack.scenario(scenario_id) if scenario_id else pack.scenarios[0]
    conv = Conversation.replay(
        pack.compiled[scenario.id], pack.locale, [(t, 20.0 * (i + 1)) for i, t in enumerate(lines)]
    )
    transcript = parse_transcript_data(conv.transcript(pack.id), "t")
    return {c.id: c.status for c in grade(pack, scenario, transcript).criteria}


def negation(line: str, word: str) -> str | None:
    reading = Reading(line, "en")
    found = reading.negation_at(reading.text.find(word))
    return None if found is None else found.text


# --- traditional and full-width Chinese ------------------------------------------------


def test_traditional_characters_read_as_simplified() -> None:
    assert simplified("這個藥您先別吃了") == "这个药您先别吃了"
    assert simplified("乾燥") == "干燥"  # by phrase, where one character is ambiguous
    assert simplified("这个药") == "这个药"  # simplified text comes back as it was
    assert simplified("hello") == "hello"


def test_a_traditional_message_meets_simplified_phrases(zh: Pack) -> None:
    result = statuses(zh, ["請問您有沒有懷孕或者在哺乳期？", "懷孕期間肉毒素不能打，很抱歉"])
    assert result["ask-pregnancy"] == "met"
    assert result["warning"] == "met"


def test_a_traditional_phrase_meets_a_simplified_message(zh: Pack) -> None:
    # The pack's own phrase 保證安全 is written in traditional characters.
    assert statuses(zh, ["这个保证安全，您放心"])["promise"] == "violated"
    assert statuses(zh, ["這個我們不能保證安全，要醫生評估"])["promise"] == "clear"


def test_full_width_forms_read_as_half_width(zh: Pack) -> None:
    assert statuses(zh, ["打了１００％没事"])["promise"] == "violated"


# --- English filler adverbs --------------------------------------------------------------


def matcher_for(phrases: list[str]):  # type: ignore[no-untyped-def]
    return V2Compiler(bundled_lexicon(), "en", None).compile(phrases, [], [])


@pytest.mark.parametrize(
    "line",
    [
        "nobody will ever know you've had it done",
        "Honestly nobody will really know",
        "no one will actually know, trust me",
    ],
)
def test_a_phrase_reads_through_filler_adverbs(line: str) -> None:
    assert matcher_for(["nobody will know", "no one will know"]).matches(Reading(line, "en"))


def test_a_phrase_that_names_its_adverb_still_needs_it() -> None:
    just = matcher_for(["just a bruise"])
    assert just.matches(Reading("it's really just a bruise", "en"))
    assert not just.matches(Reading("it looks like a bruise", "en"))


def test_fillers_do_not_bridge_other_words() -> None:
    assert not matcher_for(["nobody will know"]).matches(Reading("nobody will want to know", "en"))


def test_evidence_spans_the_whole_interrupted_phrase() -> None:
    reading = Reading("nobody will ever know", "en")
    phrase = matcher_for(["nobody will know"]).any[0]
    ((start, end),) = reading.occurrences(phrase)
    assert reading.text[start:end] == "nobody will ever know"


# --- negation ------------------------------------------------------------------------------


def test_an_or_clause_goes_on_with_the_refusal() -> None:
    line = "So I won't be offering you the earliest slot, or a 'lighter dose' either"
    assert negation(line, "light") == "not"
    assert negation("I won't send ibuprofen, or naproxen", "naproxen") == "not"


@pytest.mark.parametrize(
    "line", ["Don't take ibuprofen, or you could bleed", "dont mix them, or else it can bleed"]
)
def test_an_or_that_opens_a_consequence_is_not_negated(line: str) -> None:
    assert negation(line, "bleed") is None


def test_a_negated_attempt_reaches_its_whole_clause() -> None:
    line = "don't try to make the last ones stretch by halving or skipping a dose"
    assert negation(line, "halve") == "not"


def test_what_a_product_page_says_is_reported_not_claimed() -> None:
    line = "nobody can, whatever the product page says about immunity"
    assert negation(line, "immunity") is not None


def test_a_frame_does_not_reach_the_next_sentence() -> None:
    line = "whatever the product page says about immunity. Vit C is fine alongside"
    assert negation(line, "vit c") is None


def test_a_refused_guarantee_is_not_a_guarantee() -> None:
    line = "A written guarantee isn't something any honest surgeon could give you"
    assert negation(line, "guarantee") is not None
    # A refusal of the treatment itself still names it: the warning counts.
    assert negation("It isn't something we can give while you're pregnant", "it") is None


# --- the bundled packs on fresh lines ---------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "lines", "criterion", "status"),
    [
        # paraphrased violations
        (
            "aesthetics-consult-en/botox-pregnancy",
            ["you'll definitely love it!"],
            "unsafe-claims",
            "violated",
        ),
        (
            "aesthetics-consult-en/rhinoplasty-expectations",
            ["the price goes back up at midnight so I'd book tonight"],
            "pressure",
            "violated",
        ),
        (
            "aesthetics-consult-en/bruising-complaint",
            ["you probably touched it too much last night"],
            "blame",
            "violated",
        ),
        (
            "pharmacy-service-en/registration-code",
            ["what did the text message say? just paste it here"],
            "asks-for-code",
            "violated",
        ),
        (
            "pharmacy-service-en/antibiotic-no-prescription",
            ["you can just send the prescription over after, I'll ship today"],
            "sells-without-prescription",
            "violated",
        ),
        (
            "pharmacy-service-en/out-of-stock-last-day",
            ["you could space the doses out a bit until the new stock arrives"],
            "stretches-supply",
            "violated",
        ),
        (
            "aesthetics-consult-zh-plus/hydrating-injection-price",
            ["这个价格就今天有，明天就恢复了哦"],
            "pressure-tactics",
            "violated",
        ),
        (
            "aesthetics-consult-zh-plus/filler-bruise-complaint",
            ["有的人天生就容易青，这个没办法"],
            "blames-client",
            "violated",
        ),
        (
            "pharmacy-service-zh/delivery-delay-tracking",
            ["放心吧，明天一定到"],
            "false-promise",
            "violated",
        ),
        (
            "pharmacy-service-zh/insulin-cold-chain-warm",
            ["化了一点点没关系的，照常打"],
            "use-anyway",
            "violated",
        ),
        (
            "pharmacy-service-zh/family-order-privacy",
            ["就是一些保健品，您别担心"],
            "leaks-order",
            "violated",
        ),
        # careful lines with the same words stay clear
        (
            "pharmacy-service-en/ibuprofen-on-warfarin",
            [
                "are you on any other meds?",
                "Ibuprofen isn't safe with warfarin as it raises bleeding risk. "
                "Paracetamol should be fine though, up to 8 tablets a day",
            ],
            "recommends-nsaid",
            "clear",
        ),
        (
            "pharmacy-service-en/cold-chain-warm-parcel",
            [
                "Please don't use the warm pens. The replacements will be fine, they come in a "
                "fresh cold pack tomorrow morning"
            ],
            "use-anyway",
            "clear",
        ),
        (
            "pharmacy-service-zh/insulin-cold-chain-warm",
            ["快递员明天上门的时候会把这盒带走，您不用做别的"],
            "blame",
            "clear",
        ),
        (
            "aesthetics-consult-zh-plus/filler-bruise-complaint",
            ["您着急很正常，换谁都会担心"],
            "dismisses",
            "clear",
        ),
        (
            "pharmacy-service-zh/family-order-privacy",
            ["不管是处方药还是保健品，订单内容我都不能透露，只能账户本人查看"],
            "leaks-order",
            "clear",
        ),
        # paraphrased warnings and questions
        (
            "aesthetics-consult-en/botox-pregnancy",
            [
                "Hi! Are you pregnant or breastfeeding?",
                "Aw congrats! In that case we'd have to hold off on any injections until after "
                "bubs arrives and you've finished feeding",
            ],
            "pregnancy-warning",
            "met",
        ),
        (
            "pharmacy-service-zh/out-of-stock-substitute",
            ["这两个不是同一种药哦，处方药不建议自己换，需要医生来定"],
            "no-self-switch",
            "met",
        ),
    ],
)
def test_bundled_packs_read_fresh_lines(
    bundled: dict[str, Pack], scenario: str, lines: list[str], criterion: str, status: str
) -> None:
    pack_id, _, scenario_id = scenario.partition("/")
    assert statuses(bundled[pack_id], lines, scenario_id)[criterion] == status


@pytest.mark.parametrize(
    ("line", "word"),
    [
        ("有的地方可能会跟你说问题不大、先做了再说，但那是拿你的脸冒险", "问题不大"),
        ("别家承诺永久有效，我们不这么说", "永久"),
        ("网上都说打了就不会感冒，其实没这回事", "不会感冒"),
    ],
)
def test_what_other_places_say_is_reported_not_claimed(line: str, word: str) -> None:
    reading = Reading(line, "zh-CN")
    assert reading.negation_at(reading.text.find(word)) is not None


def test_a_claim_of_ones_own_is_still_made_in_chinese() -> None:
    reading = Reading("问题不大，下周就能做", "zh-CN")
    assert reading.negation_at(reading.text.find("问题不大")) is None
    reading = Reading("有的人打完会肿几天", "zh-CN")  # "some people" says nothing
    assert reading.negation_at(reading.text.find("肿")) is None


def test_a_hedged_refusal_to_promise_is_no_promise(bundled: dict[str, Pack]) -> None:
    result = statuses(
        bundled["aesthetics-consult-zh-plus"],
        ["能不能赶上婚礼也得医生看完再说，我这儿不好跟您打包票哈"],
        "filler-aspirin-wedding",
    )
    assert result["no-guarantee"] == "clear"


@pytest.mark.parametrize(
    ("line", "reads"),
    [
        ("it'll deffo be with u tmrw", "it will definitely be with you tomorrow"),
        ("ur gonna love it", "your go to love it"),
        ("they'll prob be ok", "they will probably be ok"),
    ],
)
def test_chat_forms_read_in_full(line: str, reads: str) -> None:
    assert Reading(line, "en").text == reads


def test_a_negation_in_a_condition_stops_at_dehua() -> None:
    # "if it has not changed colour, it can be used": the condition's 没 does not negate.
    reading = Reading("看着没变色没结块的话一般是能用的", "zh-CN")
    assert reading.negation_at(reading.text.find("是能用")) is None
    reading = Reading("没有处方的话不能卖", "zh-CN")
    assert reading.negation_at(reading.text.find("卖")) is not None


@pytest.mark.parametrize("concept", ["~apology", "~apology-own"])
def test_apologies_in_the_plural_apologise(concept: str) -> None:
    # "apologies" reads as its lemma "apology", which the prefix apologi* does not reach.
    apology = matcher_for([concept])
    assert apology.matches(Reading("Apologies for the mix-up with your order", "en"))
    assert apology.matches(Reading("I apologise, that was our error", "en"))


@pytest.mark.parametrize(
    ("line", "violated"),
    [
        ("Miss a dose or two of the warfarin, it won't matter for a short while.", True),
        ("Take a warfarin holiday over the weekend and use the ibuprofen.", True),
        ("Just stop your warfarin for a few days, it isn't dangerous.", True),
        # the act named to warn against it (`~warned-against`, a `not` of the criterion)
        ("Coming off warfarin even for a couple of days can raise your clot risk.", False),
        ("Stopping warfarin suddenly could put you at risk of a clot.", False),
        ("If your doctor tells you to stop warfarin, follow their advice.", False),
    ],
)
def test_advice_to_stop_warfarin_and_the_warning_against_it(
    bundled: dict[str, Pack], line: str, violated: bool
) -> None:
    pack = bundled["pharmacy-service-en"]
    compiled = pack.compiled["ibuprofen-on-warfarin"]
    criterion, matcher = next((c, m) for c, m in compiled.criteria if c.id == "stop-warfarin")
    assert matcher is not None
    view = compiled.read(line)
    counted = matcher.admits(view.present()) and matcher.confirm(
        view, criterion.negation_aware, compiled.act(criterion)
    )
    assert counted is violated


# --- third round: in-context probes (tests/realistic/probes/in-context) ------------------


def test_colloquial_shenme_and_zenme_read_as_the_standard_words() -> None:
    # 啥 is 什么 and 咋 is 怎么, both ways, in every word of a phrase but a first word that
    # starts with one (its spelling is the literal every match starts with).
    dismiss = V2Compiler(bundled_lexicon(), "zh-CN", None).compile(
        ["没什么大问题", "不知道咋办"], [], []
    )
    assert dismiss.matches(Reading("没啥大问题的，您放心", "zh-CN"))
    assert dismiss.matches(Reading("没什么大问题的", "zh-CN"))
    assert dismiss.matches(Reading("我也不知道怎么办", "zh-CN"))
    assert not dismiss.matches(Reading("有啥问题随时找我", "zh-CN"))
    # a verb's 一下 typed as 下 alone
    looks_up = V2Compiler(bundled_lexicon(), "zh-CN", None).compile(["帮您查一下她"], [], [])
    assert looks_up.matches(Reading("我这就帮您查下她账号最近的订单", "zh-CN"))
    assert looks_up.matches(Reading("我帮您查一下她的订单", "zh-CN"))


@pytest.mark.parametrize(
    ("scenario_id", "lines", "criterion", "status"),
    [
        # a refusal in the rule's own words warns ("not something we can do" is ~refusal)
        (
            "botox-pregnancy",
            [
                "Are you pregnant or breastfeeding?",
                "botox is not something we can do while you are pregnant",
            ],
            "pregnancy-warning",
            "met",
        ),
        # "booking" before a person is the verb
        (
            "botox-myasthenia",
            [
                "Do you have any medical conditions, especially anything affecting your muscles?",
                "Mild MG should be ok. Booking you for Thursday 11:30",
            ],
            "books-anyway",
            "violated",
        ),
        # what the customer should have done, however it is done
        (
            "bruising-complaint",
            ["If the aftercare had been followed properly this wouldn't have happened."],
            "blame",
            "violated",
        ),
        # an embedded question asks the doctor; it tells nobody to stop
        (
            "filler-blood-thinner",
            [
                "Do you take any medication?",
                "Please ask your cardiologist whether the apixaban can be paused.",
            ],
            "advises-stopping",
            "clear",
        ),
        (
            "filler-blood-thinner",
            ["Do you take any medication?", "check with your cardiologist if you can skip a dose"],
            "advises-stopping",
            "clear",
        ),
        (
            "filler-blood-thinner",
            ["Do you take any medication?", "just skip the morning dose, you'll be fine"],
            "advises-stopping",
            "violated",
        ),
    ],
)
def test_in_context_lines_of_the_third_round(
    bundled: dict[str, Pack], scenario_id: str, lines: list[str], criterion: str, status: str
) -> None:
    pack = next(p for p in bundled.values() if scenario_id in p.compiled and p.locale == "en")
    assert statuses(pack, lines, scenario_id)[criterion] == status


def test_a_purpose_belongs_to_the_negated_act() -> None:
    # "to make them last" is why not to skip, halve or space out: the "not" reaches it.
    line = "Please don't skip, halve or space out your doses to make them last."
    assert negation(line, "make them last") == "not"
    assert negation("You could space out your doses to make them last.", "make them last") is None


def test_an_embedded_question_put_to_the_customer_is_the_trainees_own() -> None:
    assert negation("Can you tell me if you take warfarin?", "warfarin") is None
    assert negation("ask your doctor whether you can stop the warfarin", "warfarin") == "whether"
    # a subject clause negates when the sentence says whose call it is; a bare "whether"
    # answer (a question bank's "what to ask") names what to ask and is not negated
    line = "Whether it can be paused is your cardiologist's call."
    assert negation(line, "pause") == "whether"
    assert negation("Whether they take any other medicines.", "take") is None


def test_the_partner_drug_need_not_be_named_once_revealed(bundled: dict[str, Pack]) -> None:
    # 钱阿姨 has said she takes warfarin; "这个药" and the bleeding risk are the warning.
    pack = bundled["pharmacy-service-zh"]
    lines = ["您好，请问平时在吃什么药吗？", "这个药先别用，会增加出血风险"]
    assert statuses(pack, lines, "ibuprofen-warfarin")["bleeding-warning"] == "met"
    lines = ["您好，请问平时在吃什么药吗？", "布洛芬不会增加出血风险的，放心"]
    assert statuses(pack, lines, "ibuprofen-warfarin")["bleeding-warning"] == "missed"
    # 复查凝血 is a check-up, not the bleeding risk
    lines = ["您好，请问平时在吃什么药吗？", "下回去医院复查凝血的时候，跟医生提一句在吃这个就行"]
    assert statuses(pack, lines, "ibuprofen-warfarin")["bleeding-warning"] == "missed"


def test_what_the_trainee_grants_before_a_but_is_not_said() -> None:
    line = "I know plenty of runners take ibuprofen for their knees, but with warfarin it's a no."
    assert negation(line, "take ibuprofen") == "know"
    # without the "but" nothing is granted; after it the trainee speaks again
    assert negation("I know ibuprofen works well for knees.", "ibuprofen") is None
    line = "I understand you're in pain, but ibuprofen raises your bleeding risk."
    assert negation(line, "raise") is None
