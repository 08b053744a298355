"""The persona engine, section 4 of the format: turn by turn, endings, time limit, nudges."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sandbox.engine.conversation import Conversation, Turn
from sandbox.scenarios.loader import load_pack_text
from sandbox.scenarios.models import CompiledScenario

# --- factories ---------------------------------------------------------------------------

DEFAULTS = """
id: s
title: A test scenario
brief: Talk to the customer.
persona: {name: Ann}
opening: "Hi, I need help."
fallback: ["fallback one", "fallback two"]
rubric:
  criteria:
    - {id: greets, kind: etiquette, match: ["hello"]}
"""


def scenario(fragment: str = "", locale: str = "en") -> CompiledScenario:
    """A one-scenario pack from a YAML fragment; keys it leaves out take DEFAULTS."""
    body = {**yaml.safe_load(DEFAULTS), **(yaml.safe_load(fragment) or {})}
    text = yaml.safe_dump(
        {"pack": {"id": "p", "title": "Test pack", "locale": locale}, "scenarios": [body]},
        allow_unicode=True,
        sort_keys=False,
    )
    return load_pack_text(text, "<test>").compiled["s"]


def talk(fragment: str, *lines: str | tuple[str, float], locale: str = "en") -> Conversation:
    """A conversation fed `lines`, each a text (10 s after the previous) or (text, at)."""
    conversation = Conversation(scenario(fragment, locale))
    at = 0.0
    for line in lines:
        text, at = line if isinstance(line, tuple) else (line, at + 10)
        conversation.receive(text, at)
    return conversation


def persona(conversation: Conversation) -> list[str]:
    """The persona's lines after the opening."""
    return [m.text for m in conversation.messages[1:] if m.role == "persona"]


def said(turn: Turn) -> list[str]:
    return [m.text for m in turn.replies]


# --- the opening -------------------------------------------------------------------------


def test_the_opening_is_the_first_message_at_zero() -> None:
    conversation = talk("persona: {name: Ann, mood: worried}")
    [opening] = conversation.messages
    assert (opening.role, opening.text, opening.at, opening.kind) == (
        "persona",
        "Hi, I need help.",
        0.0,
        "opening",
    )
    assert conversation.mood == "worried"
    assert not conversation.ended and conversation.revealed == []


# --- 1. facts ----------------------------------------------------------------------------

FACTS = """
facts:
  - {id: meds, asked_by: ["medication*"], reply: "I take amlodipine."}
  - {id: dose, asked_by: ["medication*", "dose"], reply: "5 mg a day.", requires: [meds]}
  - {id: allergy, asked_by: ["allerg*"], reply: "No allergies."}
"""


def test_facts_are_revealed_in_file_order_and_earlier_ones_in_the_pass_count() -> None:
    conversation = Conversation(scenario(FACTS))
    turn = conversation.receive("Any allergies or medications?", 10)
    assert said(turn) == ["I take amlodipine.", "5 mg a day.", "No allergies."]
    assert conversation.revealed == ["meds", "dose", "allergy"]
    assert [m.ref for m in turn.replies] == ["meds", "dose", "allergy"]


def test_a_fact_whose_requires_are_unmet_is_not_revealed() -> None:
    conversation = talk(FACTS, "What dose?")
    assert conversation.revealed == []
    assert persona(conversation) == ["fallback one"]


def test_facts_take_one_pass_so_a_fact_needing_a_later_fact_waits() -> None:
    fragment = """
    facts:
      - {id: first, asked_by: ["pills"], reply: "Blue pills.", requires: [second]}
      - {id: second, asked_by: ["pills"], reply: "I take pills."}
    """
    conversation = Conversation(scenario(fragment))
    assert said(conversation.receive("Any pills?", 10)) == ["I take pills."]
    assert said(conversation.receive("Which pills?", 20)) == ["Blue pills."]
    assert conversation.revealed == ["second", "first"]


def test_a_fact_requiring_a_reaction_needs_it_fired_on_an_earlier_message() -> None:
    fragment = """
    facts:
      - {id: secret, asked_by: ["trust"], reply: "The secret.", requires: [rapport]}
    reactions:
      - {id: rapport, when: ["trust"], say: "You seem kind."}
    """
    conversation = Conversation(scenario(fragment))
    assert said(conversation.receive("Can I trust you?", 10)) == ["You seem kind."]
    assert said(conversation.receive("Trust me?", 20)) == ["The secret."]


def test_a_fact_reply_is_said_once() -> None:
    conversation = talk(FACTS, "Any allergies?", "Any allergies, really?")
    assert persona(conversation) == ["No allergies.", "fallback one"]
    assert conversation.revealed == ["allergy"]


# --- 2. reactions --------------------------------------------------------------------------

REACTIONS = """
reactions:
  - {id: price, when: ["price"], say: "Price is fine."}
  - {id: price-again, when: ["price", "cost"], say: "Still fine."}
  - {id: thanks, when: ["thanks"], say: "You're welcome.", times: 2}
  - {id: hello, when: ["hello"], say: "Hello!", times: 0}
"""


def test_the_first_matching_reaction_in_file_order_fires_and_only_one() -> None:
    conversation = Conversation(scenario(REACTIONS))
    turn = conversation.receive("hello, what is the price? thanks", 10)
    assert said(turn) == ["Price is fine."]
    assert conversation.fired == {"price": 1}


def test_times_defaults_to_one_and_then_the_next_matching_reaction_fires() -> None:
    conversation = talk(REACTIONS, "the price?", "the price?", "the price?")
    assert persona(conversation) == ["Price is fine.", "Still fine.", "fallback one"]


def test_times_n_lets_a_reaction_fire_n_times() -> None:
    conversation = talk(REACTIONS, "thanks", "thanks", "thanks")
    assert persona(conversation) == ["You're welcome.", "You're welcome.", "fallback one"]
    assert conversation.fired == {"thanks": 2}


def test_times_zero_means_no_limit() -> None:
    conversation = talk(REACTIONS, *["hello"] * 6)
    assert persona(conversation) == ["Hello!"] * 6
    assert conversation.fired == {"hello": 6}


def test_a_reaction_with_unmet_requires_is_skipped_for_the_next() -> None:
    fragment = """
    facts:
      - {id: meds, asked_by: ["medication*"], reply: "Amlodipine."}
    reactions:
      - {id: informed, when: ["ibuprofen"], say: "With my amlodipine?", requires: [meds]}
      - {id: naive, when: ["ibuprofen"], say: "Ibuprofen it is."}
    """
    conversation = talk(fragment, "Try ibuprofen")
    assert persona(conversation) == ["Ibuprofen it is."]


def test_a_reaction_may_require_a_fact_revealed_in_step_1_of_the_same_turn() -> None:
    fragment = """
    facts:
      - {id: meds, asked_by: ["medication*"], reply: "Amlodipine."}
    reactions:
      - {id: informed, when: ["medication*"], say: "Is that a problem?", requires: [meds]}
    """
    conversation = Conversation(scenario(fragment))
    turn = conversation.receive("Any medication?", 10)
    assert said(turn) == ["Amlodipine.", "Is that a problem?"]
    assert [m.kind for m in turn.replies] == ["fact", "reaction"]


def test_a_reaction_may_require_a_reaction_fired_earlier() -> None:
    fragment = """
    reactions:
      - {id: calm-down, when: ["sorry"], say: "Fine."}
      - {id: forgive, when: ["again"], say: "Apology accepted.", requires: [calm-down]}
    """
    conversation = talk(fragment, "again", "sorry", "sorry again")
    assert persona(conversation) == ["fallback one", "Fine.", "Apology accepted."]


def test_set_mood_changes_the_mood_and_marks_the_line() -> None:
    fragment = """
    persona: {name: Ann, mood: angry}
    reactions:
      - {id: apology, when: ["sorry"], say: "Okay.", set_mood: calm}
    """
    conversation = Conversation(scenario(fragment))
    assert conversation.mood == "angry"
    turn = conversation.receive("I am sorry", 10)
    assert conversation.mood == "calm"
    assert turn.replies[0].mood == "calm"
    assert conversation.transcript("p")["messages"][2]["mood"] == "calm"


def test_reveals_are_said_after_the_say_and_ignore_the_facts_requires() -> None:
    fragment = """
    facts:
      - {id: gate, asked_by: ["gate"], reply: "Gate."}
      - {id: secret, asked_by: ["secret"], reply: "The secret.", requires: [gate]}
      - {id: other, asked_by: ["other"], reply: "Other."}
    reactions:
      - {id: open-up, when: ["please"], say: "All right.", reveals: [secret, other]}
    """
    conversation = Conversation(scenario(fragment))
    turn = conversation.receive("please tell me", 10)
    assert said(turn) == ["All right.", "The secret.", "Other."]
    assert conversation.revealed == ["secret", "other"]
    assert said(conversation.receive("the secret?", 20)) == ["fallback one"]


def test_reveals_do_not_repeat_a_fact_already_revealed() -> None:
    fragment = """
    facts:
      - {id: meds, asked_by: ["medication*"], reply: "Amlodipine."}
    reactions:
      - {id: open-up, when: ["medication*", "please"], say: "Sure.", reveals: [meds], times: 0}
    """
    conversation = Conversation(scenario(fragment))
    assert said(conversation.receive("medication?", 10)) == ["Amlodipine.", "Sure."]
    assert said(conversation.receive("please", 20)) == ["Sure."]
    assert conversation.revealed == ["meds"]


def test_a_reaction_that_ends_says_its_line_its_reveals_then_the_farewell() -> None:
    fragment = """
    facts:
      - {id: meds, asked_by: ["medication*"], reply: "Amlodipine."}
    reactions:
      - {id: leave, when: ["rude"], say: "That was rude.", reveals: [meds], ends: true}
    farewell: "Goodbye."
    """
    conversation = Conversation(scenario(fragment))
    turn = conversation.receive("you are rude", 10)
    assert said(turn) == ["That was rude.", "Amlodipine.", "Goodbye."]
    assert turn.ended and conversation.ended and conversation.end_reason == "completed"
    assert turn.replies[-1].end_reason == "completed"
    assert conversation.transcript("p")["end_reason"] == "completed"


def test_a_reaction_that_ends_without_a_farewell_ends_after_its_line() -> None:
    fragment = """
    reactions:
      - {id: leave, when: ["rude"], say: "That was rude.", ends: true}
    """
    conversation = talk(fragment, "you are rude", "wait")
    assert persona(conversation) == ["That was rude."]
    assert conversation.end_reason == "completed"


# --- 3. fallback -----------------------------------------------------------------------------


def test_no_fallback_when_a_fact_or_a_reaction_answered() -> None:
    fragment = (
        FACTS
        + """
reactions:
  - {id: price, when: ["price"], say: "Price is fine."}
"""
    )
    conversation = talk(fragment, "allergies?", "price?", "weather?")
    assert persona(conversation) == ["No allergies.", "Price is fine.", "fallback one"]


def test_fallback_lines_rotate_and_wrap_and_wait_while_unused() -> None:
    fragment = """
    fallback: [one, two, three]
    reactions:
      - {id: hello, when: ["hello"], say: "Hello!", times: 0}
    """
    conversation = talk(fragment, "a", "b", "hello", "c", "d", "e")
    assert persona(conversation) == ["one", "two", "Hello!", "three", "one", "two"]
    assert {
        m.kind for m in conversation.messages[1:] if m.text != "Hello!" and m.role == "persona"
    } == {"fallback"}


def test_a_single_string_fallback_is_one_line() -> None:
    conversation = talk('fallback: "Pardon?"', "a", "b")
    assert persona(conversation) == ["Pardon?", "Pardon?"]


# --- 4. the end ------------------------------------------------------------------------------

ENDS = (
    FACTS
    + """
ends_when: ["bye"]
farewell: "Thanks, bye."
"""
)


def test_ends_when_says_the_farewell_and_no_fallback() -> None:
    conversation = Conversation(scenario(ENDS))
    turn = conversation.receive("ok bye", 10)
    assert said(turn) == ["Thanks, bye."]
    assert [m.kind for m in turn.replies] == ["farewell"]
    assert turn.ended and conversation.end_reason == "completed"
    assert conversation.ended_at == 10


def test_ends_when_comes_after_the_facts_of_the_same_message() -> None:
    conversation = Conversation(scenario(ENDS))
    turn = conversation.receive("allergies? bye", 10)
    assert said(turn) == ["No allergies.", "Thanks, bye."]
    assert conversation.revealed == ["allergy"]


def test_ends_when_without_a_farewell_ends_silently() -> None:
    conversation = Conversation(scenario('ends_when: ["bye"]'))
    turn = conversation.receive("bye", 10)
    assert turn.accepted and turn.ended and said(turn) == []
    assert conversation.end_reason == "completed"
    assert [m.role for m in conversation.messages] == ["persona", "trainee"]


def test_a_message_after_the_end_is_refused() -> None:
    conversation = Conversation(scenario(ENDS))
    conversation.receive("bye", 10)
    before = list(conversation.messages)
    turn = conversation.receive("allergies?", 20)
    assert (turn.accepted, turn.refused_reason, turn.replies) == (False, "ended", [])
    assert conversation.messages == before and conversation.revealed == []


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\t\n ", "\u3000\u3000"])
def test_an_empty_message_is_refused_and_changes_nothing(text: str) -> None:
    conversation = Conversation(scenario(FACTS))
    turn = conversation.receive(text, 10)
    assert (turn.accepted, turn.refused_reason, turn.index, turn.replies) == (
        False,
        "empty",
        None,
        [],
    )
    assert len(conversation.messages) == 1 and not conversation.ended
    # The fallback rotation did not move either.
    assert said(conversation.receive("hm", 20)) == ["fallback one"]


def test_a_message_at_exactly_the_time_limit_is_accepted() -> None:
    conversation = Conversation(scenario("time_limit_s: 60"))
    turn = conversation.receive("hm", 60)
    assert turn.accepted and turn.index == 1 and said(turn) == ["fallback one"]
    assert not conversation.ended


def test_a_message_past_the_time_limit_is_refused_and_ends_by_timeout() -> None:
    conversation = Conversation(scenario("time_limit_s: 60"))
    conversation.receive("hm", 30)
    turn = conversation.receive("hm", 60.5)
    assert (turn.accepted, turn.refused_reason, turn.ended, turn.replies) == (
        False,
        "timeout",
        True,
        [],
    )
    assert conversation.ended and conversation.end_reason == "timeout"
    assert len(conversation.messages) == 3
    assert conversation.transcript("p")["end_reason"] == "timeout"
    assert conversation.receive("hm", 61).refused_reason == "ended"


def test_the_default_time_limit_is_600_seconds() -> None:
    conversation = Conversation(scenario())
    assert conversation.receive("hm", 600).accepted
    assert conversation.receive("hm", 600.01).refused_reason == "timeout"


# --- finish and expire -----------------------------------------------------------------------


def test_finish_ends_the_conversation_as_finished() -> None:
    conversation = talk("", "hm")
    conversation.finish(15)
    assert conversation.ended and conversation.end_reason == "finished"
    assert conversation.ended_at == 15
    assert conversation.receive("more", 20).refused_reason == "ended"
    conversation.finish(30)
    assert conversation.ended_at == 15


def test_finish_after_the_time_limit_is_a_timeout() -> None:
    conversation = Conversation(scenario("time_limit_s: 60"))
    conversation.finish(61)
    assert conversation.end_reason == "timeout"


def test_expire_ends_only_once_the_time_limit_has_passed() -> None:
    conversation = Conversation(scenario("time_limit_s: 60"))
    assert conversation.expire(60) is False and not conversation.ended
    assert conversation.expire(60.1) is True
    assert conversation.end_reason == "timeout" and conversation.ended_at == 60.1
    assert conversation.expire(100) is False


def test_expire_does_not_override_an_earlier_end() -> None:
    conversation = Conversation(scenario(ENDS + "time_limit_s: 60\n"))
    conversation.receive("bye", 10)
    assert conversation.expire(100) is False
    assert conversation.end_reason == "completed"


# --- nudges ----------------------------------------------------------------------------------

NUDGE = """
nudge: {after_s: 60, say: "Still there?"}
"""


def nudges(conversation: Conversation) -> list[float]:
    return [m.at for m in conversation.messages if m.kind == "nudge"]


def test_a_nudge_stands_before_a_late_message_timed_at_last_line_plus_after_s() -> None:
    conversation = talk(NUDGE, ("hm", 75))
    kinds = [(m.kind, m.at) for m in conversation.messages]
    assert kinds == [("opening", 0), ("nudge", 60), ("trainee", 75), ("fallback", 75)]
    assert conversation.messages[1].text == "Still there?"
    assert conversation.messages[1].role == "persona"


def test_no_nudge_for_a_message_at_exactly_after_s() -> None:
    conversation = talk(NUDGE, ("hm", 60))
    assert nudges(conversation) == []


def test_no_nudge_at_exactly_after_s_with_decimal_times() -> None:
    # 20.3 + 32.3 is 52.599999999999994 in binary floats: a message at 52.6 is not later.
    conversation = talk('nudge: {after_s: 32.3, say: "Still there?"}\n', ("hm", 20.3), ("hm", 52.6))
    assert nudges(conversation) == []
    conversation = talk('nudge: {after_s: 32.3, say: "Still there?"}\n', ("hm", 20.3), ("hm", 52.7))
    assert nudges(conversation) == [52.6]


def test_the_nudge_is_timed_from_the_persona_s_last_line() -> None:
    conversation = talk(NUDGE, ("hm", 50), ("hm", 110), ("hm", 111))
    assert nudges(conversation) == []
    conversation = talk(NUDGE, ("hm", 50), ("hm", 110.5))
    assert nudges(conversation) == [110]


def test_a_nudge_again_after_the_persona_speaks() -> None:
    conversation = talk(NUDGE, ("hm", 100), ("hm", 200))
    assert nudges(conversation) == [60, 160]
    assert conversation.messages[4].kind == "nudge" and conversation.messages[5].at == 200


def test_at_most_one_nudge_per_silence() -> None:
    conversation = Conversation(scenario(NUDGE))
    first = conversation.send_nudge(70)
    assert first is not None and first.at == 60 and first.kind == "nudge"
    assert conversation.send_nudge(200) is None
    assert conversation.nudge_due_at() is None
    turn = conversation.receive("hm", 250)
    assert said(turn) == ["fallback one"]
    assert nudges(conversation) == [60]


def test_no_nudge_without_a_nudge_in_the_scenario() -> None:
    conversation = Conversation(scenario())
    assert conversation.nudge_due_at() is None
    assert conversation.send_nudge(500) is None
    conversation.receive("hm", 500)
    assert nudges(conversation) == []


def test_nudge_due_at_follows_the_persona_s_last_line() -> None:
    conversation = Conversation(scenario(NUDGE + 'ends_when: ["bye"]'))
    assert conversation.nudge_due_at() == 60
    conversation.receive("hm", 30)
    assert conversation.nudge_due_at() == 90
    conversation.receive("bye", 40)
    assert conversation.nudge_due_at() is None


def test_send_nudge_waits_until_after_the_due_time() -> None:
    conversation = Conversation(scenario(NUDGE))
    assert conversation.send_nudge(59) is None
    assert conversation.send_nudge(60) is None
    sent = conversation.send_nudge(60.2)
    assert sent is not None and sent.at == 60
    assert [m.kind for m in conversation.messages] == ["opening", "nudge"]


def test_a_live_nudge_is_not_repeated_when_the_trainee_then_writes() -> None:
    conversation = Conversation(scenario(NUDGE))
    conversation.send_nudge(61)
    turn = conversation.receive("sorry, here", 80)
    assert said(turn) == ["fallback one"]
    assert [m.kind for m in conversation.messages] == ["opening", "nudge", "trainee", "fallback"]
    assert conversation.nudge_due_at() == 140


def test_a_nudge_does_not_move_the_persona_s_last_line() -> None:
    conversation = Conversation(scenario(NUDGE))
    conversation.receive("hm", 20)
    conversation.send_nudge(81)
    assert conversation.last_persona_at == 20


def test_a_refused_message_does_not_bring_a_nudge() -> None:
    conversation = talk(NUDGE, ("   ", 100))
    assert nudges(conversation) == []
    assert conversation.nudge_due_at() == 60


def test_replay_gives_the_messages_of_the_live_run() -> None:
    fragment = (
        FACTS
        + NUDGE
        + """
reactions:
  - {id: price, when: ["price"], say: "Price is fine."}
ends_when: ["bye"]
farewell: "Bye then."
"""
    )
    compiled = scenario(fragment)
    trainee = [
        ("hello", 70.0),
        ("allergies?", 90.0),
        ("price?", 200.0),
        ("  ", 205.0),
        ("medication?", 210.0),
        ("bye", 400.0),
    ]
    live = Conversation(compiled)
    for text, at in trainee:
        # A live engine polls the clock and sends the nudge when it falls due.
        due = live.nudge_due_at()
        if due is not None and due < at:
            live.send_nudge(due + 0.5)
        live.receive(text, at)
    replayed = Conversation.replay(compiled, "en", trainee)
    assert replayed.transcript("p") == live.transcript("p")
    assert nudges(replayed) == [60, 150, 270]
    assert replayed.revealed == ["allergy", "meds", "dose"]
    assert replayed.end_reason == "completed"


# --- timing and determinism ------------------------------------------------------------------


def test_persona_lines_are_timed_at_the_trainee_message_they_answer() -> None:
    conversation = talk(ENDS, ("hello", 12.5), ("medication?", 31.25), ("bye", 40))
    answered: dict[float, list[str]] = {}
    for message in conversation.messages[1:]:
        answered.setdefault(message.at, []).append(message.role)
    assert answered == {
        12.5: ["trainee", "persona"],
        31.25: ["trainee", "persona", "persona"],
        40: ["trainee", "persona"],
    }


def test_the_turn_reports_the_trainee_message_s_index() -> None:
    conversation = Conversation(scenario(NUDGE))
    assert conversation.receive("hm", 10).index == 1
    assert conversation.receive("hm", 100).index == 4  # after the fallback and a nudge


def test_the_transcript_carries_reveals_kinds_and_the_end() -> None:
    conversation = talk(ENDS, "allergies?", "bye")
    data: dict[str, Any] = conversation.transcript("p")
    assert data["pack"] == "p" and data["scenario"] == "s"
    assert data["end_reason"] == "completed"
    messages = data["messages"]
    assert [(m["role"], m["text"], m["at"]) for m in messages] == [
        ("persona", "Hi, I need help.", 0),
        ("trainee", "allergies?", 10),
        ("persona", "No allergies.", 10),
        ("trainee", "bye", 20),
        ("persona", "Thanks, bye.", 20),
    ]
    assert messages[0]["kind"] == "opening"
    assert messages[2]["reveals"] == ["allergy"]
    assert (messages[4]["kind"], messages[4]["end_reason"]) == ("farewell", "completed")
    assert "reveals" not in messages[1] and "end_reason" not in messages[2]


def test_the_same_messages_always_give_the_same_replies() -> None:
    fragment = FACTS + NUDGE + REACTIONS
    lines: list[str | tuple[str, float]] = [
        "hello",
        ("price and medication", 100),
        "thanks",
        ("???", 300),
        "dose",
    ]
    first = talk(fragment, *lines).transcript("p")
    second = talk(fragment, *lines).transcript("p")
    assert first == second
    from_scenario = Conversation.replay(
        scenario(fragment).scenario,
        "en",
        [
            ("hello", 10),
            ("price and medication", 100),
            ("thanks", 110),
            ("???", 300),
            ("dose", 310),
        ],
    )
    assert from_scenario.transcript("p") == first


def test_the_engine_matches_chinese_messages_by_the_pack_locale() -> None:
    fragment = """
    opening: "你好，我想咨询一下。"
    facts:
      - {id: allergy, asked_by: ["过敏"], reply: "我对青霉素过敏。"}
    reactions:
      - {id: price, when: ["价格", "多少钱"], say: "价格无所谓。"}
    fallback: "什么意思？"
    """
    conversation = talk(fragment, "您有没有过敏史？", "多少钱？", "ＯＫ", locale="zh-CN")
    assert persona(conversation) == ["我对青霉素过敏。", "价格无所谓。", "什么意思？"]
