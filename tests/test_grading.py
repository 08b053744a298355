"""Grading (format sections 5 and 6), the built-in checks and the examples runner (section 7).

Packs are built from small dictionaries and loaded through the real loader, transcripts are
played through the real engine (or written out by hand where the test is about what a
transcript may contain), and grades are read through `Grade.to_json()`: the shape that
`sandbox grade` prints.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
import yaml
from textblob import TextBlob

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.examples import Failure, run_pack
from sandbox.evaluator.grading import (
    CriterionResult,
    Grade,
    grade,
    grade_compiled,
    kept_verdicts,
)
from sandbox.evaluator.scoring import score_verdicts
from sandbox.evaluator.transcript import Transcript, TranscriptMessage, parse_transcript_data
from sandbox.scenarios import models
from sandbox.scenarios.loader import load_pack, load_pack_text
from sandbox.scenarios.models import CompiledScenario, Pack, Scenario, Screen
from sandbox.text.matcher import Text
from sandbox.text.reading import Reading
from sandbox.text.tone import is_shouting

# --- factories ----------------------------------------------------------------------------

NUDGE = "Hello? Are you still there?"
FACT_PILLS = "I take pills for my blood pressure."
FACT_ALLERGY = "No allergies that I know of."
CALMS = "Saline, fine, I'll try that."


def crit(criterion_id: str, kind: str = "inquiry", **options: Any) -> dict[str, Any]:
    """One rubric criterion as a pack author writes it."""
    return {"id": criterion_id, "kind": kind, **options}


def scenario(
    *criteria: dict[str, Any], pass_mark: float | None = None, **overrides: Any
) -> dict[str, Any]:
    rubric: dict[str, Any] = {"criteria": list(criteria)}
    if pass_mark is not None:
        rubric["pass_mark"] = pass_mark
    data: dict[str, Any] = {
        "id": "s",
        "title": "A customer with a cold",
        "brief": "A customer has a cold and wants something for it.",
        "time_limit_s": 100,
        "persona": {"name": "Ann", "mood": "worried"},
        "opening": "Hi, I have a cold.",
        "facts": [
            {"id": "takes-pills", "asked_by": ["medication*"], "reply": FACT_PILLS},
            {"id": "no-allergies", "asked_by": ["allerg*"], "reply": FACT_ALLERGY},
        ],
        "reactions": [
            {"id": "calms", "when": ["saline"], "say": CALMS, "set_mood": "calm"},
        ],
        "fallback": ["Sorry?"],
        "ends_when": ["goodbye"],
        "farewell": "Bye then.",
        "rubric": rubric,
    }
    data.update(overrides)
    return data


def make_pack(
    *criteria: dict[str, Any], locale: str = "en", pass_mark: float | None = None, **overrides: Any
) -> Pack:
    data = {
        "pack": {"id": "tests", "title": "Test pack", "locale": locale},
        "scenarios": [scenario(*criteria, pass_mark=pass_mark, **overrides)],
    }
    return load_pack_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "t.yaml")


Line = str | tuple[str, float]


def timed(lines: tuple[Line, ...]) -> list[tuple[str, float]]:
    """Trainee lines with their times: 10 s after the previous one unless given."""
    out: list[tuple[str, float]] = []
    at = 0.0
    for line in lines:
        text, at = line if isinstance(line, tuple) else (line, at + 10)
        out.append((text, at))
    return out


def played(pack: Pack, *lines: Line) -> dict[str, Any]:
    """The transcript JSON the engine writes for these trainee lines."""
    conversation = Conversation.replay(pack.compiled["s"], pack.locale, timed(lines))
    return conversation.transcript(pack.id)


def transcript_of(data: dict[str, Any]) -> Transcript:
    return parse_transcript_data(json.loads(json.dumps(data)), "<test>")


def graded(pack: Pack, *lines: Line) -> dict[str, Any]:
    """The grade JSON of a conversation played through the engine."""
    return grade(pack, "s", transcript_of(played(pack, *lines))).to_json()


def handwritten(pack: Pack, *messages: tuple[str, str, float]) -> dict[str, Any]:
    """The grade JSON of a transcript written out by hand: (role, text, at) each."""
    data = {
        "pack": pack.id,
        "scenario": "s",
        "messages": [{"role": r, "text": t, "at": a} for r, t, a in messages],
    }
    return grade(pack, "s", transcript_of(data)).to_json()


def criterion(grade_json: dict[str, Any], criterion_id: str) -> dict[str, Any]:
    return next(c for c in grade_json["criteria"] if c["id"] == criterion_id)


def status(grade_json: dict[str, Any], criterion_id: str) -> str:
    return str(criterion(grade_json, criterion_id)["status"])


# --- every kind ---------------------------------------------------------------------------


def test_disclosure_is_met_by_a_trainee_message_that_says_it_with_that_message_as_evidence():
    pack = make_pack(crit("swelling", "disclosure", match=["swelling"]))
    result = graded(pack, "Hello there.", "It may cause some swelling.")
    # 0 opening, 1 "Hello there.", 2 fallback, 3 the disclosure
    assert criterion(result, "swelling") == {
        "id": "swelling",
        "kind": "disclosure",
        "status": "met",
        "weight": 1,
        "evidence": [{"message": 3, "text": "It may cause some swelling."}],
    }


def test_disclosure_is_negation_aware():
    pack = make_pack(crit("swelling", "disclosure", match=["swelling"]))
    result = graded(pack, "It won't cause any swelling.")
    assert status(result, "swelling") == "missed"
    assert criterion(result, "swelling")["evidence"] == []


def test_inquiry_has_no_negation_rule_while_disclosure_of_the_same_phrase_has():
    pack = make_pack(
        crit("ask", "inquiry", match=["medication*"]),
        crit("says", "disclosure", match=["medication*"]),
    )
    result = graded(pack, "You don't take medication, do you?")
    assert status(result, "ask") == "met"
    assert status(result, "says") == "missed"


def test_contraindication_is_met_by_a_warning_and_not_by_its_negation():
    warn = crit("warn", "contraindication", match={"all": [["decongestant*"], ["raise*"]]})
    pack = make_pack(warn)
    assert status(graded(pack, "Decongestants can raise your blood pressure."), "warn") == "met"
    assert status(graded(pack, "Decongestants won't raise your blood pressure."), "warn") == (
        "missed"
    )


def test_etiquette_with_match_is_met_by_a_matching_message_and_ignores_negation():
    pack = make_pack(
        crit("thanks", "etiquette", match=["thank*"]),
        crit("thanks-said", "disclosure", match=["thank*"]),
    )
    result = graded(pack, "I can't thank you enough for your patience.")
    assert status(result, "thanks") == "met"
    assert status(result, "thanks-said") == "missed"
    assert status(graded(pack, "Hello."), "thanks") == "missed"


def test_outcome_mood_holds_on_the_final_mood():
    pack = make_pack(crit("calmed", "outcome", mood="calm"))
    assert status(graded(pack, "Try saline."), "calmed") == "met"
    assert status(graded(pack, "Hello."), "calmed") == "missed"
    assert criterion(graded(pack, "Try saline."), "calmed")["evidence"] == []


def test_outcome_revealed_holds_when_the_fact_was_revealed():
    pack = make_pack(crit("learnt", "outcome", revealed="takes-pills"))
    assert status(graded(pack, "Any medication?"), "learnt") == "met"
    assert status(graded(pack, "Any allergies?"), "learnt") == "missed"


def test_forbidden_is_violated_when_said_clear_when_not_and_is_negation_aware():
    pack = make_pack(crit("no-guarantee", "forbidden", match=["guarantee*"]))
    violated = graded(pack, "I guarantee it works.")
    assert criterion(violated, "no-guarantee") == {
        "id": "no-guarantee",
        "kind": "forbidden",
        "status": "violated",
        "penalty": 10,
        "evidence": [{"message": 1, "text": "I guarantee it works."}],
    }
    assert status(graded(pack, "I can't guarantee results."), "no-guarantee") == "clear"
    assert status(graded(pack, "Hello."), "no-guarantee") == "clear"


# --- options: within_first, within_last, applies_if_revealed ------------------------------


def test_within_first_counts_only_the_first_messages():
    pack = make_pack(crit("greet", "etiquette", match=["hello"], within_first=1))
    assert status(graded(pack, "Hello!", "Any medication?"), "greet") == "met"
    assert status(graded(pack, "Any medication?", "Hello!"), "greet") == "missed"


def test_within_first_counts_accepted_messages_only():
    pack = make_pack(crit("greet", "etiquette", match=["hello"], within_first=1))
    # The first message is empty after normalisation: refused, so "Hello" is the first.
    result = handwritten(
        pack,
        ("persona", "Hi, I have a cold.", 0),
        ("trainee", "  \n ", 5),
        ("trainee", "Hello!", 10),
    )
    assert result["ignored_messages"] == [1]
    assert criterion(result, "greet")["evidence"] == [{"message": 2, "text": "Hello!"}]


def test_within_last_counts_only_the_last_messages():
    pack = make_pack(crit("close", "etiquette", match=["take care"], within_last=2))
    assert status(graded(pack, "Take care.", "Right.", "Okay."), "close") == "missed"
    assert status(graded(pack, "Right.", "Take care.", "Okay."), "close") == "met"


def test_within_last_counts_accepted_messages_only():
    pack = make_pack(crit("close", "etiquette", match=["take care"], within_last=1))
    result = handwritten(
        pack,
        ("persona", "Hi, I have a cold.", 0),
        ("trainee", "Take care.", 10),
        ("trainee", "   ", 20),
    )
    assert result["ignored_messages"] == [2]
    assert status(result, "close") == "met"


@pytest.mark.parametrize(("position", "expected"), [(0, "missed"), (1, "met"), (2, "missed")])
def test_within_first_and_within_last_together_need_a_message_in_both(position, expected):
    pack = make_pack(crit("greet", "etiquette", match=["hello"], within_first=2, within_last=2))
    lines = ["Right.", "Okay.", "Fine."]
    lines[position] = "Hello."
    assert status(graded(pack, *lines), "greet") == expected


def test_applies_if_revealed_makes_required_and_forbidden_criteria_not_applicable():
    pack = make_pack(
        crit("warn", "contraindication", match=["raise*"], applies_if_revealed="takes-pills"),
        crit(
            "no-decongestant",
            "forbidden",
            match=["decongestant*"],
            applies_if_revealed="takes-pills",
        ),
        crit("greet", "etiquette", match=["hello"]),
    )
    result = graded(pack, "Hello, just take a decongestant.")
    assert criterion(result, "warn")["status"] == "not_applicable"
    assert criterion(result, "no-decongestant") == {
        "id": "no-decongestant",
        "kind": "forbidden",
        "status": "not_applicable",
        "penalty": 10,
        "evidence": [],
    }
    assert result["score"] == 100.0


def test_applies_if_revealed_applies_once_the_fact_is_revealed():
    pack = make_pack(
        crit("warn", "contraindication", match=["raise*"], applies_if_revealed="takes-pills"),
        crit(
            "no-decongestant",
            "forbidden",
            match=["decongestant*"],
            applies_if_revealed="takes-pills",
        ),
    )
    result = graded(pack, "Do you take any medication?", "Then take a decongestant.")
    assert status(result, "warn") == "missed"
    assert status(result, "no-decongestant") == "violated"


def test_a_warning_given_before_the_fact_was_revealed_still_counts():
    pack = make_pack(
        crit("warn", "contraindication", match=["raise*"], applies_if_revealed="takes-pills"),
    )
    result = graded(pack, "Decongestants can raise blood pressure.", "Any medication?")
    assert criterion(result, "warn")["status"] == "met"
    assert criterion(result, "warn")["evidence"] == [
        {"message": 1, "text": "Decongestants can raise blood pressure."}
    ]


# --- critical -------------------------------------------------------------------------------

REQUIRED_KINDS_NEVER_MET = [
    crit("c", "disclosure", match=["swelling"]),
    crit("c", "inquiry", match=["allerg*"]),
    crit("c", "contraindication", match=["raise*"]),
    crit("c", "etiquette", match=["sorry"]),
    crit("c", "etiquette", check="response_time", max_s=5),
    crit("c", "outcome", mood="calm"),
    crit("c", "outcome", revealed="no-allergies"),
]


@pytest.mark.parametrize(
    "missed",
    REQUIRED_KINDS_NEVER_MET,
    ids=lambda c: f"{c['kind']}-{c.get('check') or c.get('mood') or 'x'}",
)
def test_a_critical_required_criterion_missed_fails_whatever_the_score(missed):
    heavy = crit("heavy", "etiquette", match=["hello"], weight=99)
    passing = graded(make_pack(heavy, {**missed, "critical": False}), "Hello.")
    assert status(passing, "c") == "missed"
    assert passing["score"] == 99.0
    assert passing["passed"] is True

    failing = graded(make_pack(heavy, {**missed, "critical": True}), "Hello.")
    assert failing["score"] == 99.0
    assert failing["passed"] is False
    assert failing["critical_missed"] == ["c"]
    assert failing["critical_violated"] == []


def test_a_critical_forbidden_criterion_violated_fails_whatever_the_score():
    pack = make_pack(
        crit("greet", "etiquette", match=["hello"]),
        crit("no-guarantee", "forbidden", match=["guarantee*"], penalty=0, critical=True),
    )
    result = graded(pack, "Hello, I guarantee it.")
    assert result["score"] == 100.0
    assert result["passed"] is False
    assert result["critical_violated"] == ["no-guarantee"]
    assert result["critical_missed"] == []
    clean = graded(pack, "Hello.")
    assert clean["passed"] is True
    assert clean["critical_violated"] == []


def test_a_critical_criterion_not_applicable_does_not_fail():
    pack = make_pack(
        crit("greet", "etiquette", match=["hello"]),
        crit(
            "warn",
            "contraindication",
            match=["raise*"],
            applies_if_revealed="takes-pills",
            critical=True,
        ),
    )
    result = graded(pack, "Hello.")
    assert status(result, "warn") == "not_applicable"
    assert result["passed"] is True
    assert result["critical_missed"] == []


# --- built-in checks ----------------------------------------------------------------------


def response_time_pack(max_s: float) -> Pack:
    return make_pack(
        crit("quick", "etiquette", check="response_time", max_s=max_s),
        nudge={"after_s": 20, "say": NUDGE},
    )


def test_response_time_is_measured_from_the_persona_last_line_not_from_a_nudge():
    transcript = played(response_time_pack(30), ("Hello.", 10), ("Any medication?", 45))
    texts = [m["text"] for m in transcript["messages"]]
    # 0 opening, 1 "Hello." at 10, 2 fallback at 10, 3 the nudge at 30, 4 trainee at 45
    assert texts[3] == NUDGE and transcript["messages"][3]["at"] == 30
    result = grade(response_time_pack(30), "s", transcript_of(transcript)).to_json()
    # 35 s after the fallback, though only 15 s after the nudge
    assert criterion(result, "quick")["status"] == "missed"
    assert criterion(result, "quick")["evidence"] == [{"message": 4, "text": "Any medication?"}]


def test_response_time_allows_exactly_max_s():
    result = graded(response_time_pack(35), ("Hello.", 10), ("Any medication?", 45))
    assert criterion(result, "quick")["status"] == "met"
    assert criterion(result, "quick")["evidence"] == []


def test_response_time_allows_exactly_max_s_with_decimal_times():
    # 44.2 - 14.2 is 30.000000000000004 in binary floats; the contract's "at most N
    # seconds" is about seconds as written, so 30 s after a line at 14.2 is in time.
    result = graded(response_time_pack(30), ("Hello.", 14.2), ("Any medication?", 44.2))
    assert criterion(result, "quick")["status"] == "met"
    late = graded(response_time_pack(30), ("Hello.", 14.2), ("Any medication?", 44.21))
    assert criterion(late, "quick")["status"] == "missed"


def test_response_time_of_the_first_message_counts_from_the_opening():
    assert status(graded(response_time_pack(30), ("Hello.", 30)), "quick") == "met"
    assert status(graded(response_time_pack(30), ("Hello.", 30.5)), "quick") == "missed"


def tone_pack(minimum: float | None = None, locale: str = "en") -> Pack:
    options = {} if minimum is None else {"min": minimum}
    return make_pack(crit("tone", "etiquette", check="tone", **options), locale=locale)


def polarity(text: str) -> float:
    return float(TextBlob(text).sentiment.polarity)


RUDE = "You idiot."
WARM = "Thank you, that is a great question!"
SAD = "Sadly we are out of stock."
NEUTRAL = "Your order is on its way."


def test_tone_in_english_is_the_mean_of_textblob_polarity_not_the_worst_message():
    assert polarity(RUDE) < -0.3  # the premise: one message alone would fail
    assert (polarity(RUDE) + polarity(WARM)) / 2 >= -0.3
    result = graded(tone_pack(), RUDE, WARM)
    assert criterion(result, "tone")["status"] == "met"
    assert criterion(result, "tone")["evidence"] == []


def test_tone_in_english_fails_on_insults_with_the_offending_messages_as_evidence():
    insult = "You are stupid and useless, this is a terrible question."
    result = graded(tone_pack(), NEUTRAL, insult)
    assert criterion(result, "tone")["status"] == "missed"
    evidence = [e["text"] for e in criterion(result, "tone")["evidence"]]
    assert insult in evidence
    assert NEUTRAL not in evidence


def test_tone_default_min_is_minus_0_3():
    assert polarity(SAD) < -0.3 <= (polarity(SAD) + polarity(NEUTRAL)) / 2
    assert status(graded(tone_pack(), SAD), "tone") == "missed"
    assert status(graded(tone_pack(), SAD, NEUTRAL), "tone") == "met"


def test_tone_custom_min_is_a_floor_that_the_mean_may_reach():
    mean = (polarity(SAD) + polarity(WARM)) / 2
    assert status(graded(tone_pack(mean), SAD, WARM), "tone") == "met"
    assert status(graded(tone_pack(mean + 0.01), SAD, WARM), "tone") == "missed"
    assert status(graded(tone_pack(-0.6), SAD), "tone") == "met"
    assert status(graded(tone_pack(0), NEUTRAL, SAD), "tone") == "missed"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("爱买不买", "missed"),
        ("爱买不买，就这个价。", "missed"),
        ("你是不是傻", "missed"),
        ("你是不是傻？说了多少遍了。", "missed"),
        ("不好意思，让您久等了", "met"),
        ("不好意思，让您久等了。您的订单明天送到。", "met"),
    ],
)
def test_tone_in_chinese_tells_rudeness_from_courtesy(text, expected):
    result = graded(tone_pack(locale="zh-CN"), text)
    assert status(result, "tone") == expected


def test_tone_in_chinese_takes_a_custom_min_on_its_own_scale():
    courteous = "不好意思，让您久等了"
    assert status(graded(tone_pack(0.5, locale="zh-CN"), "订单明天到。"), "tone") == "missed"
    assert status(graded(tone_pack(0.5, locale="zh-CN"), courteous), "tone") == "met"


@pytest.mark.parametrize(
    ("text", "shouting"),
    [
        ("Please hold on!!!", True),
        ("Where is it?!!!?", True),
        ("WHERE IS YOUR ORDER", True),
        ("OKAY", True),  # 4 cased letters, all capitals
        ("ABCd", True),  # 3 of 4 capitals: more than half
        ("ABcd", False),  # 2 of 4: not more than half
        ("ABCdef", False),  # 3 of 6: exactly half is not more than half
        ("ABCDef", True),
        ("OK", False),  # fewer than 4 cased letters
        ("NHS!", False),
        ("Hello!!", False),
        ("I checked the NHS guidance for you.", False),
        ("您好，订单明天到。", False),
    ],
)
def test_no_shouting(text, shouting):
    pack = make_pack(crit("calm-voice", "etiquette", check="no_shouting"))
    result = graded(pack, "Hello.", text)
    assert status(result, "calm-voice") == ("missed" if shouting else "met")
    expected_evidence = [{"message": 3, "text": text}] if shouting else []
    assert criterion(result, "calm-voice")["evidence"] == expected_evidence


def shouting_by_the_rule(text: str) -> bool:
    """The no_shouting rule with str.isupper and str.islower on every character."""
    if "!!!" in text.replace("！", "!"):
        return True
    upper = sum(map(str.isupper, text))
    cased = upper + sum(map(str.islower, text))
    return cased >= 4 and upper * 2 > cased


def test_shouting_is_counted_as_the_rule_counts_on_ascii_and_other_text() -> None:
    # `is_shouting` counts ASCII capitals with bytes.translate; every ASCII character, and
    # random strings mixing them with accented and Greek letters, count as str.isupper does.
    ascii_chars = [chr(c) for c in range(128)]
    for ch in ascii_chars:
        assert is_shouting(ch * 4) == shouting_by_the_rule(ch * 4), repr(ch)
    rng = random.Random(5)
    alphabet = "aAbBzZ09 !！.?'ÉéΣσß_" + "".join(ascii_chars)
    results = set()
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        results.add(is_shouting(text))
        assert is_shouting(text) == shouting_by_the_rule(text), repr(text)
    assert results == {True, False}


@pytest.mark.parametrize(
    "check",
    [
        {"check": "response_time", "max_s": 30},
        {"check": "tone"},
        {"check": "no_shouting"},
    ],
)
def test_a_check_with_no_trainee_message_in_scope_is_not_applicable(check):
    pack = make_pack(crit("check", "etiquette", **check), crit("ask", match=["allerg*"]))
    nothing = graded(pack)
    assert status(nothing, "check") == "not_applicable"
    # only refused messages: still nothing in scope
    refused = handwritten(pack, ("persona", "Hi, I have a cold.", 0), ("trainee", " ", 500))
    assert status(refused, "check") == "not_applicable"
    # a match criterion with nothing to match is missed, not not_applicable
    assert status(nothing, "ask") == "missed"
    assert nothing["score"] == 0.0


# --- score, passed, band --------------------------------------------------------------------


def weighted(
    met: float, missed: float, *extra: dict[str, Any], pass_mark: float | None = None
) -> Pack:
    """A pack where "Hello." meets a criterion of weight `met` and misses one of `missed`."""
    return make_pack(
        crit("met", "etiquette", match=["hello"], weight=met),
        crit("missed", "etiquette", match=["never said"], weight=missed),
        *extra,
        pass_mark=pass_mark,
    )


@pytest.mark.parametrize(
    ("met", "missed", "score"),
    [
        (3, 1, 75.0),
        (2, 1, 66.7),
        (1, 2, 33.3),
        (5, 11, 31.3),  # 31.25 rounds half up
        (1, 15, 6.3),  # 6.25 rounds half up, not to even
        (1, 1, 50.0),
        (0.1, 0.2, 33.3),
    ],
)
def test_score_is_100_times_met_weights_over_applicable_weights(met, missed, score):
    assert graded(weighted(met, missed), "Hello.")["score"] == score


@pytest.mark.parametrize(
    ("met", "missed", "penalty", "score"),
    [
        (1, 7, 10.05, 2.5),  # 12.5 - 10.05 = 2.45 exactly; floats would give 2.4499...
        (0.3, 1.7, 10.05, 5.0),  # 15 - 10.05 = 4.95 exactly
        (1, 1, 0.35, 49.7),  # 49.65 rounds half up
    ],
)
def test_score_is_computed_exactly_then_rounded_half_up(met, missed, penalty, score):
    forbidden = crit("no-guarantee", "forbidden", match=["guarantee*"], penalty=penalty)
    assert graded(weighted(met, missed, forbidden), "Hello, I guarantee it.")["score"] == score


def test_score_ignores_not_applicable_criteria():
    pack = weighted(
        1,
        0.5,
        crit(
            "warn",
            "contraindication",
            match=["raise*"],
            weight=100,
            applies_if_revealed="takes-pills",
        ),
    )
    assert graded(pack, "Hello.")["score"] == 66.7


def test_score_is_100_when_no_required_criterion_applies():
    pack = make_pack(
        crit("warn", "contraindication", match=["raise*"], applies_if_revealed="takes-pills"),
        crit("no-guarantee", "forbidden", match=["guarantee*"]),
    )
    assert graded(pack, "Hello.")["score"] == 100.0
    assert graded(pack, "Hello, I guarantee it.")["score"] == 90.0


def test_a_forbidden_penalty_defaults_to_10_and_counts_once_however_often_it_is_said():
    pack = make_pack(
        crit("greet", "etiquette", match=["hello"]),
        crit("no-guarantee", "forbidden", match=["guarantee*"]),
    )
    result = graded(pack, "Hello, I guarantee it.", "Guaranteed, really.", "I guarantee it.")
    assert criterion(result, "no-guarantee")["penalty"] == 10
    assert len(criterion(result, "no-guarantee")["evidence"]) == 3
    assert result["score"] == 90.0


def test_each_violated_forbidden_criterion_subtracts_its_own_penalty():
    pack = make_pack(
        crit("greet", "etiquette", match=["hello"]),
        crit("no-guarantee", "forbidden", match=["guarantee*"], penalty=15),
        crit("no-blame", "forbidden", match=["your fault"], penalty=12.5),
        crit("no-cure", "forbidden", match=["cure"], penalty=40),
    )
    result = graded(pack, "Hello, I guarantee it.", "It is your fault.")
    assert status(result, "no-cure") == "clear"
    assert result["score"] == 72.5


def test_the_score_never_goes_below_zero():
    pack = weighted(1, 1, crit("no-guarantee", "forbidden", match=["guarantee*"], penalty=60))
    result = graded(pack, "Hello, I guarantee it.")
    assert result["score"] == 0.0
    assert result["band"] == "fail"


def test_passed_when_the_score_reaches_the_pass_mark_exactly():
    assert graded(weighted(3, 1, pass_mark=75), "Hello.")["passed"] is True
    assert graded(weighted(3, 1, pass_mark=75.1), "Hello.")["passed"] is False


def test_passed_compares_the_rounded_score():
    # 31.25 exactly, rounded to 31.3: that meets a pass mark of 31.3
    result = graded(weighted(5, 11, pass_mark=31.3), "Hello.")
    assert result["score"] == 31.3
    assert result["passed"] is True


def test_pass_mark_defaults_to_70():
    assert graded(weighted(7, 3), "Hello.")["passed"] is True
    assert graded(weighted(699, 301), "Hello.")["passed"] is False


@pytest.mark.parametrize(
    ("met", "missed", "score", "band"),
    [
        (1, 0.0001, 100.0, "excellent"),
        (9, 1, 90.0, "excellent"),
        (1799, 201, 90.0, "excellent"),  # 89.95 rounds to 90.0: bands use the rounded score
        (899, 101, 89.9, "good"),
        (7, 3, 70.0, "good"),
        (699, 301, 69.9, "pass"),
        (6, 4, 60.0, "pass"),
        (599, 401, 59.9, "fail"),
        (1, 9, 10.0, "fail"),
    ],
)
def test_bands(met, missed, score, band):
    result = graded(weighted(met, missed), "Hello.")
    assert (result["score"], result["band"]) == (score, band)


# --- the grade's JSON -----------------------------------------------------------------------


def test_grade_json_has_exactly_the_shape_of_section_6():
    pack = make_pack(
        crit("ask", "inquiry", match=["medication*"], weight=2),
        crit("soft", "etiquette", match=["sorry"], weight=1.5, critical=True),
        crit("no-guarantee", "forbidden", match=["guarantee*"]),
        crit("no-cure", "forbidden", match=["cure"], penalty=7.5),
    )
    transcript = played(pack, "Hello, do you take any medication?", "I guarantee it.")
    result = grade(pack, "s", transcript_of(transcript)).to_json()
    assert list(result) == [
        "scenario",
        "score",
        "band",
        "passed",
        "criteria",
        "critical_missed",
        "critical_violated",
        "ignored_messages",
    ]
    assert result["scenario"] == "tests/s"
    assert isinstance(result["score"], float)
    assert result["band"] in {"excellent", "good", "pass", "fail"}
    assert [c["id"] for c in result["criteria"]] == ["ask", "soft", "no-guarantee", "no-cure"]
    assert result["criteria"] == [
        {
            "id": "ask",
            "kind": "inquiry",
            "status": "met",
            "weight": 2,
            "evidence": [{"message": 1, "text": "Hello, do you take any medication?"}],
        },
        {"id": "soft", "kind": "etiquette", "status": "missed", "weight": 1.5, "evidence": []},
        {
            "id": "no-guarantee",
            "kind": "forbidden",
            "status": "violated",
            "penalty": 10,
            "evidence": [{"message": 3, "text": "I guarantee it."}],
        },
        {"id": "no-cure", "kind": "forbidden", "status": "clear", "penalty": 7.5, "evidence": []},
    ]
    # 100 × 2 / 3.5 = 57.142..., minus 10
    assert result["score"] == 47.1
    assert result["passed"] is False
    assert result["critical_missed"] == ["soft"]
    assert result["critical_violated"] == []
    assert result["ignored_messages"] == []
    # every piece of evidence names the trainee message it quotes
    for c in result["criteria"]:
        for e in c["evidence"]:
            message = transcript["messages"][e["message"]]
            assert message["role"] == "trainee" and message["text"] == e["text"]
    # and it is plain JSON, with whole weights written as integers
    text = json.dumps(result)
    assert '"weight": 2,' in text and '"penalty": 10,' in text
    assert json.loads(text) == result


def test_evidence_indexes_count_every_message_of_the_transcript_as_given():
    pack = make_pack(crit("no-guarantee", "forbidden", match=["guarantee*"]))
    result = handwritten(
        pack,
        ("persona", "Hi, I have a cold.", 0),
        ("persona", "Hello?", 1),
        ("trainee", "Hello.", 10),
        ("persona", "Sorry?", 10),
        ("persona", "Still there?", 11),
        ("trainee", "I guarantee it.", 20),
    )
    assert criterion(result, "no-guarantee")["evidence"] == [
        {"message": 5, "text": "I guarantee it."}
    ]


def test_refused_trainee_messages_are_not_graded_and_are_listed_as_ignored():
    pack = make_pack(
        crit("ask", match=["medication*"]), crit("no-guarantee", "forbidden", match=["guarantee*"])
    )
    result = handwritten(
        pack,
        ("persona", "Hi, I have a cold.", 0),
        ("trainee", " \t ", 5),  # 1: empty after normalisation
        ("trainee", "Do you take any medication?", 10),  # 2
        ("persona", FACT_PILLS, 10),
        ("trainee", "Goodbye.", 20),  # 4: ends the conversation
        ("persona", "Bye then.", 20),
        ("trainee", "I guarantee it works.", 30),  # 6: after the end
    )
    assert result["ignored_messages"] == [1, 6]
    assert status(result, "ask") == "met"
    assert status(result, "no-guarantee") == "clear"


def test_messages_past_the_time_limit_are_ignored_and_one_at_the_limit_is_graded():
    pack = make_pack(
        crit("ask", match=["medication*"]), crit("no-guarantee", "forbidden", match=["guarantee*"])
    )
    result = handwritten(
        pack,
        ("persona", "Hi, I have a cold.", 0),
        ("trainee", "Do you take any medication?", 100),  # 1: exactly the limit
        ("trainee", "I guarantee it works.", 100.5),  # 2: past it, ends the conversation
        ("trainee", "Really, I guarantee it.", 101),  # 3: after the end
    )
    assert status(result, "ask") == "met"
    assert criterion(result, "ask")["evidence"] == [
        {"message": 1, "text": "Do you take any medication?"}
    ]
    assert status(result, "no-guarantee") == "clear"
    assert result["ignored_messages"] == [2, 3]


def test_replay_ignores_persona_lines_in_the_transcript():
    pack = make_pack(
        crit("ask", match=["medication*"]),
        crit("learnt-allergies", "outcome", revealed="no-allergies"),
        crit("calmed", "outcome", mood="calm"),
        crit("quick", "etiquette", check="response_time", max_s=15),
        crit("no-guarantee", "forbidden", match=["guarantee*"]),
    )
    honest = played(pack, ("Any medication?", 10), ("Try saline.", 20))
    expected = grade(pack, "s", transcript_of(honest)).to_json()
    assert status(expected, "calmed") == "met" and status(expected, "quick") == "met"

    tampered = json.loads(json.dumps(honest))
    for message in tampered["messages"]:
        if message["role"] == "persona":
            message["text"] = "I guarantee my medication made me angry. No allergies."
            message["at"] = 0.0
            message["reveals"] = "no-allergies"
            message["mood"] = "angry"
    assert tampered["messages"] != honest["messages"]
    assert grade(pack, "s", transcript_of(tampered)).to_json() == expected


def test_grade_returns_the_replayed_conversation():
    pack = make_pack(crit("ask", match=["medication*"]))
    result: Grade = grade(pack, "s", transcript_of(played(pack, "Any medication?", "saline")))
    assert result.conversation.revealed == ["takes-pills"]
    assert result.conversation.mood == "calm"


# --- the examples runner ------------------------------------------------------------------

EXAMPLE_LINES = ["Hello, do you take any medication?", "Saline is fine."]


def example_pack(expect: dict[str, Any], trainee: list[Any] | None = None) -> Pack:
    """A pack with one example: by default greet and ask are met, warn is missed, forb is
    clear, takes-pills is revealed, the mood ends calm and the score is 66.7 (not passed)."""
    return make_pack(
        crit("greet", "etiquette", match=["hello"]),
        crit("ask", match=["medication*"]),
        crit("warn", "contraindication", match=["raise*"], applies_if_revealed="takes-pills"),
        crit("forb", "forbidden", match=["guarantee*"]),
        examples=[{"name": "the example", "trainee": trainee or EXAMPLE_LINES, "expect": expect}],
    )


def failures(expect: dict[str, Any], trainee: list[Any] | None = None) -> dict[str, Failure]:
    (result,) = run_pack(example_pack(expect, trainee))
    assert (result.pack, result.scenario, result.example) == ("tests", "s", "the example")
    assert result.passed == (not result.failures)
    return {f.expectation: f for f in result.failures}


@pytest.mark.parametrize(
    ("expect", "failing"),
    [
        ({}, []),
        ({"met": ["greet", "ask"]}, []),
        ({"met": ["greet"]}, []),  # need not name every met criterion
        ({"met": ["warn"]}, ["met: warn"]),
        ({"met": ["greet", "forb"]}, ["met: forb"]),
        ({"missed": ["warn"]}, []),
        ({"missed": []}, ["missed"]),  # an empty list: no criterion missed
        ({"missed": ["ask"]}, ["missed: ask"]),
        ({"violated": []}, []),
        ({"violated": ["forb"]}, ["violated: forb"]),
        ({"not_applicable": []}, []),
        ({"not_applicable": ["warn"]}, ["not_applicable: warn"]),
        ({"revealed": ["takes-pills"]}, []),
        ({"revealed": []}, ["revealed"]),
        ({"revealed": ["takes-pills", "no-allergies"]}, ["revealed"]),
        ({"mood": "calm"}, []),
        ({"mood": "worried"}, ["mood"]),
        ({"score_min": 66.7, "score_max": 66.7}, []),
        ({"score_min": 66.8}, ["score_min"]),
        ({"score_max": 66.6}, ["score_max"]),
        ({"passed": False}, []),
        ({"passed": True}, ["passed"]),
        ({"passed": True, "mood": "angry", "met": ["warn"]}, ["passed", "mood", "met: warn"]),
    ],
)
def test_examples_runner_checks_each_expectation(expect, failing):
    assert sorted(failures(expect)) == sorted(failing)


def test_examples_runner_reports_expected_and_actual():
    found = failures(
        {
            "met": ["warn"],
            "missed": [],
            "revealed": [],
            "mood": "angry",
            "score_min": 90,
            "passed": True,
        }
    )
    assert (found["met: warn"].expected, found["met: warn"].actual) == ("met", "missed")
    assert "warn" in found["missed"].actual
    assert "takes-pills" in found["revealed"].actual
    assert (found["mood"].expected, found["mood"].actual) == ("angry", "calm")
    assert "90" in found["score_min"].expected and "66.7" in found["score_min"].actual
    assert (found["passed"].expected, found["passed"].actual.split()[0]) == ("true", "false")


def test_examples_empty_violated_and_not_applicable_fail_when_some_criterion_has_that_status():
    lines = ["Hello, I guarantee it."]  # nothing revealed: warn is not applicable
    found = failures({"violated": [], "not_applicable": []}, lines)
    assert sorted(found) == ["not_applicable", "violated"]
    assert "forb" in found["violated"].actual
    assert "warn" in found["not_applicable"].actual
    assert failures({"violated": ["forb"], "not_applicable": ["warn"]}, lines) == {}


def test_examples_revealed_is_an_exact_set_in_any_order():
    lines = ["Any medication?", "Any allergies?"]
    assert failures({"revealed": ["no-allergies", "takes-pills"]}, lines) == {}
    assert sorted(failures({"revealed": ["takes-pills"]}, lines)) == ["revealed"]


@pytest.mark.parametrize(
    ("says", "failing"),
    [
        (["Hi, I have", "take pills", CALMS], []),  # the opening counts; across lines in order
        (["take pills", "blood pressure"], []),  # two within one line, in order
        (["cold.", "I take"], []),  # across lines
        (["Hi", "Saline"], []),  # other lines between them
        (["pills", "Hi"], ["persona_says[1]"]),  # out of order
        (["blood pressure", "take pills"], ["persona_says[1]"]),  # out of order within a line
        (["pills", "pills"], ["persona_says[1]"]),  # each after the end of the one before
        (["hi, i have"], ["persona_says[0]"]),  # case-sensitive
        (["Do you take"], ["persona_says[0]"]),  # the trainee's lines do not count
    ],
)
def test_examples_persona_says_in_order(says, failing):
    assert sorted(failures({"persona_says": says})) == failing


def test_examples_persona_says_across_lines_needs_a_second_occurrence_to_repeat():
    lines = ["Hmm.", "Hmm."]  # the fallback "Sorry?" is said twice
    assert failures({"persona_says": ["Sorry?", "Sorry?"]}, lines) == {}
    assert sorted(failures({"persona_says": ["Sorry?", "Sorry?", "Sorry?"]}, lines)) == [
        "persona_says[2]"
    ]


def test_examples_use_given_times_and_default_to_ten_seconds_after_the_previous():
    pack = make_pack(
        crit("quick", "etiquette", check="response_time", max_s=10),
        examples=[
            {"name": "defaults", "trainee": ["Hello.", "Okay."], "expect": {"met": ["quick"]}},
            {
                "name": "slow",
                "trainee": [{"text": "Hello.", "at": 5}, "Okay.", {"text": "Late.", "at": 26}],
                "expect": {"missed": ["quick"]},
            },
        ],
    )
    assert [r.failures for r in run_pack(pack)] == [[], []]


# --- the fast paths give what trying everything gives -------------------------------------
#
# The engine and the grader try a matcher on a message only when the scenario's screen
# (`CompiledScenario.screen`, memoised per set of literals present) admits it, and judge each
# criterion over a range of positions. These tests compare them with the plain rule: every
# matcher's `matches` on every message in scope, the scope taken as the lists the format
# describes, on the repository's packs and on seeded messages made of their own phrases.

PACK_DIRS = [Path(__file__).resolve().parents[1] / "scenario_packs"]
FILLERS = {
    "en": [
        "not",
        "no",
        "never",
        "don't",
        "no more than",
        "but",
        "without",
        "Hello",
        "Thanks",
        ",",
        ".",
        "!",
        "?",
        "it's",
        "really",
        "can't",
        "doctor's",
        "ＡＢＣ",
        "—",
    ],
    "zh-CN": [
        "不",
        "没有",
        "不能",
        "但是",
        "但",
        "不超过",
        "您好",
        "谢谢",
        "，",
        "。",
        "！",
        "不是",
        "无",
    ],
}


def pack_phrases(scenario: Scenario) -> list[str]:
    specs = [f.asked_by for f in scenario.facts] + [r.when for r in scenario.reactions]
    specs += [c.match for c in scenario.rubric.criteria if c.match is not None]
    specs += [scenario.ends_when] if scenario.ends_when is not None else []
    phrases = {p for spec in specs for p in [*spec.any, *spec.not_, *chain(*spec.all)]}
    return sorted(p.replace("*", "s") for p in phrases)


def corpus(pack: Pack, scenario: Scenario, count: int = 12) -> list[list[tuple[str, float]]]:
    """The scenario's examples, then `count` seeded conversations of its phrases and fillers."""
    conversations = [example.timed_lines() for example in scenario.examples]
    words = pack_phrases(scenario) + FILLERS[pack.locale]
    rng = random.Random(f"{pack.id}/{scenario.id}")
    for _ in range(count):
        at, lines = 0.0, []
        for _ in range(rng.randint(1, 24)):
            at += rng.choice([0, 3, 20, 61, 95])
            sep = rng.choice([" ", ", ", ". ", ""])
            lines.append((sep.join(rng.choice(words) for _ in range(rng.randint(0, 4))), at))
        conversations.append(lines)
    return conversations


def repository_packs() -> list[Pack]:
    packs = [load_pack(path) for d in PACK_DIRS for path in sorted(d.glob("*.yaml"))]
    assert len(packs) >= 2 and {p.locale for p in packs} == {"en", "zh-CN"}
    return packs


def unreviewed(record: dict[str, Any]) -> dict[str, Any]:
    """A grade record without its review flags."""
    criteria = [{k: v for k, v in c.items() if k != "review"} for c in record["criteria"]]
    return {**record, "criteria": criteria, "needs_review": None}


def admit_everything(compiled: CompiledScenario) -> Callable[[frozenset[str]], Screen]:
    """A screen that lets every matcher through, so each is decided by its `confirm`."""
    everything = Screen(
        tuple(True for _ in compiled.facts),
        tuple(True for _ in compiled.reactions),
        compiled.ends_when is not None,
        tuple(i for i, (_, m) in enumerate(compiled.criteria) if m is not None),
    )
    return lambda present: everything


def plain_evidence(compiled: CompiledScenario, grade: Grade, transcript: Transcript) -> list[Any]:
    """Each criterion's evidence by the plain rule, from the messages the grade graded."""
    ignored = set(grade.ignored_messages)
    graded = [
        # No universe: literals tested one by one (a v2 scenario reads its messages its way).
        (
            index,
            text,
            # The literals as a plain tuple: tested one by one, and typos read the same way.
            Reading(text, compiled.locale, tuple(compiled.literals))
            if compiled.v2
            else Text(text, compiled.locale),
        )
        for index, text, _ in transcript.trainee_lines()
        if index not in ignored
    ]
    evidence: list[Any] = []
    for criterion, matcher in compiled.criteria:
        scope = graded[: criterion.within_first] if criterion.within_first else graded
        if criterion.within_last is not None:
            last = graded[-criterion.within_last :]
            scope = [m for m in scope if m in last]
        if matcher is None or (
            criterion.applies_if_revealed is not None
            and criterion.applies_if_revealed not in grade.conversation.revealed
        ):
            evidence.append(None)
            continue
        negation, act = criterion.negation_aware, compiled.act(criterion)
        evidence.append([(i, t) for i, t, view in scope if matcher.matches(view, negation, act)])
    return evidence


def test_the_screen_admits_a_matcher_exactly_when_its_literal_test_passes() -> None:
    tried = 0
    for pack in repository_packs():
        for scenario in pack.scenarios:
            compiled = pack.compiled[scenario.id]
            matchers = [m for _, m in compiled.facts] + [m for _, m in compiled.reactions]
            for lines in corpus(pack, scenario):
                for text, _ in lines:
                    view = Text(text, pack.locale, compiled.literals)
                    plain = Text(text, pack.locale)  # no universe: no screen, no shared set
                    screen = compiled.screen(view.present())
                    admitted = list(screen.facts + screen.reactions)
                    for matcher, admits in zip(matchers, admitted, strict=True):
                        for negation in (False, True):
                            tried += 1
                            assert (admits and matcher.confirm(view, negation)) == (
                                matcher.matches(plain, negation)
                            ), (text, matcher)
                    for i, (criterion, matcher) in enumerate(compiled.criteria):
                        if matcher is not None:
                            assert (i in screen.criteria and matcher.confirm(view)) == (
                                matcher.matches(plain)
                            ), (text, criterion.id)
    assert tried > 1000


def test_grading_through_the_screen_equals_trying_every_matcher_on_every_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graded = violated = 0
    for pack in repository_packs():
        for scenario in pack.scenarios:
            compiled = pack.compiled[scenario.id]
            for lines in corpus(pack, scenario):
                transcript = Transcript(
                    pack.id,
                    scenario.id,
                    [
                        TranscriptMessage(role, text, at)
                        for text, at in lines
                        for role in ("persona", "trainee")
                    ],
                )
                for limit in (None, 150.0):
                    fast = grade_compiled(pack.id, compiled, transcript, limit)
                    with monkeypatch.context() as patch:
                        patch.setattr(compiled, "screen", admit_everything(compiled))
                        everything = grade_compiled(pack.id, compiled, transcript, limit)
                    # Review flags read the literal test from the screen itself (a near
                    # miss needs the rule's words), so a screen that admits everything
                    # changes them by design; the screen equals the literal test
                    # (the test above), so verdicts and evidence are what must agree.
                    assert unreviewed(fast.to_record()) == unreviewed(everything.to_record())
                    assert fast.conversation.transcript(pack.id) == (
                        everything.conversation.transcript(pack.id)
                    )
                    expected = plain_evidence(compiled, fast, transcript)
                    for result, plain in zip(fast.criteria, expected, strict=True):
                        if plain is not None:
                            # Going along (`answering`) is evidence no matcher gives.
                            matched = [e for e in result.evidence if e.answering is None]
                            assert [(e.message, e.text) for e in matched] == plain
                    graded += 1
                    violated += bool(fast.critical_violated)
    assert graded > 100 and violated  # the corpus reaches forbidden criteria too


def test_the_screen_memo_is_bounded_and_starting_again_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pack = repository_packs()[0]
    scenario = pack.scenarios[0]
    transcripts = [
        Transcript(pack.id, scenario.id, [TranscriptMessage("trainee", t, at) for t, at in lines])
        for lines in corpus(pack, scenario, 30)
    ]
    before = [grade(pack, scenario, t).to_record() for t in transcripts]
    compiled = pack.compiled[scenario.id]
    monkeypatch.setattr(models, "_SCREENS_KEPT", 3)
    compiled._screens.clear()
    after = [grade(pack, scenario, t).to_record() for t in transcripts]
    assert after == before
    assert 0 < len(compiled._screens) <= 3


def test_the_kept_verdicts_are_the_results_own() -> None:
    # The grader scores with verdicts kept per criterion and status; a grade's headline must be
    # what its results' own verdicts give, whichever grade first made the kept verdict.
    pack = repository_packs()[0]
    for scenario in pack.scenarios:
        compiled = pack.compiled[scenario.id]
        for lines in corpus(pack, scenario):
            transcript = Transcript(
                pack.id, scenario.id, [TranscriptMessage("trainee", text, at) for text, at in lines]
            )
            result = grade_compiled(pack.id, compiled, transcript)
            own = score_verdicts([r.verdict for r in result.criteria], result.pass_mark)
            assert (result.score, result.band, result.passed) == (own.score, own.band, own.passed)
            assert (result.critical_missed, result.critical_violated) == (
                own.critical_missed,
                own.critical_violated,
            )
        kept = kept_verdicts(compiled)
        for (i, status), verdict in kept.items():
            assert verdict == CriterionResult(compiled.criteria[i][0], status).verdict  # type: ignore[arg-type]
        assert len({status for _, status in kept}) >= 2
