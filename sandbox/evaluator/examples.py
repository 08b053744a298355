"""The examples runner (section 7): replay a scenario's examples and check what they expect."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import Grade, grade_compiled
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.models import Example, Pack, Scenario


@dataclass
class Failure:
    expectation: str
    expected: str
    actual: str


@dataclass
class ExampleResult:
    pack: str
    scenario: str
    example: str
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def name(self) -> str:
        return f"{self.pack}/{self.scenario} › {self.example!r}"


def play_example(pack: Pack, scenario: Scenario, example: Example) -> tuple[Conversation, Grade]:
    """Play an example's trainee lines through the engine and grade the transcript."""
    compiled = pack.compiled[scenario.id]
    conversation = Conversation.replay(compiled, pack.locale, example.timed_lines())
    transcript = parse_transcript_data(conversation.transcript(pack.id), "<example>")
    return conversation, grade_compiled(pack.id, compiled, transcript)


def run_example(pack: Pack, scenario: Scenario, example: Example) -> ExampleResult:
    conversation, result = play_example(pack, scenario, example)
    failures = check_expectations(example, conversation, result)
    return ExampleResult(pack.id, scenario.id, example.name, failures)


def run_pack(pack: Pack) -> list[ExampleResult]:
    return [
        run_example(pack, scenario, example)
        for scenario in pack.scenarios
        for example in scenario.examples
    ]


def _ids(ids: list[str]) -> str:
    return "[" + ", ".join(ids) + "]"


def check_expectations(
    example: Example, conversation: Conversation, result: Grade
) -> list[Failure]:
    expect = example.expect
    failures: list[Failure] = []
    if expect.passed is not None and expect.passed != result.passed:
        why = ""
        if result.critical_missed or result.critical_violated:
            why = (
                f" (critical missed: {_ids(result.critical_missed)}, "
                f"critical violated: {_ids(result.critical_violated)})"
            )
        failures.append(
            Failure(
                "passed",
                str(expect.passed).lower(),
                f"{str(result.passed).lower()} with score {result.score}{why}",
            )
        )
    if expect.score_min is not None and result.score < expect.score_min:
        failures.append(Failure("score_min", f">= {expect.score_min:g}", f"{result.score}"))
    if expect.score_max is not None and result.score > expect.score_max:
        failures.append(Failure("score_max", f"<= {expect.score_max:g}", f"{result.score}"))
    for status in ("met", "missed", "violated", "not_applicable"):
        wanted = getattr(expect, status)
        if wanted is None:
            continue
        having = [r.id for r in result.criteria if r.status == status]
        if not wanted and having:
            failures.append(Failure(status, "no criterion " + status, _ids(having)))
        for criterion_id in wanted:
            actual = result.status_of(criterion_id)
            if actual != status:
                failures.append(Failure(f"{status}: {criterion_id}", status, str(actual)))
    if expect.revealed is not None and set(expect.revealed) != set(conversation.revealed):
        failures.append(
            Failure("revealed", _ids(sorted(expect.revealed)), _ids(sorted(conversation.revealed)))
        )
    if expect.mood is not None and expect.mood != conversation.mood:
        failures.append(Failure("mood", expect.mood, conversation.mood))
    if expect.persona_says is not None:
        failure = _check_persona_says(expect.persona_says, conversation)
        if failure is not None:
            failures.append(failure)
    return failures


def _check_persona_says(wanted: list[str], conversation: Conversation) -> Failure | None:
    """Each substring in a persona line, in order, each after the end of the one before."""
    lines = [m.text for m in conversation.messages if m.role == "persona"]
    line, pos = 0, 0
    for i, needle in enumerate(wanted):
        while line < len(lines):
            found = lines[line].find(needle, pos)
            if found >= 0:
                pos = found + len(needle)
                break
            line, pos = line + 1, 0
        else:
            said = " | ".join(lines)
            return Failure(
                f"persona_says[{i}]",
                repr(needle),
                f"not found in order in the persona's lines: {said}",
            )
    return None
