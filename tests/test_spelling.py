"""Format v2 reads an English word through one typo when it is unknown to the dictionary
and one typo from exactly one longer word of the scenario's own phrases (docs/format-v2.md,
"Reading English"): staff typing on a phone write "prescripton" and "ibuprofin"."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import grade
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.loader import load_packs
from sandbox.scenarios.models import Pack
from sandbox.text.reading import Literals, Reading

ROOT = Path(__file__).resolve().parent.parent
WORDS = Literals(("prescription", "ibuprofen", "aspirin", "hardly", "warfarin", "no prescri"))


def read(line: str) -> str:
    return Reading(line, "en", WORDS).text


@pytest.mark.parametrize(
    ("line", "word"),
    [
        ("do u have a prescripton", "prescription"),  # a letter left out
        ("ibuprofin isnt safe", "ibuprofen"),  # a letter changed
        ("no asprin either", "aspirin"),  # a letter left out, a six-letter typo
        ("on warfarnin", "warfarin"),  # a letter added
        ("a perscription", "prescription"),  # two letters swapped
    ],
)
def test_a_typo_reads_as_the_word(line: str, word: str) -> None:
    assert word in read(line).split()


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("hi Mrs Hadley", "hadley"),  # a name, written with a capital
        ("a prescribed course", "prescribe"),  # a word the dictionary knows
        ("hardy", "hardy"),  # too short to read through a typo
    ],
)
def test_known_words_names_and_short_words_stay(line: str, kept: str) -> None:
    assert kept in read(line).split()


def test_an_unknown_word_near_two_words_stays() -> None:
    two = Literals(("ibuprofen", "ibuprofan"))
    assert "ibuprofun" in Reading("ibuprofun", "en", two).text.split()


@pytest.fixture(scope="module")
def pharmacy() -> Pack:
    return next(
        p for p in load_packs([ROOT / "scenario_packs"]).packs if p.id == "pharmacy-service-en"
    )


def test_a_typed_in_a_hurry_warning_counts(pharmacy: Pack) -> None:
    lines = [
        "hi are u on any other medicatoin",
        "ibuprofin isnt safe with warferin it can make u bleed",
        "paracetmol is safer",
    ]
    conv = Conversation.replay(
        pharmacy.compiled["ibuprofen-on-warfarin"],
        "en",
        [(t, 20.0 * (i + 1)) for i, t in enumerate(lines)],
    )
    assert "on-warfarin" in conv.revealed
    result = grade(
        pharmacy, "ibuprofen-on-warfarin", parse_transcript_data(conv.transcript(pharmacy.id), "t")
    )
    statuses = {c.id: c.status for c in result.criteria}
    assert statuses["nsaid-warning"] == "met"
    assert statuses["paracetamol-alternative"] == "met"
    assert statuses["recommends-nsaid"] == "clear"
