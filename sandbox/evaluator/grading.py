"""Grading a transcript against a scenario's rubric (sections 5 and 6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sandbox.engine.conversation import PLACES, Conversation, Message
from sandbox.evaluator.flags import Flag, needs_review, review_flags
from sandbox.evaluator.scoring import Status, Verdict, score_verdicts
from sandbox.evaluator.transcript import Transcript
from sandbox.scenarios.models import CompiledScenario, Criterion, Pack, Scenario
from sandbox.text.assent import goes_along, requests
from sandbox.text.matcher import Text
from sandbox.text.negation import link_rejections
from sandbox.text.tone import DEFAULT_MIN, is_shouting, tone

#: Each compiled scenario's criterion verdicts per status, by index: a verdict is frozen and
#: depends on nothing else, so one is shared by every grade (kept here, not on the scenario,
#: so that the pack layer knows nothing of scoring).
_VERDICTS: WeakKeyDictionary[CompiledScenario, dict[tuple[int, str], Verdict]] = WeakKeyDictionary()


def kept_verdicts(compiled: CompiledScenario) -> dict[tuple[int, str], Verdict]:
    """The verdicts kept for a compiled scenario so far, by criterion index and status."""
    return dict(_VERDICTS.get(compiled, {}))


@dataclass(frozen=True)
class Evidence:
    message: int
    text: str
    #: Set when the message is evidence by going along with a customer line that asked for
    #: what the criterion forbids (`going_along`): that line's text.
    answering: str | None = None


@dataclass
class CriterionResult:
    criterion: Criterion
    status: Status
    evidence: list[Evidence] = field(default_factory=list)
    review: Flag | None = None  # set when the grader is unsure of this verdict (flags.py)

    @property
    def id(self) -> str:
        return self.criterion.id

    @property
    def verdict(self) -> Verdict:
        c = self.criterion
        amount = c.effective_penalty if c.kind == "forbidden" else c.effective_weight
        return Verdict(c.id, c.kind, self.status, amount, c.critical)

    def to_json(self) -> dict[str, Any]:
        c = self.criterion
        data: dict[str, Any] = {"id": c.id, "kind": c.kind, "status": self.status}
        if c.kind == "forbidden":
            data["penalty"] = _number(c.effective_penalty)
        else:
            data["weight"] = _number(c.effective_weight)
        data["evidence"] = [_evidence_json(e) for e in self.evidence]
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
    pass_mark: float = 70

    @property
    def needs_review(self) -> bool:
        """Whether a critical verdict is flagged for review (the score is as graded)."""
        return needs_review(
            [r.review for r in self.criteria], [r.criterion.critical for r in self.criteria]
        )

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

    def to_record(self) -> dict[str, Any]:
        """The section 6 grade plus what a reviewer needs to recompute it and read it.

        Each criterion also carries `critical` and `description`, and `review` (reason
        code, message, note) when the grader is unsure of it; the record carries the
        `pass_mark`, the facts revealed, the final mood, how the conversation ended and
        `needs_review` (a critical verdict is flagged). `scoring.verdicts_from_record`
        reads it back.
        """
        data = self.to_json()
        for entry, result in zip(data["criteria"], self.criteria, strict=True):
            entry["critical"] = result.criterion.critical
            entry["description"] = result.criterion.description
            if result.review is not None:
                entry["review"] = result.review.to_json()
        data["needs_review"] = self.needs_review
        data["pass_mark"] = self.pass_mark
        data["revealed"] = list(self.conversation.revealed)
        data["mood"] = self.conversation.mood
        data["end_reason"] = self.conversation.end_reason
        return data


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


@dataclass
class _Graded:
    index: int  # in the transcript
    text: str
    at: float
    response_s: float  # since the persona's last line that was not a nudge
    view: Text
    #: Where in `Conversation.messages` the lines this message answers start (after the
    #: trainee's previous message) and where the message itself stands.
    heard: tuple[int, int]


def grade(pack: Pack, scenario: Scenario | str, transcript: Transcript) -> Grade:
    """Grade `transcript`: replay the trainee's messages, then judge every criterion."""
    scenario_id = scenario if isinstance(scenario, str) else scenario.id
    compiled = pack.compiled[scenario_id]
    return grade_compiled(pack.id, compiled, transcript)


def grade_compiled(
    pack_id: str,
    compiled: CompiledScenario,
    transcript: Transcript,
    time_limit_s: float | None = None,
) -> Grade:
    """Grade against a compiled scenario; `time_limit_s` replaces the scenario's limit."""
    conversation = Conversation(compiled, compiled.locale, time_limit_s)
    graded: list[_Graded] = []
    ignored: list[int] = []
    heard = 0  # how many of the conversation's lines the trainee has answered
    for index, text, at in transcript.trainee_lines():
        since = round(at - conversation.last_persona_at, PLACES)  # to the microsecond
        turn = conversation.receive(text, at)
        if turn.accepted and turn.view is not None and turn.index is not None:
            graded.append(_Graded(index, text, at, since, turn.view, (heard, turn.index)))
            heard = turn.index + 1
        else:
            ignored.append(index)
    if compiled.v2:
        link_rejections([g.view for g in graded])

    matching = _matching(compiled, graded, conversation)
    results = [
        _judge(criterion, graded, conversation, compiled.locale, found)
        for (criterion, _), found in zip(compiled.criteria, matching, strict=True)
    ]
    _flag(compiled, graded, results, conversation)
    memo = _VERDICTS.get(compiled)
    if memo is None:
        memo = _VERDICTS[compiled] = {}
    verdicts: list[Verdict] = []
    for i, result in enumerate(results):  # each result's verdict, made once per status
        verdict = memo.get((i, result.status))
        if verdict is None:
            verdict = memo[i, result.status] = result.verdict
        verdicts.append(verdict)
    outcome = score_verdicts(verdicts, compiled.scenario.rubric.pass_mark)
    return Grade(
        scenario=f"{pack_id}/{compiled.scenario.id}",
        score=outcome.score,
        band=outcome.band,
        passed=outcome.passed,
        criteria=results,
        critical_missed=outcome.critical_missed,
        critical_violated=outcome.critical_violated,
        ignored_messages=ignored,
        conversation=conversation,
        pass_mark=compiled.scenario.rubric.pass_mark,
    )


def _flag(
    compiled: CompiledScenario,
    graded: list[_Graded],
    results: list[CriterionResult],
    conversation: Conversation,
) -> None:
    """Mark the verdicts the grader is unsure of (`flags.review_flags`); scores stay."""
    scopes = [_scope(c, len(graded)) for c, _ in compiled.criteria]
    flags = review_flags(compiled, graded, [r.status for r in results], scopes, conversation)
    for result, flag in zip(results, flags, strict=True):
        result.review = flag


def _scope(criterion: Criterion, count: int) -> range:
    """The positions among `count` graded messages that the criterion looks at.

    `within_first` keeps the first N, `within_last` the last N; with both, the messages
    that are among the first N and among the last N.
    """
    start, stop = 0, count
    if criterion.within_first is not None:
        stop = min(count, criterion.within_first)
    if criterion.within_last is not None:
        start = max(0, count - criterion.within_last)
    return range(start, stop)


def _applies(criterion: Criterion, conversation: Conversation) -> bool:
    return (
        criterion.applies_if_revealed is None
        or criterion.applies_if_revealed in conversation.revealed
    )


def _matching(
    compiled: CompiledScenario, graded: list[_Graded], conversation: Conversation
) -> list[list[_Graded]]:
    """For each criterion with `match`, the messages in its scope that match, in order.

    Message by message, only the criteria whose literals the message holds are tried
    (`CompiledScenario.screen`): most messages hold the literals of a few criteria at most.
    """
    criteria = compiled.criteria
    found: list[list[_Graded]] = [[] for _ in criteria]
    scopes = [
        _scope(c, len(graded)) if m is not None and _applies(c, conversation) else range(0)
        for c, m in criteria
    ]
    screen = compiled.screen
    for position, message in enumerate(graded):
        view = message.view
        for i in screen(view.present()).criteria:
            if position in scopes[i]:
                criterion, matcher = criteria[i]
                assert matcher is not None  # the screen admits only criteria with `match`
                if matcher.confirm(view, criterion.negation_aware, compiled.act(criterion)):
                    found[i].append(message)
    return found


def _judge(
    criterion: Criterion,
    graded: list[_Graded],
    conversation: Conversation,
    locale: str,
    matching: list[_Graded],
) -> CriterionResult:
    """One criterion's result; `matching` are the messages in scope its `match` matches."""
    if not _applies(criterion, conversation):
        return CriterionResult(criterion, "not_applicable")

    if criterion.kind == "outcome":
        holds = (
            conversation.mood == criterion.mood
            if criterion.mood is not None
            else criterion.revealed in conversation.revealed
        )
        return CriterionResult(criterion, "met" if holds else "missed")

    if criterion.check is not None:
        scope = _scope(criterion, len(graded))
        if not scope:
            return CriterionResult(criterion, "not_applicable")
        broken = _broken_by_check(
            criterion, graded[scope.start : scope.stop], locale, conversation.compiled.v2
        )
        evidence = [Evidence(m.index, m.text) for m in broken]
        return CriterionResult(criterion, "missed" if broken else "met", evidence)

    evidence = [Evidence(m.index, m.text) for m in matching]
    if criterion.kind == "forbidden":
        if criterion.going_along:
            evidence = _going_along(criterion, graded, conversation, evidence)
        return CriterionResult(criterion, "violated" if evidence else "clear", evidence)
    return CriterionResult(criterion, "met" if evidence else "missed", evidence)


def _going_along(
    criterion: Criterion,
    graded: list[_Graded],
    conversation: Conversation,
    evidence: list[Evidence],
) -> list[Evidence]:
    """`evidence` with the messages in scope that go along with a customer line the
    criterion lists as asking for what it forbids (`going_along`), in transcript order."""
    asked_for = set(criterion.going_along or ())
    locale, lines = conversation.locale, conversation.messages
    matched = {e.message for e in evidence}
    more: list[Evidence] = []
    scope = _scope(criterion, len(graded))
    for message in graded[scope.start : scope.stop]:
        if message.index in matched:
            continue
        line = _asked_for(lines[message.heard[0] : message.heard[1]], asked_for)
        if line is not None and goes_along(
            message.view.text, locale, requests(conversation.compiled.read(line.text).text, locale)
        ):
            more.append(Evidence(message.index, message.text, line.text))
    return sorted(evidence + more, key=lambda e: e.message) if more else evidence


def _asked_for(heard: list[Message], asked_for: set[str]) -> Message | None:
    """The last of the customer's lines `heard` that the criterion lists ("opening", a
    fact's or a reaction's id)."""
    for line in reversed(heard):
        if (
            line.role == "persona"
            and ("opening" if line.kind == "opening" else line.ref) in asked_for
        ):
            return line
    return None


def _evidence_json(evidence: Evidence) -> dict[str, Any]:
    data: dict[str, Any] = {"message": evidence.message, "text": evidence.text}
    if evidence.answering is not None:
        data["answering"] = evidence.answering
    return data


def _broken_by_check(
    criterion: Criterion, scope: list[_Graded], locale: str, v2: bool = False
) -> list[_Graded]:
    """The messages that break a built-in check; empty when it passes."""
    if criterion.check == "response_time":
        limit = criterion.max_s or 0.0
        return [m for m in scope if m.response_s > limit]
    if criterion.check == "no_shouting":
        return [m for m in scope if is_shouting(m.text)]
    # tone: the mean over the messages in scope; the evidence is the messages below `min`.
    floor = DEFAULT_MIN if criterion.min is None else criterion.min
    scores = [tone(m.text, locale, v2) for m in scope]
    if sum(scores) / len(scores) >= floor:
        return []
    return [m for m, s in zip(scope, scores, strict=True) if s < floor]
