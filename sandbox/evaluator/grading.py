"""Grading a transcript against a scenario's rubric (sections 5 and 6)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.matcher import Matcher, Text
from sandbox.evaluator.tone import DEFAULT_MIN, is_shouting, tone
from sandbox.evaluator.transcript import Transcript
from sandbox.scenarios.models import CompiledScenario, Criterion, Pack, Scenario

Status = Literal["met", "missed", "not_applicable", "clear", "violated"]

#: Bands from the rounded score, highest first, unless an exam sets its own.
DEFAULT_BANDS: tuple[tuple[float, str], ...] = ((90, "excellent"), (70, "good"), (60, "pass"))


@dataclass(frozen=True)
class Evidence:
    message: int
    text: str


@dataclass
class CriterionResult:
    criterion: Criterion
    status: Status
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.criterion.id

    def to_json(self) -> dict[str, Any]:
        c = self.criterion
        data: dict[str, Any] = {"id": c.id, "kind": c.kind, "status": self.status}
        if c.kind == "forbidden":
            data["penalty"] = _number(c.effective_penalty)
        else:
            data["weight"] = _number(c.effective_weight)
        data["evidence"] = [{"message": e.message, "text": e.text} for e in self.evidence]
        return data


@dataclass
class Grade:
    scenario: str  # PACK/SCENARIO
    score: float
    band: str
    passed: bool
    criteria: list[CriterionResult]
    critical_missed: list[str]
    critical_violated: list[str]
    ignored_messages: list[int]
    conversation: Conversation

    def status_of(self, criterion_id: str) -> Status | None:
        return next((r.status for r in self.criteria if r.id == criterion_id), None)

    def to_json(self) -> dict[str, Any]:
        """The grade exactly as section 6 of the format writes it."""
        return {
            "scenario": self.scenario,
            "score": self.score,
            "band": self.band,
            "passed": self.passed,
            "criteria": [r.to_json() for r in self.criteria],
            "critical_missed": list(self.critical_missed),
            "critical_violated": list(self.critical_violated),
            "ignored_messages": list(self.ignored_messages),
        }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


@lru_cache(maxsize=1024)
def _exact(value: float) -> Fraction:
    # A YAML weight of 0.1 means one tenth, not the float nearest to it.
    return Fraction(Decimal(repr(value)))


def round_half_up(value: Fraction) -> Decimal:
    """Round to one decimal, halves away from zero (31.25 gives 31.3)."""
    tenths = math.floor(abs(value) * 10 + Fraction(1, 2))
    return (Decimal(tenths if value >= 0 else -tenths) / 10).quantize(Decimal("0.1"))


def band_of(score: float, bands: tuple[tuple[float, str], ...] = DEFAULT_BANDS) -> str:
    for floor, name in bands:
        if score >= floor:
            return name
    return "fail"


@dataclass
class _Graded:
    index: int  # in the transcript
    text: str
    at: float
    response_s: float  # since the persona's last line that was not a nudge
    view: Text


def grade(pack: Pack, scenario: Scenario | str, transcript: Transcript) -> Grade:
    """Grade `transcript`: replay the trainee's messages, then judge every criterion."""
    scenario_id = scenario if isinstance(scenario, str) else scenario.id
    compiled = pack.compiled[scenario_id]
    return grade_compiled(pack.id, compiled, transcript)


def grade_compiled(pack_id: str, compiled: CompiledScenario, transcript: Transcript) -> Grade:
    conversation = Conversation(compiled)
    graded: list[_Graded] = []
    ignored: list[int] = []
    for index, text, at in transcript.trainee_lines():
        since = at - conversation.last_persona_at
        turn = conversation.receive(text, at)
        if turn.accepted and turn.view is not None:
            graded.append(_Graded(index, text, at, since, turn.view))
        else:
            ignored.append(index)

    results = [
        _judge(criterion, matcher, graded, conversation, compiled.locale)
        for criterion, matcher in compiled.criteria
    ]
    score = _score(results)
    rubric = compiled.scenario.rubric
    critical_missed = [r.id for r in results if r.criterion.critical and r.status == "missed"]
    critical_violated = [
        r.id for r in results if r.criterion.critical and r.status == "violated"
    ]
    passed = score >= Decimal(repr(rubric.pass_mark)) and not critical_missed and not (
        critical_violated
    )
    value = float(score)
    return Grade(
        scenario=f"{pack_id}/{compiled.scenario.id}",
        score=value,
        band=band_of(value),
        passed=passed,
        criteria=results,
        critical_missed=critical_missed,
        critical_violated=critical_violated,
        ignored_messages=ignored,
        conversation=conversation,
    )


def _in_scope(criterion: Criterion, graded: list[_Graded]) -> list[_Graded]:
    scope = graded
    if criterion.within_first is not None:
        scope = scope[: criterion.within_first]
    if criterion.within_last is not None:
        last = graded[-criterion.within_last :]
        scope = [m for m in scope if m in last]
    return scope


def _judge(
    criterion: Criterion,
    matcher: Matcher | None,
    graded: list[_Graded],
    conversation: Conversation,
    locale: str,
) -> CriterionResult:
    forbidden = criterion.kind == "forbidden"
    if (
        criterion.applies_if_revealed is not None
        and criterion.applies_if_revealed not in conversation.revealed
    ):
        return CriterionResult(criterion, "not_applicable")

    if criterion.kind == "outcome":
        holds = (
            conversation.mood == criterion.mood
            if criterion.mood is not None
            else criterion.revealed in conversation.revealed
        )
        return CriterionResult(criterion, "met" if holds else "missed")

    scope = _in_scope(criterion, graded)
    if criterion.check is not None:
        if not scope:
            return CriterionResult(criterion, "not_applicable")
        broken = _broken_by_check(criterion, scope, locale)
        evidence = [Evidence(m.index, m.text) for m in broken]
        return CriterionResult(criterion, "missed" if broken else "met", evidence)

    assert matcher is not None  # the model guarantees `match` for every other kind
    evidence = [
        Evidence(m.index, m.text)
        for m in scope
        if matcher.matches(m.view, negation=criterion.negation_aware)
    ]
    if forbidden:
        return CriterionResult(criterion, "violated" if evidence else "clear", evidence)
    return CriterionResult(criterion, "met" if evidence else "missed", evidence)


def _broken_by_check(criterion: Criterion, scope: list[_Graded], locale: str) -> list[_Graded]:
    """The messages that break a built-in check; empty when it passes."""
    if criterion.check == "response_time":
        limit = criterion.max_s or 0.0
        return [m for m in scope if m.response_s > limit]
    if criterion.check == "no_shouting":
        return [m for m in scope if is_shouting(m.text)]
    # tone: the mean over the messages in scope; the evidence is the messages below `min`.
    floor = DEFAULT_MIN if criterion.min is None else criterion.min
    scores = [tone(m.text, locale) for m in scope]
    if sum(scores) / len(scores) >= floor:
        return []
    return [m for m, s in zip(scope, scores, strict=True) if s < floor]


def _score(results: list[CriterionResult]) -> Decimal:
    applicable = [r for r in results if r.criterion.kind != "forbidden"
                  and r.status in ("met", "missed")]
    total = sum((_exact(r.criterion.effective_weight) for r in applicable), Fraction(0))
    met = sum((_exact(r.criterion.effective_weight) for r in applicable if r.status == "met"),
              Fraction(0))
    score = Fraction(100) if total == 0 else 100 * met / total
    for r in results:
        if r.status == "violated":
            score -= _exact(r.criterion.effective_penalty)
    return round_half_up(max(score, Fraction(0)))
