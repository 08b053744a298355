"""Review flags (sandbox/evaluator/flags.py): each signal, shown on a line that raises it and
on a plain line that does not; flags never change a verdict or the score; the stored record
carries them and `needs_review`; records stored before flags keep loading.
"""

from __future__ import annotations

import pytest

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.flags import REASONS
from sandbox.evaluator.grading import Grade, grade
from sandbox.evaluator.records import automatic, complete, overridden
from sandbox.evaluator.scoring import verdicts_from_record
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.loader import load_pack_text
from sandbox.scenarios.models import Pack

PACK = """\
pack: {id: flags-en, title: Flags, locale: en, format: 2}
scenarios:
  - id: naproxen
    title: Naproxen on a blood thinner
    brief: A customer wants naproxen.
    topic: [naproxen, ~nsaid]
    persona: {name: Ann, mood: worried}
    opening: Hi, can you send me naproxen? I'm on apixaban.
    reactions:
      - id: thanks
        when: [paracetamol]
        say: Oh, thank you, that helps.
        set_mood: calm
    fallback: Sorry?
    rubric:
      criteria:
        - id: ask-conditions
          kind: inquiry
          critical: true
          match: [~health-conditions]
        - id: bleeding-warning
          kind: contraindication
          critical: true
          match: {all: [[~topic], [~bleeding]]}
        - id: suggests-paracetamol
          kind: disclosure
          match: {any: [~paracetamol], not: [than paracetamol]}
        - id: greets-first
          kind: etiquette
          within_first: 1
          match: [hello, hi]
        - id: promise
          kind: forbidden
          critical: true
          match: [~certainty]
        - id: sends-nsaid
          kind: forbidden
          critical: true
          match: {all: [[send, ship], [naproxen, ibuprofen]]}
        - id: calmed
          kind: outcome
          mood: calm
"""

V1_PACK = """\
pack: {id: flags-v1, title: Flags v1, locale: en}
scenarios:
  - id: s
    title: A cold
    brief: A customer has a cold.
    time_limit_s: 60
    persona: {name: Ann, mood: worried}
    opening: Hi, I have a cold.
    reactions:
      - {id: calms, when: [saline], say: Fine., set_mood: calm}
    fallback: Sorry?
    rubric:
      criteria:
        - {id: saline, kind: disclosure, match: [saline]}
        - {id: calmed, kind: outcome, mood: calm}
"""


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack_text(PACK, "flags-en.yaml")


def graded(pack: Pack, lines: list[str], gap: float = 10.0) -> Grade:
    scenario = pack.scenarios[0]
    conv = Conversation.replay(
        pack.compiled[scenario.id],
        pack.locale,
        [(t, gap * (i + 1)) for i, t in enumerate(lines)],
    )
    transcript = parse_transcript_data(conv.transcript(pack.id), "t")
    return grade(pack, scenario, transcript)


def flag(result: Grade, criterion_id: str) -> dict[str, object] | None:
    entry = next(c for c in result.to_record()["criteria"] if c["id"] == criterion_id)
    review = entry.get("review")
    assert review is None or set(review) == {"reason", "message", "note"}
    return review


def test_every_reason_has_a_description() -> None:
    assert set(REASONS) == {
        "negated_mention",
        "wrong_speech_act",
        "partial_pattern",
        "blocked_by_not",
        "out_of_scope",
        "topic_reference",
        "content_despite_critical",
        "cut_short",
    }
    assert all(text and "\n" not in text for text in REASONS.values())


def test_a_plain_conversation_raises_no_flag(pack: Pack) -> None:
    result = graded(
        pack,
        [
            "Hello! Any long-term health problems?",
            "NSAIDs with apixaban raise your bleeding risk.",
            "Paracetamol is the safer choice.",
        ],
    )
    record = result.to_record()
    assert [c.get("review") for c in record["criteria"]] == [None] * 7
    assert record["needs_review"] is False


def test_a_requirement_missed_under_a_negation_is_flagged(pack: Pack) -> None:
    # The grader reads the warning as denied; a person may read a warning.
    result = graded(pack, ["Hello.", "I would not say naproxen has no bleeding risk with that."])
    assert result.status_of("bleeding-warning") == "missed"
    review = flag(result, "bleeding-warning")
    assert review is not None and review["reason"] == "negated_mention"
    assert review["message"] == 3  # the transcript's index of the second trainee line
    assert "negated" in str(review["note"])
    assert result.to_record()["needs_review"] is True  # the warning is critical


def test_an_inquiry_stated_rather_than_asked_is_flagged(pack: Pack) -> None:
    result = graded(pack, ["Hello.", "Long-term health problems matter here."])
    assert result.status_of("ask-conditions") == "missed"
    review = flag(result, "ask-conditions")
    assert review is not None and review["reason"] == "wrong_speech_act"
    assert "statement" in str(review["note"])


def test_a_question_where_a_disclosure_must_tell_is_not_flagged(pack: Pack) -> None:
    # Only an inquiry's words in a statement are a signal: on the corpus a question in place
    # of advice was always read right.
    result = graded(pack, ["Hello.", "Have you tried paracetamol?"])
    assert result.status_of("suggests-paracetamol") == "missed"
    assert flag(result, "suggests-paracetamol") is None


def test_a_match_blocked_only_by_a_not_phrase_is_flagged(pack: Pack) -> None:
    result = graded(pack, ["Hello.", "Ibuprofen works better than paracetamol."])
    assert result.status_of("suggests-paracetamol") == "missed"
    review = flag(result, "suggests-paracetamol")
    assert review is not None and review["reason"] == "blocked_by_not"
    assert "than paracetamol" in str(review["note"])


def test_a_forbidden_pattern_split_over_two_messages_is_flagged(pack: Pack) -> None:
    result = graded(pack, ["Hello.", "Naproxen is on the shelf, I can ship it."])
    assert result.status_of("sends-nsaid") == "violated"  # the full pattern: no flag
    assert flag(result, "sends-nsaid") is None
    half = graded(pack, ["Hello.", "We could send something gentler today."])
    assert half.status_of("sends-nsaid") == "clear"
    assert flag(half, "sends-nsaid") is None  # one half alone is ordinary talk
    split = graded(pack, ["Hello.", "Naproxen is what you asked for.", "We can send it today."])
    assert split.status_of("sends-nsaid") == "clear"
    review = flag(split, "sends-nsaid")
    assert review is not None and review["reason"] == "partial_pattern"
    assert review["message"] == 3 and "message 5" in str(review["note"])


def test_a_forbidden_claim_negated_far_away_is_flagged(pack: Pack) -> None:
    near = graded(pack, ["Hello.", "I can't guarantee that."])
    assert near.status_of("promise") == "clear"
    assert flag(near, "promise") is None  # a negation right before: the plain case
    far = graded(pack, ["Hello.", "No pharmacist anywhere in this town would ever guarantee that."])
    assert far.status_of("promise") == "clear"
    review = flag(far, "promise")
    assert review is not None and review["reason"] == "negated_mention"
    assert "across" in str(review["note"])


def test_a_mention_outside_the_window_is_flagged(pack: Pack) -> None:
    result = graded(pack, ["Any long-term health problems?", "Oh, hello by the way."])
    assert result.status_of("greets-first") == "missed"
    review = flag(result, "greets-first")
    assert review is not None and review["reason"] == "out_of_scope"
    assert review["message"] == 3


def test_a_verdict_resting_on_a_topic_reference_is_flagged(pack: Pack) -> None:
    result = graded(pack, ["Hello.", "It can make you bleed more easily."])
    assert result.status_of("bleeding-warning") == "met"
    review = flag(result, "bleeding-warning")
    assert review is not None and review["reason"] == "topic_reference"
    named = graded(pack, ["Hello.", "Naproxen can make you bleed more easily."])
    assert flag(named, "bleeding-warning") is None


def test_an_outcome_met_despite_a_critical_failure_is_flagged(pack: Pack) -> None:
    result = graded(pack, ["Hello.", "Paracetamol, and I guarantee it works."])
    assert result.status_of("promise") == "violated"
    assert result.status_of("calmed") == "met"
    review = flag(result, "calmed")
    assert review is not None and review["reason"] == "content_despite_critical"
    assert review["message"] is None
    assert "promise" in str(review["note"])


def test_an_outcome_of_a_conversation_that_ran_out_of_time_is_flagged() -> None:
    v1 = load_pack_text(V1_PACK, "flags-v1.yaml")
    in_time = graded(v1, ["Try saline."])
    assert flag(in_time, "calmed") is None
    messages = [
        {"role": "persona", "text": "Hi, I have a cold.", "at": 0},
        {"role": "trainee", "text": "Try saline.", "at": 20},
        {"role": "persona", "text": "Fine.", "at": 20},
        {"role": "trainee", "text": "Anything else?", "at": 75},  # past the 60 s limit
    ]
    transcript = parse_transcript_data({"pack": v1.id, "scenario": "s", "messages": messages}, "t")
    late = grade(v1, "s", transcript)
    assert late.conversation.end_reason == "timeout"
    assert late.status_of("calmed") == "met"
    review = flag(late, "calmed")
    assert review is not None and review["reason"] == "cut_short"


def test_flags_never_change_the_score(pack: Pack) -> None:
    lines = ["Hello.", "I would not say naproxen has no bleeding risk with that."]
    result = graded(pack, lines)
    assert result.to_record()["needs_review"] is True
    record = result.to_record()
    for entry in record["criteria"]:
        entry.pop("review", None)
    assert verdicts_from_record(record) == verdicts_from_record(result.to_record())
    assert overridden(result.to_record(), {})["score"] == result.score


def test_a_noncritical_flag_does_not_ask_for_review(pack: Pack) -> None:
    result = graded(
        pack,
        [
            "Hello! Any long-term health problems?",
            "NSAIDs with apixaban raise your bleeding risk.",
            "Ask for it, it works better than paracetamol.",
        ],
    )
    assert flag(result, "suggests-paracetamol") is not None
    assert result.to_record()["needs_review"] is False


def test_the_section_6_json_carries_no_flags(pack: Pack) -> None:
    result = graded(pack, ["Hello.", "I would not say naproxen has no bleeding risk with that."])
    data = result.to_json()
    assert "needs_review" not in data
    assert all("review" not in c for c in data["criteria"])


def test_a_record_stored_before_flags_keeps_loading(pack: Pack) -> None:
    record = graded(pack, ["Hello.", "Paracetamol is the safer choice."]).to_record()
    del record["needs_review"]
    for entry in record["criteria"]:
        entry.pop("review", None)
    changed = overridden(record, {"ask-conditions": "met"})
    assert changed["score"] > record["score"]
    assert automatic(changed)["score"] == record["score"]
    assert complete(record, pack.scenarios[0])["pass_mark"] == record["pass_mark"]
