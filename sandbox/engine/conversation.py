"""The persona: section 4 of the format as a state machine.

A `Conversation` is a pure function of the scenario and the trainee's messages with their
times: it reads no clock (every call says what time it is) and does no I/O. The web layer
feeds it live messages; the evaluator feeds it a transcript's trainee messages to learn what
the persona revealed and how the conversation ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.scenarios.models import CompiledScenario, Scenario
from sandbox.text.matcher import Text

Role = Literal["persona", "trainee"]
EndReason = Literal["completed", "timeout", "finished"]
RefusedReason = Literal["empty", "ended", "timeout"]


#: Times are seconds with a fraction; durations are taken to the microsecond, so that
#: 44.2 - 14.2 is 30 seconds, not 30.000000000000004 (binary floats cannot hold 0.2).
PLACES = 6


@dataclass
class Message:
    """One line of the transcript."""

    role: Role
    text: str
    at: float
    kind: str  # opening, fact, reaction, answer, fallback, nudge, farewell, trainee
    ref: str | None = None  # the fact or reaction behind a persona line
    mood: str | None = None  # set when this line changed the persona's mood
    end_reason: str | None = None  # set on the line that ended the conversation

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "text": self.text, "at": self.at}
        if self.kind == "fact" and self.ref:
            data["reveals"] = [self.ref]
        if self.kind not in ("trainee", "fact"):
            data["kind"] = self.kind
        if self.mood is not None:
            data["mood"] = self.mood
        if self.end_reason is not None:
            data["end_reason"] = self.end_reason
        return data


@dataclass
class Turn:
    """What one trainee message did."""

    accepted: bool
    refused_reason: RefusedReason | None = None
    index: int | None = None  # the trainee message's index in `messages`
    replies: list[Message] = field(default_factory=list)
    ended: bool = False
    view: Text | None = None  # the message as the matcher saw it, reusable by the grader


class Conversation:
    """A conversation with one scenario's persona."""

    def __init__(
        self,
        scenario: Scenario | CompiledScenario,
        locale: str = "en",
        time_limit_s: float | None = None,
    ) -> None:
        """`time_limit_s` replaces the scenario's own limit (an exam sets its own)."""
        if not isinstance(scenario, CompiledScenario):
            scenario = CompiledScenario(scenario, locale)
        self.compiled = scenario
        self._time_limit_s = time_limit_s
        self.scenario = self.compiled.scenario
        self.locale = self.compiled.locale
        self.messages: list[Message] = [Message("persona", self.scenario.opening, 0.0, "opening")]
        self.mood: str = self.scenario.persona.mood
        self.revealed: list[str] = []
        self.fired: dict[str, int] = {}
        self.ended = False
        self.end_reason: EndReason | None = None
        self.ended_at: float | None = None
        self.last_persona_at = 0.0  # the persona's last line that was not a nudge
        self._nudged = False  # a nudge was said in the current silence
        self._fallback = 0

    # -- queries --

    @property
    def time_limit_s(self) -> float:
        if self._time_limit_s is not None:
            return self._time_limit_s
        return self.scenario.time_limit_s

    @property
    def happened(self) -> set[str]:
        """Facts revealed and reactions fired so far."""
        return set(self.revealed) | {k for k, n in self.fired.items() if n}

    def nudge_due_at(self) -> float | None:
        """When a live engine should say the nudge, or None if none is due."""
        nudge = self.scenario.nudge
        if nudge is None or self.ended or self._nudged:
            return None
        return round(self.last_persona_at + nudge.after_s, PLACES)

    # -- events --

    def send_nudge(self, at: float) -> Message | None:
        """Say the nudge if the trainee has been silent longer than `after_s` at `at`."""
        nudge = self.scenario.nudge
        if nudge is None or self.ended or self._nudged:
            return None
        # Taken on every message: the silence to the microsecond, the due time only when due.
        if round(at - self.last_persona_at, PLACES) <= nudge.after_s:
            return None
        self._nudged = True
        due = round(self.last_persona_at + nudge.after_s, PLACES)
        message = Message("persona", nudge.say, due, "nudge")
        self.messages.append(message)
        return message

    def receive(self, text: str, at: float) -> Turn:
        """Take one trainee message at `at` seconds and let the persona answer."""
        if self.ended:
            return Turn(False, "ended")
        view = self.compiled.read(text)
        if not view.text:
            return Turn(False, "empty")
        if at > self.time_limit_s:
            self._end("timeout", at)
            return Turn(False, "timeout", ended=True)

        replies: list[Message] = []
        if not self._nudged and self.scenario.nudge is not None:
            nudge = self.send_nudge(at)
            if nudge is not None:
                replies.append(nudge)
        index = len(self.messages)
        self.messages.append(Message("trainee", text, at, "trainee"))
        said = self._answer(view, at)
        if said:  # the persona never answers with a nudge, so any line counts
            replies.extend(said)
            self.messages.extend(said)
            self.last_persona_at = at
            self._nudged = False
        return Turn(True, None, index, replies, self.ended, view)

    def finish(self, at: float) -> None:
        """The trainee ends the conversation."""
        if not self.ended:
            self._end("timeout" if at > self.time_limit_s else "finished", at)

    def expire(self, at: float) -> bool:
        """End the conversation if its time limit has passed at `at`; True if it did."""
        if not self.ended and at > self.time_limit_s:
            self._end("timeout", at)
            return True
        return False

    def _end(self, reason: EndReason, at: float) -> None:
        self.ended = True
        self.end_reason = reason
        self.ended_at = at

    # -- the persona's rules, turn by turn --

    def _answer(self, text: Text, at: float) -> list[Message]:
        said: list[Message] = []
        # Only the matchers the message's literals admit can match (`CompiledScenario.screen`);
        # what happened so far is gathered only for a fact or reaction with `requires`.
        screen = self.compiled.screen(text.present())
        happened: set[str] | None = None

        # 1. Facts, one pass in file order; facts revealed earlier in the pass count.
        for (fact, matcher), admitted in zip(self.compiled.facts, screen.facts, strict=True):
            if not admitted or fact.id in self.revealed or not matcher.confirm(text):
                continue
            if fact.requires:
                if happened is None:
                    happened = self.happened
                if not all(r in happened for r in fact.requires):
                    continue
            said.append(self._reveal(fact.id, fact.reply, at))
            if happened is not None:
                happened.add(fact.id)
        revealed_now = bool(said)

        # 2. At most one reaction: the first that matches, has times left and whose
        #    requires are met.
        fired = None
        negation = self.compiled.reaction_negation
        acts = self.compiled.reaction_acts
        for i, ((reaction, matcher), admitted) in enumerate(
            zip(self.compiled.reactions, screen.reactions, strict=True)
        ):
            if not admitted:
                continue
            if reaction.times and self.fired.get(reaction.id, 0) >= reaction.times:
                continue
            if reaction.requires:
                if happened is None:
                    happened = self.happened
                if not all(r in happened for r in reaction.requires):
                    continue
            if matcher.confirm(text, negation[i], acts[i]):
                fired = reaction
                break
        if fired is not None:
            self.fired[fired.id] = self.fired.get(fired.id, 0) + 1
            line = Message("persona", fired.say, at, "reaction", fired.id)
            said.append(line)
            for fact_id in fired.reveals:
                revealed = self.scenario.fact(fact_id)
                if revealed is not None and fact_id not in self.revealed:
                    said.append(self._reveal(fact_id, revealed.reply, at))
            if fired.set_mood is not None:
                self.mood = fired.set_mood
                line.mood = fired.set_mood

        ends = (fired is not None and fired.ends) or (
            screen.ends
            and self.compiled.ends_when is not None
            and self.compiled.ends_when.confirm(text)
        )
        # 3. Fallback when nothing else answered, unless the message ends the conversation;
        #    a v2 persona first answers by topic (`answers`, the first that matches).
        answer = None
        if not revealed_now and fired is None and not ends and self.compiled.answers:
            answer = next(
                (i for i, (_, m) in enumerate(self.compiled.answers) if m.matches(text, True)), None
            )
            if answer is not None:
                said.append(
                    Message(
                        "persona", self.compiled.answers[answer][0].say, at, "answer", str(answer)
                    )
                )
        if not revealed_now and fired is None and not ends and answer is None:
            lines = self.scenario.fallback
            said.append(Message("persona", lines[self._fallback % len(lines)], at, "fallback"))
            self._fallback += 1
        # 4. The end, with the farewell.
        if ends:
            if self.scenario.farewell is not None:
                said.append(Message("persona", self.scenario.farewell, at, "farewell"))
            self._end("completed", at)
            if said:
                said[-1].end_reason = "completed"
        return said

    def _reveal(self, fact_id: str, reply: str, at: float) -> Message:
        self.revealed.append(fact_id)
        return Message("persona", reply, at, "fact", fact_id)

    # -- rebuilding --

    @classmethod
    def replay(
        cls,
        scenario: Scenario | CompiledScenario,
        locale: str,
        trainee: Iterable[tuple[str, float]],
        time_limit_s: float | None = None,
    ) -> Conversation:
        """Rebuild a conversation from the trainee's messages and their times."""
        conversation = cls(scenario, locale, time_limit_s)
        for text, at in trainee:
            conversation.receive(text, at)
        return conversation

    def transcript(self, pack_id: str) -> dict[str, Any]:
        """The transcript of section 6, with the engine's extra fields."""
        data: dict[str, Any] = {
            "pack": pack_id,
            "scenario": self.scenario.id,
            "messages": [m.to_json() for m in self.messages],
        }
        if self.end_reason is not None:
            data["end_reason"] = self.end_reason
        return data
