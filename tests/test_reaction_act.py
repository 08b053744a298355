"""Format v2 `act: tell` on a reaction: it fires on what a sentence tells, not on what it
asks ("have you taken isotretinoin in the past year?" tells of no wait); an error in a v1
pack, with its file, line and key."""

from __future__ import annotations

import pytest

from sandbox.engine.conversation import Conversation
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.loader import load_pack_text

PACK = """\
pack: {id: act-pack, title: Act, locale: LOCALE, format: 2}
scenarios:
  - id: laser
    title: Laser after isotretinoin
    brief: A client wants laser resurfacing.
    persona: {name: Jo, mood: eager}
    opening: "Can I book laser for next week?"
    facts:
      - {id: iso, asked_by: [~isotretinoin], reply: "I stopped isotretinoin last month."}
    reactions:
      - id: hears-wait
        when: {all: [[~isotretinoin], [six month*, 6 month*, 半年, 6个月]]}
        act: tell
        say: "That long?"
        set_mood: disappointed
      - id: hears-months
        when: {all: [[~isotretinoin], [six month*, 6 month*, 半年, 6个月]]}
        say: "Months?"
    fallback: ["Sorry?"]
    rubric:
      criteria:
        - {id: greeting, kind: etiquette, match: [hello, 您好], within_first: 1}
"""


def play(locale: str, *lines: str) -> list[tuple[str, str | None]]:
    pack = load_pack_text(PACK.replace("LOCALE", locale), "act.yaml")
    conv = Conversation.replay(
        pack.compiled["laser"], pack.locale, [(t, 20.0 * (i + 1)) for i, t in enumerate(lines)]
    )
    return [(m.kind, m.ref) for m in conv.messages if m.role == "persona"][1:]


@pytest.mark.parametrize(
    ("locale", "question", "statement"),
    [
        (
            "en",
            "Hello! Have you taken isotretinoin at any point in the last six months?",
            "After isotretinoin we wait six months before any laser.",
        ),
        ("zh-CN", "您好～最近半年有没有吃过异维A酸？", "停了异维A酸以后最好等半年再做激光。"),
    ],
)
def test_a_reaction_that_needs_a_statement_passes_over_a_question(
    locale: str, question: str, statement: str
) -> None:
    # The question reveals the fact; the reaction without `act` takes it as said, the one
    # with `act: tell` does not.
    assert play(locale, question) == [("fact", "iso"), ("reaction", "hears-months")]
    assert play(locale, statement) == [("fact", "iso"), ("reaction", "hears-wait")]


def test_act_is_an_error_in_a_v1_pack() -> None:
    text = PACK.replace("LOCALE", "en").replace(", format: 2", "")
    text = text.replace("[~isotretinoin]", "[isotretinoin]")
    with pytest.raises(PackErrors) as caught:
        load_pack_text(text, "v1.yaml")
    (error,) = caught.value.errors
    assert error.line == 13 and error.key == "scenarios.0.reactions.0.act"
    assert "'act' belongs to format 2" in error.message


def test_act_takes_only_tell() -> None:
    with pytest.raises(PackErrors) as caught:
        load_pack_text(PACK.replace("LOCALE", "en").replace("act: tell", "act: ask"), "a.yaml")
    (error,) = caught.value.errors
    assert error.line == 13 and error.key == "scenarios.0.reactions.0.act"
