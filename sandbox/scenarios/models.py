"""Pack models: the v1 format of `scenario-format.md`, sections 1, 2, 5 and 7.

Validation is strict (a value of another type is an error, unknown keys are errors). Rules
that span several places (ids that must exist, matcher phrases per locale) live in
`loader.py`, which knows the file and its lines.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sandbox.scenarios.yamlnodes import yaml_type
from sandbox.text.concepts import Lexicon
from sandbox.text.matcher import Matcher as CompiledMatcher
from sandbox.text.matcher import Text as MessageText
from sandbox.text.phrases import V2Compiler
from sandbox.text.reading import Literals, Reading


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
Text = Annotated[str, AfterValidator(_not_blank)]
#: Numbers of a pack are finite: YAML's .inf and .nan are errors, not a grade that overflows.
Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Kind = Literal["disclosure", "inquiry", "contraindication", "etiquette", "outcome", "forbidden"]
Difficulty = Literal["easy", "medium", "hard"]
LocaleName = Literal["en", "zh-CN"]


class Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


# --- matchers ---------------------------------------------------------------------------


def _matcher_shape(value: Any) -> Any:
    if isinstance(value, list):
        return {"any": value}
    if isinstance(value, dict):
        return value
    raise ValueError("a matcher is a list of phrases, or a mapping of any, all and not")


class MatcherSpec(Model):
    """A matcher as written: `any` phrases, `all` groups, `not` phrases."""

    any: list[Text] = Field(default_factory=list)
    all: list[list[Text]] = Field(default_factory=list)
    not_: list[Text] = Field(default_factory=list, alias="not")

    @model_validator(mode="after")
    def _needs_any_or_all(self) -> MatcherSpec:
        if not self.any and not self.all:
            raise ValueError("a matcher needs 'any' or 'all' phrases ('not' alone matches nothing)")
        if any(not group for group in self.all):
            raise ValueError("each group of 'all' needs at least one phrase")
        return self

    def compile(self, locale: str) -> CompiledMatcher:
        return CompiledMatcher.compile(locale, self.any, self.all, self.not_)


MatcherField = Annotated[MatcherSpec, BeforeValidator(_matcher_shape)]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# --- persona, facts, reactions ----------------------------------------------------------


class Persona(Model):
    name: Text
    mood: Text = "calm"
    age: Annotated[int, Field(ge=0)] | None = None
    background: Text | None = None


class Fact(Model):
    id: Id
    asked_by: MatcherField
    reply: Text
    requires: list[Id] = Field(default_factory=list)


class Reaction(Model):
    id: Id
    when: MatcherField
    say: Text
    times: Annotated[int, Field(ge=0)] = 1
    requires: list[Id] = Field(default_factory=list)
    set_mood: Text | None = None
    reveals: list[Id] = Field(default_factory=list)
    ends: bool = False
    # Format v2: whether a negated mention does not fire the reaction (default true).
    negation: bool | None = None
    # Format v2: "tell" fires only on what a sentence tells, not on what it asks (a question
    # about a medicine is no warning about it); unset, any sentence.
    act: Literal["tell"] | None = None


class Answer(Model):
    """Format v2: a line the persona says about a topic when no fact or reaction fired."""

    when: MatcherField
    say: Text


class Nudge(Model):
    after_s: Positive
    say: Text


# --- rubric -----------------------------------------------------------------------------


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


CheckName = Literal["response_time", "tone", "no_shouting"]
NEGATION_AWARE: frozenset[str] = frozenset({"disclosure", "contraindication", "forbidden"})


class Criterion(Model):
    id: Id
    kind: Kind
    description: Text | None = None
    match: MatcherField | None = None
    check: CheckName | None = None
    max_s: Positive | None = None
    min: Finite | None = None
    mood: Text | None = None
    revealed: Id | None = None
    weight: Positive | None = None
    penalty: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    critical: bool = False
    within_first: Annotated[int, Field(ge=1)] | None = None
    within_last: Annotated[int, Field(ge=1)] | None = None
    applies_if_revealed: Id | None = None
    # A coaching line for practice hints ("Ask about other medicines before suggesting
    # one"); never the answer key, which stays in the feedback (evaluator/hints.py).
    hint: Text | None = None
    # Format v2, forbidden criteria: the customer lines ("opening", fact and reaction ids)
    # that ask for what the criterion forbids; going along with one of them in the next
    # message ("ok, I'll send it today") is the violation (text/assent.py).
    going_along: list[Id] | None = None

    @model_validator(mode="after")
    def _kind_rules(self) -> Criterion:
        # (key the problem is about, message); the loader points at that key's line.
        problems: list[tuple[str | None, str]] = []
        if self.kind == "etiquette":
            if self.match is None and self.check is None:
                problems.append(
                    (
                        None,
                        "an etiquette criterion needs 'match' (phrases) or "
                        "'check' (response_time, tone or no_shouting)",
                    )
                )
            elif self.match is not None and self.check is not None:
                problems.append(
                    ("check", "an etiquette criterion takes 'match' or 'check', not both")
                )
        elif self.kind == "outcome":
            if self.mood is None and self.revealed is None:
                problems.append(
                    (None, "an outcome criterion needs 'mood: WORD' or 'revealed: FACT'")
                )
            elif self.mood is not None and self.revealed is not None:
                problems.append(
                    ("revealed", "an outcome criterion takes 'mood' or 'revealed', not both")
                )
            if self.match is not None:
                problems.append(
                    ("match", "an outcome criterion takes 'mood' or 'revealed', not 'match'")
                )
            if self.check is not None:
                problems.append(
                    ("check", "an outcome criterion takes 'mood' or 'revealed', not 'check'")
                )
        else:
            if self.match is None:
                problems.append(
                    (None, f"{_article(self.kind)} {self.kind} criterion needs 'match'")
                )
            if self.check is not None:
                problems.append(
                    (
                        "check",
                        f"{_article(self.kind)} {self.kind} criterion takes "
                        "no 'check' (checks are for etiquette criteria)",
                    )
                )
        if self.kind != "outcome":
            for key in ("mood", "revealed"):
                if getattr(self, key) is not None:
                    problems.append((key, f"'{key}' belongs to outcome criteria"))
        if self.kind == "forbidden" and self.weight is not None:
            problems.append(("weight", "a forbidden criterion has a 'penalty', not a 'weight'"))
        if self.kind != "forbidden" and self.penalty is not None:
            problems.append(("penalty", "'penalty' belongs to forbidden criteria; use 'weight'"))
        if self.max_s is not None and self.check != "response_time":
            problems.append(("max_s", "'max_s' belongs to 'check: response_time'"))
        if self.check == "response_time" and self.max_s is None:
            problems.append(("check", "'check: response_time' needs 'max_s'"))
        if self.min is not None and self.check != "tone":
            problems.append(("min", "'min' belongs to 'check: tone'"))
        if self.going_along is not None and self.kind != "forbidden":
            problems.append(("going_along", "'going_along' belongs to forbidden criteria"))
        if problems:
            raise PydanticCustomError(
                "criterion_rule",
                "{message}",
                {
                    "message": "; ".join(m for _, m in problems),
                    "key": next((k for k, _ in problems if k is not None), None),
                },
            )
        return self

    @property
    def effective_weight(self) -> float:
        return 1.0 if self.weight is None else self.weight

    @property
    def effective_penalty(self) -> float:
        return 10.0 if self.penalty is None else self.penalty

    @property
    def negation_aware(self) -> bool:
        return self.kind in NEGATION_AWARE


class Rubric(Model):
    pass_mark: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 70
    criteria: Annotated[list[Criterion], Field(min_length=1)]


# --- examples ---------------------------------------------------------------------------


def _trainee_line(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class TraineeLine(Model):
    text: str
    at: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


class Expect(Model):
    passed: bool | None = None
    score_min: Finite | None = None
    score_max: Finite | None = None
    met: list[Id] | None = None
    missed: list[Id] | None = None
    violated: list[Id] | None = None
    not_applicable: list[Id] | None = None
    revealed: list[Id] | None = None
    mood: Text | None = None
    persona_says: list[Text] | None = None


class Example(Model):
    name: Text
    trainee: list[Annotated[TraineeLine, BeforeValidator(_trainee_line)]]
    expect: Expect = Field(default_factory=Expect)

    def timed_lines(self) -> list[tuple[str, float]]:
        """The trainee's lines with their times (10 s after the previous by default)."""
        lines: list[tuple[str, float]] = []
        at = 0.0
        for line in self.trainee:
            at = line.at if line.at is not None else at + 10
            lines.append((line.text, at))
        return lines


# --- scenario and pack ------------------------------------------------------------------


#: How many practice hints a scenario's `hints` may allow.
MAX_HINTS = 20


def _hints_value(value: Any) -> Any:
    """`hints`: off, on or how many (1 to `MAX_HINTS`), with one message for a bad value.

    YAML reads a bare off / on as false / true: `hints: off` means the word.
    """
    if isinstance(value, bool):
        return "on" if value else "off"
    expected = f"'off', 'on' or a whole number from 1 to {MAX_HINTS}"
    if isinstance(value, str) and value not in ("off", "on"):
        raise ValueError(f"expected {expected}, got {value!r}")
    if isinstance(value, int) and not 1 <= value <= MAX_HINTS:
        raise ValueError(f"must be {expected}, got {value}")
    if value is not None and not isinstance(value, str | int):
        got = repr(value) if isinstance(value, float) else yaml_type(value)
        raise ValueError(f"expected {expected}, got {got}")
    return value


class Scenario(Model):
    id: Id
    title: Text
    brief: Text
    difficulty: Difficulty = "medium"
    time_limit_s: Positive = 600
    persona: Persona
    opening: Text
    facts: list[Fact] = Field(default_factory=list)
    reactions: list[Reaction] = Field(default_factory=list)
    fallback: Annotated[list[Text], BeforeValidator(_one_or_many), Field(min_length=1)]
    nudge: Nudge | None = None
    ends_when: MatcherField | None = None
    farewell: Text | None = None
    rubric: Rubric
    examples: list[Example] = Field(default_factory=list)
    # Format v2: what the conversation is about, referred to as ~topic (with "it", 这个药...).
    topic: list[Text] | None = None
    # Format v2: what the persona says about a topic instead of a fallback line.
    answers: list[Answer] | None = None
    # Practice hints for this scenario: off, on, or how many per attempt (1..20); without
    # it, the organisation's setting (SANDBOX_HINTS) decides.
    hints: Annotated[
        Literal["off", "on"] | Annotated[int, Field(ge=1, le=MAX_HINTS)] | None,
        BeforeValidator(_hints_value),
    ] = None

    def fact(self, fact_id: str) -> Fact | None:
        return next((f for f in self.facts if f.id == fact_id), None)


class PackInfo(Model):
    id: Id
    title: Text
    locale: LocaleName
    version: Annotated[int, Field(ge=0)] = 1
    description: Text | None = None
    # Extension: which trade the pack trains; inferred from the id when absent.
    trade: Literal["pharmacy", "aesthetics", "other"] | None = None
    # Format v2 is opt-in (docs/format-v2.md); without it a pack is read as v1, forever.
    format: Literal[1, 2] = 1


class ConceptSpec(Model):
    """A concept of a v2 pack's own `concepts` (it adds to the lexicon's of the same id)."""

    description: Text | None = None
    en: list[Text] = Field(default_factory=list)
    zh: list[Text] = Field(default_factory=list)


class Pack(Model):
    """A loaded, valid pack. `source` is where it was read from (not part of the format)."""

    pack: PackInfo
    scenarios: Annotated[list[Scenario], Field(min_length=1)]
    # Format v2: concepts of this pack, by id.
    concepts: dict[str, ConceptSpec] | None = None
    _source: str = PrivateAttr(default="")
    _lexicon: Lexicon | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        return self._source

    @property
    def id(self) -> str:
        return self.pack.id

    @property
    def locale(self) -> str:
        return self.pack.locale

    @property
    def version(self) -> int:
        return self.pack.version

    def scenario(self, scenario_id: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise KeyError(scenario_id)

    @property
    def format(self) -> int:
        return self.pack.format

    @property
    def lexicon(self) -> Lexicon | None:
        """The lexicon a v2 pack's `~concepts` expand from (None for v1)."""
        return self._lexicon

    @cached_property
    def compiled(self) -> dict[str, CompiledScenario]:
        return {s.id: CompiledScenario(s, self.locale, self._lexicon) for s in self.scenarios}


class CompiledScenario:
    """A scenario's matchers compiled for its pack's locale, built once per pack."""

    def __init__(self, scenario: Scenario, locale: str, lexicon: Lexicon | None = None) -> None:
        """With a `lexicon`, the scenario is read as format v2 (docs/format-v2.md)."""
        self.scenario = scenario
        self.locale = locale
        self.v2 = lexicon is not None
        #: v2: for each phrase that came from a concept, the concepts it came through.
        self.origins: dict[str, str] = {}
        if lexicon is None:

            def compile(spec: MatcherSpec) -> CompiledMatcher:
                return spec.compile(locale)
        else:
            v2 = V2Compiler(lexicon, locale, scenario.topic)

            self.origins = v2.origins

            def compile(spec: MatcherSpec) -> CompiledMatcher:
                return v2.compile(spec.any, spec.all, spec.not_)

        self.facts = [(f, compile(f.asked_by)) for f in scenario.facts]
        self.reactions = [(r, compile(r.when)) for r in scenario.reactions]
        #: Whether each reaction ignores negated mentions (v2; v1 reactions never do).
        self.reaction_negation = [self.v2 and r.negation is not False for r in scenario.reactions]
        #: The speech act each reaction needs (v2 `act`), None for any.
        self.reaction_acts = [r.act if self.v2 else None for r in scenario.reactions]
        self.ends_when = compile(scenario.ends_when) if scenario.ends_when else None
        self.answers = [(a, compile(a.when)) for a in scenario.answers or ()]
        self.criteria = [
            (c, compile(c.match) if c.match is not None else None) for c in scenario.rubric.criteria
        ]
        matchers = [m for _, m in self.facts] + [m for _, m in self.reactions]
        matchers += [m for _, m in self.answers]
        matchers += [m for _, m in self.criteria if m is not None]
        if self.ends_when is not None:
            matchers.append(self.ends_when)
        #: Every literal the scenario's matchers look for (see `Text.universe`).
        self.literals: tuple[str, ...] = tuple(
            sorted(frozenset().union(*(m.literals for m in matchers)))
        )
        self._screens: dict[frozenset[str], Screen] = {}
        if self.v2 and locale != "en":
            from sandbox.text.segmenter import add_domain_words

            add_domain_words(lexicon.words(locale) if lexicon else frozenset())

    def read(self, message: str) -> MessageText:
        """A message as this scenario's matchers read it (a v2 `Reading` or a v1 `Text`)."""
        if self.v2:
            if not isinstance(self.literals, Literals):
                self.literals = Literals(self.literals)
            return Reading(message, self.locale, self.literals)
        return MessageText(message, self.locale, self.literals)

    def act(self, criterion: Criterion) -> str | None:
        """The speech act a criterion's match needs in v2: inquiries ask, disclosures tell,
        contraindication warnings are given in either ("warn")."""
        if not self.v2:
            return None
        return {"inquiry": "ask", "disclosure": "tell", "contraindication": "warn"}.get(
            criterion.kind
        )

    def screen(self, present: frozenset[str]) -> Screen:
        """Which matchers pass their literal test for a message holding `present`.

        `present` is `Text.present()` of a message read with this scenario's `literals`.
        Messages hold few of them and the same few again, so the answer is kept per set;
        the engine and the grader then run only the matchers it admits.
        """
        screen = self._screens.get(present)
        if screen is None:
            if len(self._screens) >= _SCREENS_KEPT:
                self._screens.clear()
            screen = Screen(
                tuple(m.admits(present) for _, m in self.facts),
                tuple(m.admits(present) for _, m in self.reactions),
                self.ends_when is not None and self.ends_when.admits(present),
                tuple(
                    i
                    for i, (_, m) in enumerate(self.criteria)
                    if m is not None and m.admits(present)
                ),
            )
            self._screens[present] = screen
        return screen


#: Screens kept per scenario; past this the memo starts again (a bound, not a tuning knob).
_SCREENS_KEPT = 4096


class Screen(NamedTuple):
    """The matchers of a scenario that a message's literals admit (`CompiledScenario.screen`)."""

    facts: tuple[bool, ...]  # one per fact, in file order
    reactions: tuple[bool, ...]  # one per reaction
    ends: bool  # `ends_when`
    criteria: tuple[int, ...]  # indices in `criteria` of the matchers admitted
