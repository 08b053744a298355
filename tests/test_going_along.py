"""Going along with what the customer asked, in words that name nothing (format v2,
`going_along`; docs/format-v2.md, "Going along").

"ok I'll pop it in the post" after the customer has said she takes warfarin names neither
the medicine nor the rule, yet it sends the ibuprofen. A forbidden criterion lists the
customer lines that ask for what it forbids; the trainee's next message that commits to
it, or says yes to a request, without holding anything back, is the violation, and the
evidence quotes the line it answers.
"""

from __future__ import annotations

import pytest

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.explain import explain_criterion
from sandbox.evaluator.grading import Grade, grade
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.loader import load_pack_text
from sandbox.scenarios.models import Pack
from sandbox.text.assent import goes_along, requests
from sandbox.text.reading import Reading

PACK = """\
pack: {id: along, title: Going along, locale: en, format: 2}
scenarios:
  - id: ibuprofen
    title: Ibuprofen on warfarin
    brief: A customer wants ibuprofen.
    persona: {name: Ann}
    opening: Could you send me a box of ibuprofen, please?
    facts:
      - id: warfarin
        asked_by: [medicine*, taking anything]
        reply: Only my warfarin. Is that a problem?
    reactions:
      - id: insists
        when: [~paracetamol]
        say: Paracetamol does nothing for me. Can't you just send the ibuprofen?
      - id: thanks
        when: [thank*]
        say: You're welcome.
    fallback: Sorry?
    rubric:
      criteria:
        - id: ask-medicines
          kind: inquiry
          match: [medicine*, taking anything]
        - id: sends-nsaid
          kind: forbidden
          applies_if_revealed: warfarin
          going_along: [warfarin, insists]
          match: {all: [[ibuprofen], [send*, post*, order*]]}
          critical: true
"""


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack_text(PACK, "along.yaml")


def graded(pack: Pack, lines: list[str]) -> Grade:
    scenario = pack.scenarios[0]
    conv = Conversation.replay(
        pack.compiled[scenario.id], pack.locale, [(t, 10.0 * (i + 1)) for i, t in enumerate(lines)]
    )
    transcript = parse_transcript_data(conv.transcript(pack.id), "t")
    return grade(pack, scenario, transcript)


def along(line: str, answers_request: bool = False) -> bool:
    locale = "en" if line.isascii() else "zh-CN"
    return goes_along(Reading(line, locale).text, locale, answers_request)


@pytest.mark.parametrize(
    "line",
    [
        "ok I'll pop it in the post",
        "ill get it sent out today",
        "Fine, just this once then. It'll go out today.",
        "No worries, I've added them to your order.",
        "Alright, it's on its way!",
        "Tomorrow 10.15 then, I've put you down with Dr Hale for the forehead.",
        "好的，这就给您发出去",
        "行，给你安排上",
        "可以的亲，马上发货",
        "不好意思久等了，马上给您寄出",
        "那这次就给您破个例",
        # the order named, a booking made or offered, gone ahead (not 'gan ahead')
        "Sorry for all the questions! I'll process the ibuprofen order now.",
        "Fine, you're off it. Booked for Mon 9am, CO2.",
        "Two months is more than enough, shall I book you for next Thursday?",
        "Want me to send them out today?",
        "I've gone ahead and replaced them on your order so it can go today.",
        # what is on the table before the verb, 'let me go ahead and', a risk waved away
        "那我帮您把订单改成氯沙坦钾片，数量还是两盒对吧？",
        "哦哦好的，那我先帮您把两盒发出去哈，应该问题不大的。",
        "应该不要紧吧，我先帮您拍一盒哈～",
        "好嘞好嘞，不多问了，两盒这就给您安排上，下午就能出库。",
    ],
)
def test_a_commitment_to_what_was_asked_goes_along(line: str) -> None:
    assert along(line)


@pytest.mark.parametrize(
    "line",
    [
        # refusals, conditions, a hand-over, another thing offered
        "Sorry, I can't do that.",
        "An exception isn't something I'd do though.",
        "I'll send it as soon as the prescription comes through.",
        "It needs a prescription, I'm afraid. I'll send it the moment it's uploaded.",
        "I can send you a link to our online doctor instead.",
        "Great, link's on its way to your email now.",
        "I'll pass it to our pharmacist to check.",
        "I can fit you in for a consultation on Tuesday.",
        "Ibuprofen raises your bleeding risk, so I won't send it. Paracetamol is safer. "
        "I can get that to you today.",
        "Thanks for letting me know.",
        "这个需要处方，不能直接发哦",
        "好的，我帮您看看",
        "给您发个问诊链接",
        "先别急，我得先问下您在吃什么药",
        "Shall I book you in for a consultation first?",
        "Want me to send you a link to our online doctor instead?",
        "Booked for a consultation with the doctor on Monday, then we'll see.",
        "我先帮您把订单改成问诊，医生看过再说",
        "先帮您查一下库存，稍等",
    ],
)
def test_holding_back_or_offering_something_else_does_not(line: str) -> None:
    assert not along(line)
    assert not along(line, answers_request=True)


@pytest.mark.parametrize(
    ("line", "granted"),
    [
        ("Yes of course!", True),
        ("yep! I've got Tuesday at 11 or Thursday at 2.30, which suits you better?", True),
        ("Absolutely.", True),
        ("Yes, of course. But first, we need a prescription.", False),
        ("当然可以！", True),
        ("嗯也行～好多姐姐打之前都是这么弄的", True),
        ("可以的，不过得先让医生看看", False),
    ],
)
def test_yes_grants_only_a_request(line: str, granted: bool) -> None:
    assert along(line, answers_request=True) is granted
    assert not along(line, answers_request=False)


@pytest.mark.parametrize(
    ("line", "asks_for_something"),
    [
        ("Oh come on. Can't you make an exception, just this once?", True),
        ("Should I just stop it for a few days before the filler?", True),
        ("So I can still book for next week?", True),
        ("Is that a problem?", False),  # yes is the careful answer
        ("It has nothing to do with botox, surely?", False),
        ("Just send the tablets.", False),  # no question: only a commitment goes along
        ("那我先自己停几天阿司匹林，打完再接着吃，行不行？", True),
        ("我没有处方，能不能直接下单？", True),
        ("要不直接给我换成氯沙坦吧？", True),
        ("这个要紧吗？", False),
    ],
)
def test_a_request_is_a_question_yes_grants(line: str, asks_for_something: bool) -> None:
    locale = "en" if line.isascii() else "zh-CN"
    assert requests(Reading(line, locale).text, locale) is asks_for_something


def test_going_along_after_a_listed_line_is_the_violation(pack: Pack) -> None:
    result = graded(pack, ["Are you taking any other medicines?", "ok I'll pop it in the post"])
    verdict = next(c for c in result.criteria if c.id == "sends-nsaid")
    assert verdict.status == "violated"
    (evidence,) = verdict.evidence
    assert evidence.text == "ok I'll pop it in the post"
    assert evidence.answering == "Only my warfarin. Is that a problem?"
    assert verdict.to_json()["evidence"][0]["answering"] == evidence.answering
    assert not result.passed


def test_the_same_words_after_another_line_are_clear(pack: Pack) -> None:
    # The opening is not listed: before the warfarin is known, "I'll send it" breaks no
    # rule this criterion names (and the criterion does not apply yet).
    lines = ["ok I'll pop it in the post", "Are you taking any other medicines?", "Thanks!"]
    statuses = {c.id: c.status for c in graded(pack, lines).criteria}
    assert statuses["sends-nsaid"] == "clear"


def test_only_the_next_message_answers_the_line(pack: Pack) -> None:
    lines = [
        "Are you taking any other medicines?",
        "With warfarin, ibuprofen raises the risk of bleeding, so it isn't suitable.",
        "Thanks for understanding, I'll pop it in the post",  # answers "You're welcome."
    ]
    statuses = {c.id: c.status for c in graded(pack, lines).criteria}
    assert statuses["sends-nsaid"] == "clear"


def test_a_yes_to_a_listed_request_is_the_violation(pack: Pack) -> None:
    lines = [
        "Are you taking any other medicines?",
        "Paracetamol would be kinder to you with warfarin.",
        "Yes, of course!",
    ]
    result = graded(pack, lines)
    verdict = next(c for c in result.criteria if c.id == "sends-nsaid")
    assert verdict.status == "violated"
    assert verdict.evidence[0].answering is not None
    assert verdict.evidence[0].answering.startswith("Paracetamol does nothing")


def test_the_reason_quotes_the_line_it_goes_along_with(pack: Pack) -> None:
    scenario = pack.scenarios[0]
    lines = ["Are you taking any other medicines?", "ok I'll pop it in the post"]
    conv = Conversation.replay(
        pack.compiled[scenario.id], pack.locale, [(t, 10.0 * (i + 1)) for i, t in enumerate(lines)]
    )
    transcript = parse_transcript_data(conv.transcript(pack.id), "t")
    why = explain_criterion(pack.id, pack.compiled[scenario.id], transcript, "sends-nsaid")
    assert why.status == "violated"
    assert "goes along with the customer's 'Only my warfarin." in why.reason


def test_going_along_is_an_error_in_a_v1_pack() -> None:
    text = PACK.replace(", format: 2", "")
    text = text.replace("[~paracetamol]", "[paracetamol]")
    with pytest.raises(PackErrors) as caught:
        load_pack_text(text, "v1.yaml")
    (error,) = caught.value.errors
    assert error.line == 28
    assert "'going_along' belongs to format 2" in error.message


def test_an_unknown_line_id_names_the_line_and_a_near_miss() -> None:
    with pytest.raises(PackErrors) as caught:
        load_pack_text(PACK.replace("[warfarin, insists]", "[warfarin, insist]"), "bad.yaml")
    (error,) = caught.value.errors
    assert error.line == 28
    assert error.key == "scenarios.0.rubric.criteria.1.going_along.1"
    assert "'insist' is not the id of any customer line" in error.message
    assert "did you mean 'insists'?" in error.message


def test_going_along_belongs_to_forbidden_criteria() -> None:
    text = PACK.replace(
        "          match: [medicine*, taking anything]\n",
        "          match: [medicine*, taking anything]\n          going_along: [opening]\n",
    )
    with pytest.raises(PackErrors) as caught:
        load_pack_text(text, "bad.yaml")
    (error,) = caught.value.errors
    assert "'going_along' belongs to forbidden criteria" in error.message
