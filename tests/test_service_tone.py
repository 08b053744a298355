"""Format v2's English tone (docs/tone.md, "Format v2"): apologies, sympathy and the
words of a warning are courteous; curt service phrases TextBlob reads as neutral are not.
A v1 pack keeps TextBlob's polarity exactly, as the contract says."""

from __future__ import annotations

import pytest

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import grade
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.loader import load_pack_text
from sandbox.text.polarity import textblob_polarity
from sandbox.text.tone import DEFAULT_MIN, tone

COURTEOUS = [
    "hi sorry ur not well do u have a prescripton for it",
    "cant send amoxicilin without a prescripton sorry its the rules",
    "Mrs Haddad, I'm very sorry this has happened.",
    "And are you allergic to any medicines, or have you ever reacted badly to one?",
    "hi Ms Nolan, sorry about that, thats really annoying. can u give me the order number?",
    "Hello Mrs Hadley, sorry to hear about your ankle - gardening injuries are the worst!",
    "I'm afraid I can't. What I can do is speak to you both together.",
    "If it gets worse or you see a nasty bruise, please ring your clinic.",
]
CURT = [
    "Not my problem, deal with it.",
    "Whatever. Read the label.",
    "Oh whatever, just google it",
    "I already told you, it's out of stock.",
    "That's your own fault for not checking.",
    "You are stupid.",  # TextBlob's own insults stay
]


@pytest.mark.parametrize("line", COURTEOUS)
def test_apologies_sympathy_and_warnings_are_courteous_in_v2(line: str) -> None:
    assert tone(line, "en") < DEFAULT_MIN  # what TextBlob makes of them
    assert tone(line, "en", v2=True) >= DEFAULT_MIN


@pytest.mark.parametrize("line", CURT)
def test_curt_phrases_are_below_the_floor_in_v2(line: str) -> None:
    assert tone(line, "en", v2=True) < DEFAULT_MIN


@pytest.mark.parametrize(
    "line",
    [
        "She can give permission for you to deal with it, then we can help.",
        "I can deal with it for you today.",
        "Thank you, that is good.",
    ],
)
def test_the_same_words_in_service_are_not_curt(line: str) -> None:
    assert tone(line, "en", v2=True) >= 0


@pytest.mark.parametrize("line", COURTEOUS + CURT)
def test_v1_reads_exactly_textblob(line: str) -> None:
    assert tone(line, "en") == textblob_polarity(line)


PACK = """\
pack: {{id: tone, title: Tone, locale: en{fmt}}}
scenarios:
  - id: late
    title: A late parcel
    brief: A parcel is late.
    persona: {{name: Ann}}
    opening: My parcel is late.
    fallback: Go on.
    rubric:
      criteria:
        - {{id: tone, kind: etiquette, check: tone}}
"""


@pytest.mark.parametrize(("fmt", "status"), [("", "missed"), (", format: 2", "met")])
def test_an_apologetic_conversation_passes_the_v2_tone_check(fmt: str, status: str) -> None:
    pack = load_pack_text(PACK.format(fmt=fmt), "tone.yaml")
    lines = [
        "hi so sorry about that",
        "im really sorry its stuck at the depot",
        "sorry again for the hassle",
    ]
    conv = Conversation.replay(
        pack.compiled["late"], "en", [(t, 10.0 * (i + 1)) for i, t in enumerate(lines)]
    )
    result = grade(pack, "late", parse_transcript_data(conv.transcript(pack.id), "t"))
    assert result.criteria[0].status == status


def test_every_hostile_phrase_holds_a_key_word() -> None:
    from sandbox.text.tone import ENGLISH_HOSTILE, ENGLISH_HOSTILE_ORDERS, HOSTILE_KEYS

    for phrase in (*ENGLISH_HOSTILE, *ENGLISH_HOSTILE_ORDERS):
        assert any(key in phrase for key in HOSTILE_KEYS), phrase
