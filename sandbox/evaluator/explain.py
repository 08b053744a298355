"""Explaining grades and persona lines: `sandbox explain` and `sandbox replay`.

Pure functions over a compiled scenario and a transcript: what the engine says, line by
line with the rule behind it, and why each criterion got its verdict, message by message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import Grade, _scope, grade_compiled
from sandbox.evaluator.transcript import Transcript
from sandbox.scenarios.models import CompiledScenario, Criterion
from sandbox.text.explain import Finding, explain
from sandbox.text.matcher import Text
from sandbox.text.negation import link_rejections


@dataclass
class MessageExplanation:
    message: int  # index in the transcript
    text: str
    in_scope: bool
    matched: bool
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "text": self.text,
            "in_scope": self.in_scope,
            "matched": self.matched,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass
class CriterionExplanation:
    criterion: Criterion
    status: str
    reason: str
    messages: list[MessageExplanation]

    def to_json(self) -> dict[str, Any]:
        c = self.criterion
        return {
            "id": c.id,
            "kind": c.kind,
            "status": self.status,
            "reason": self.reason,
            "messages": [m.to_json() for m in self.messages],
        }


def explain_criterion(
    pack_id: str, compiled: CompiledScenario, transcript: Transcript, criterion_id: str
) -> CriterionExplanation:
    """Why one criterion got its verdict on this transcript (KeyError if no such id)."""
    result = grade_compiled(pack_id, compiled, transcript)
    index = next(i for i, (c, _) in enumerate(compiled.criteria) if c.id == criterion_id)
    criterion, matcher = compiled.criteria[index]
    status = result.criteria[index].status
    graded = _graded_lines(result, transcript)
    views = _views(compiled, graded)
    scope = _scope(criterion, len(graded))
    messages: list[MessageExplanation] = []
    if matcher is not None:
        act = compiled.act(criterion)
        for position, (msg_index, text) in enumerate(graded):
            matched, findings = explain(
                matcher, views[position], criterion.negation_aware, act, compiled.origins
            )
            messages.append(
                MessageExplanation(
                    msg_index, text, position in scope, matched and position in scope, findings
                )
            )
    return CriterionExplanation(criterion, status, reason(result, index, messages), messages)


def reason(result: Grade, index: int, messages: list[MessageExplanation], first: int = 0) -> str:
    """One line saying why a criterion got its verdict; messages are numbered from `first`
    (0: the transcript's indices, as `sandbox explain` prints them; 1: as pages show them)."""
    item = result.criteria[index]
    c = item.criterion
    if item.status == "not_applicable":
        if c.applies_if_revealed:
            return f"not applicable: the customer never revealed '{c.applies_if_revealed}'"
        return "not applicable: no trainee message in its scope"
    if c.kind == "outcome":
        conv = result.conversation
        if c.mood is not None:
            return f"the customer's final mood is '{conv.mood}' (needed '{c.mood}')"
        told = "revealed" if c.revealed in conv.revealed else "never revealed"
        return f"'{c.revealed}' was {told}"
    if c.check is not None:
        broken = [e.message + first for e in item.evidence]
        return f"check {c.check}: " + (
            "passed" if not broken else f"broken by message(s) {', '.join(map(str, broken))}"
        )
    hits = [m for m in messages if m.matched]
    along = [e for e in item.evidence if e.answering is not None]
    if along and (not hits or along[0].message < hits[0].message):
        quoted = along[0].answering or ""
        if len(quoted) > 60:
            quoted = quoted[:59] + "…"
        more = len(item.evidence) - 1
        return (
            f"message {along[0].message + first} goes along with the customer's "
            f"'{quoted}' (going_along)" + (f", and {more} more" if more else "")
        )
    if hits:
        hit = hits[0]
        counted = next((f for f in hit.findings if f.counts), None)
        what = f"'{counted.phrase}'" if counted else "its phrases"
        if counted and counted.concept:
            what += f" ({counted.concept})"
        return f"message {hit.message + first} says {what}" + (
            f", and {len(hits) - 1} more" if len(hits) > 1 else ""
        )
    cancelled = [(m, f) for m in messages if m.in_scope for f in m.findings if not f.counts]
    if cancelled:
        m, f = cancelled[0]
        return f"'{f.found}' in message {m.message + first} does not count: {f.why}"
    return "no trainee message in scope says it"


def _graded_lines(result: Grade, transcript: Transcript) -> list[tuple[int, str]]:
    ignored = set(result.ignored_messages)
    return [(i, text) for i, text, _ in transcript.trainee_lines() if i not in ignored]


def _views(compiled: CompiledScenario, graded: list[tuple[int, str]]) -> list[Text]:
    """The graded messages as the grader read them, consecutive ones linked as it links them."""
    views = [compiled.read(text) for _, text in graded]
    if compiled.v2:
        link_rejections(views)
    return views


def replay_lines(compiled: CompiledScenario, transcript: Transcript) -> list[dict[str, Any]]:
    """The transcript as the current engine plays it: every line, persona lines with their
    kind (opening, fact, reaction, answer, fallback, nudge, farewell) and the rule behind."""
    conversation = Conversation(compiled, compiled.locale)
    for _, text, at in transcript.trainee_lines():
        conversation.receive(text, at)
    lines = []
    for i, m in enumerate(conversation.messages):
        line: dict[str, Any] = {"index": i, "role": m.role, "at": m.at, "text": m.text}
        if m.role == "persona":
            line["kind"] = m.kind
            line["rule"] = _rule(m.kind, m.ref)
        if m.mood:
            line["mood"] = m.mood
        if m.end_reason:
            line["end_reason"] = m.end_reason
        lines.append(line)
    return lines


def _rule(kind: str, ref: str | None) -> str:
    return {
        "fact": f"facts.{ref}",
        "reaction": f"reactions.{ref}",
        "answer": f"answers.{ref}" if ref else "answers",
        "opening": "opening",
        "fallback": "fallback (nothing else matched)",
        "nudge": "nudge (silence)",
        "farewell": "farewell",
    }.get(kind, kind)


def verdict_reasons(
    pack_id: str, compiled: CompiledScenario, transcript: Transcript, staff: bool
) -> dict[str, str]:
    """One line per criterion saying why the grader gave its verdict (`sandbox explain`'s
    reason), for the feedback page and the mentor's review.

    Staff see the phrase and concept that decided it. A trainee sees only what is in their
    own messages (which message, and what cancelled a mention: a negation, a question where
    a statement was needed), never the rubric's phrases: those are the answer key.
    """
    result = grade_compiled(pack_id, compiled, transcript)
    graded = _graded_lines(result, transcript)
    views = _views(compiled, graded)
    reasons: dict[str, str] = {}
    for index, (criterion, matcher) in enumerate(compiled.criteria):
        messages: list[MessageExplanation] = []
        if matcher is not None and result.criteria[index].status != "not_applicable":
            scope = _scope(criterion, len(graded))
            act = compiled.act(criterion)
            for position, (msg_index, text) in enumerate(graded):
                matched, findings = explain(
                    matcher, views[position], criterion.negation_aware, act, compiled.origins
                )
                messages.append(
                    MessageExplanation(
                        msg_index, text, position in scope, matched and position in scope, findings
                    )
                )
        line = reason(result, index, messages, first=1)
        reasons[criterion.id] = line if staff else _for_trainee(result, index, messages, line)
    return reasons


def _for_trainee(
    result: Grade, index: int, messages: list[MessageExplanation], staff_line: str
) -> str:
    item = result.criteria[index]
    c = item.criterion
    if item.status == "not_applicable":
        return "not applicable here"
    if c.kind == "outcome":
        return (
            "the customer ended the way this asks"
            if item.status == "met"
            else "the customer did not end the way this asks"
        )
    if c.check is not None:
        return staff_line
    hits = [m.message + 1 for m in messages if m.matched]
    if hits:
        return "said in message " + ", ".join(map(str, hits[:3]))
    cancelled = next((f for m in messages if m.in_scope for f in m.findings if not f.counts), None)
    if cancelled is not None:
        where = next(m.message + 1 for m in messages if cancelled in m.findings)
        why = cancelled.why.split(" (")[0]
        return f"a mention in message {where} did not count: {why}"
    return "none of your messages said it"
