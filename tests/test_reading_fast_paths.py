"""The fast paths of a v2 reading give what the plain rule gives (docs/performance.md).

Each test compares a shortcut with the rule it stands for, written out plainly here, on the
bundled packs' example lines and on seeded lines made of the words the rule looks for.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from sandbox.scenarios.loader import load_packs
from sandbox.scenarios.models import Pack
from sandbox.text import acts, reading
from sandbox.text.reading import Reading

PACKS = Path(__file__).resolve().parents[1] / "scenario_packs"


@pytest.fixture(scope="module")
def packs() -> list[Pack]:
    return load_packs([PACKS]).packs


def example_lines(packs: list[Pack], locale: str) -> list[str]:
    return [
        line.text
        for pack in packs
        if pack.locale == locale
        for scenario in pack.scenarios
        for example in scenario.examples
        for line in example.trainee
    ]


def seeded(words: list[str], seed: str, count: int = 3000) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice([" ", ", ", ". ", "? "]).join(
            rng.choice(words) for _ in range(rng.randint(1, 9))
        )
        for _ in range(count)
    ]


# --- request frames ----------------------------------------------------------------------

# The rule as it was written: an alternation of the frames, and a need to know.
_REQUEST = re.compile(
    "|".join(re.escape(f) for f in sorted(acts._REQUEST_FRAMES_EN, key=len, reverse=True))
)
_NEED = re.compile(r" (i|we)( will| would)?( just)? need (the|your|a|to know|to see) ")


def plain_requests(clause: str) -> bool:
    padded = f" {clause} "
    return _REQUEST.search(padded) is not None or _NEED.search(padded) is not None


def test_request_frames_are_found_word_by_word(packs: list[Pack]) -> None:
    frame_words = sorted({w for f in acts._REQUEST_FRAMES_EN for w in f.split()})
    words = frame_words + "i we will would just need the your a to know see you me it , ?".split()
    lines = example_lines(packs, "en") + seeded(words, "requests")
    found = 0
    for line in lines:
        text = Reading(line, "en").text
        for clause in [text, *re.split(r"[,;:.!?]", text), *text.split(" , ")]:
            expected = plain_requests(clause)
            assert acts._requests_en(clause) == expected, clause
            found += expected
    assert found > 500


# --- clauses and sentences ---------------------------------------------------------------


def plain_around(text: str, marks: str, at: int) -> str:
    begin = max(text.rfind(m, 0, at) for m in marks) + 1
    ends = [k for k in (text.find(m, at) for m in marks) if k >= 0]
    end = min(ends) + 1 if ends else len(text)
    return text[begin:end].strip()


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_clauses_and_sentences_are_found_between_their_marks(
    packs: list[Pack], locale: str
) -> None:
    clause_marks = ",;:.!?" if locale == "en" else "，,;；。！？!?\n"
    sentence_marks = "?!.;" if locale == "en" else "?!.;。！？；\n"
    words = ["ok", "你好", "不", *clause_marks, *sentence_marks, " ", "  ", "…", "?!"]
    lines = example_lines(packs, locale) + seeded(words, locale, 500)
    for line in lines:
        view = Reading(line, locale)
        for at in range(len(view.text) + 2):
            assert view._clause(at) == plain_around(view.text, clause_marks, at)
            assert view._sentence(at) == plain_around(view.text, sentence_marks, at)


# --- negation asked again ----------------------------------------------------------------


def test_a_negation_asked_again_is_the_same_until_the_next_message_rejects() -> None:
    before = Reading("Pseudoephedrine is totally safe for you.", "en")
    after = Reading("No sorry, that's not true.", "en")
    at = before.text.find("safe")
    assert before.negation_at(at) is None
    assert before.negation_at(at) is None  # from the memo
    word = after.opening_rejection()
    assert word is not None
    before.reject_last_sentence(word)
    found = before.negation_at(at)
    assert found is not None and found.text.startswith("next message")


# --- English chunks ------------------------------------------------------------------------


def test_a_letter_or_digit_for_the_token_regex_is_what_isalnum_accepts() -> None:
    letter_or_digit = re.compile(r"[^\W_]")
    for code in range(0x110000):
        char = chr(code)
        assert (letter_or_digit.fullmatch(char) is not None) == char.isalnum(), hex(code)


def test_chunks_read_as_the_token_regex_reads_them(packs: list[Pack]) -> None:
    from sandbox.text.lemmas import expand, lemma
    from sandbox.text.negation_en import _CLAUSE_MARKS, _V2_EN_TOKEN

    chunks = {c for line in example_lines(packs, "en") for c in line.lower().split(" ")}
    chunks |= {"", "-", "#12-3", "dont", "im", "x2", "ｘ２", "n't", "won't", "1).", "ok!!", "²"}
    for chunk in chunks:
        plain = tuple(
            token if token in _CLAUSE_MARKS else lemma(token)
            for token in expand(_V2_EN_TOKEN.findall(chunk))
        )
        assert reading._chunk_forms(chunk) == plain, chunk
