"""Marking an answer, short-answer self-tests, seeded draws and option shuffles.

An answer is JSON-shaped: a `single` question's answer is the index of the chosen option
(in the file's order), a `multiple` one's a list of indices, a `true_false` one's a bool,
a `short` one's the text. Draws and shuffles take a seed and nothing else random, so a
recorded seed reproduces them exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.questions.models import Bank, Question

#: A quiz counts as passed from this share of its points: the practical pass line of the
#: policies, applied to quizzes (xAPI's passed or failed, a quiz assignment's "passed").
QUIZ_PASS_PERCENT = 70.0


@dataclass(frozen=True)
class Marked:
    """What an answer earned: `score` in points (None: a person marks it), `correct`."""

    score: float | None
    correct: bool | None


class AnswerError(ValueError):
    """An answer of the wrong shape for its question (a refused request, not a 500)."""


def normalise(question: Question, raw: Any) -> Any:
    """The answer in its stored shape, from what a form or a socket sent; `AnswerError`."""
    if raw is None or raw == "" or raw == []:
        return None
    kind = question.type
    try:
        if kind == "single":
            value = int(raw[0] if isinstance(raw, list) else raw)
            if not 0 <= value < len(question.options or ()):
                raise AnswerError("no such option")
            return value
        if kind == "multiple":
            items = raw if isinstance(raw, list) else [raw]
            values = sorted({int(v) for v in items})
            if any(not 0 <= v < len(question.options or ()) for v in values):
                raise AnswerError("no such option")
            return values
        if kind == "true_false":
            if isinstance(raw, bool):
                return raw
            text = str(raw[0] if isinstance(raw, list) else raw).strip().lower()
            if text in ("true", "1", "yes"):
                return True
            if text in ("false", "0", "no"):
                return False
            raise AnswerError("expected true or false")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, AnswerError):
            raise
        raise AnswerError("not an option number") from None
    text = str(raw[0] if isinstance(raw, list) else raw)
    if len(text) > 4000:
        raise AnswerError("an answer may be at most 4000 characters")
    return text.strip() or None


def short_matches(question: Question, text: str) -> bool:
    """Whether a short answer says what the question's `match` rules describe (format v2
    reading: lemmas, concepts and negation, as a pack's `disclosure` criterion)."""
    from sandbox.text.reading import Literals, Reading

    matcher = question.matcher
    if matcher is None:
        return False
    if question._literals is None:
        question._literals = Literals(tuple(sorted(matcher.literals)))
    return matcher.matches(Reading(text, question.locale, question._literals), negation=True)


def mark(question: Question, answer: Any) -> Marked:
    """Mark a stored answer (see `normalise`); no answer earns nothing."""
    if question.type == "short" and question.manual:
        if answer is None:
            return Marked(0.0, False)
        return Marked(None, None)
    if answer is None:
        return Marked(0.0, False)
    kind = question.type
    if kind == "single":
        right = (question.options or [])[answer].correct
    elif kind == "multiple":
        wanted = [i for i, o in enumerate(question.options or []) if o.correct]
        right = sorted(answer) == wanted
    elif kind == "true_false":
        right = answer is question.answer
    else:
        right = short_matches(question, str(answer))
    return Marked(question.points if right else 0.0, right)


def correct_answer(question: Question) -> Any:
    """The answer that earns full points, in stored shape (None for a short answer)."""
    options = question.options or []
    if question.type == "single":
        return next(i for i, o in enumerate(options) if o.correct)
    if question.type == "multiple":
        return [i for i, o in enumerate(options) if o.correct]
    if question.type == "true_false":
        return question.answer
    return None


@dataclass(frozen=True)
class ExampleResult:
    name: str  # BANK/QUESTION #N
    answer: str
    expected: bool
    actual: bool

    @property
    def passed(self) -> bool:
        return self.expected == self.actual


def run_examples(bank: Bank) -> list[ExampleResult]:
    """Every short-answer example of the bank, checked against its question's matcher."""
    results = []
    for question in bank.questions:
        for n, example in enumerate(question.examples, 1):
            actual = short_matches(question, example.answer)
            name = f"{bank.id}/{question.id} #{n}"
            results.append(ExampleResult(name, example.answer, example.correct, actual))
    return results


def option_order(question: Question, seed: int) -> list[int]:
    """The order a candidate sees the options in (file indices), shuffled from `seed`."""
    n = len(question.options or ())
    order = list(range(n))
    random.Random(f"{seed}:{question.id}").shuffle(order)
    return order


def select(
    questions: Iterable[Question],
    *,
    locale: str | None = None,
    trade: str | None = None,
    tags: Sequence[str] = (),
    difficulties: Sequence[str] = (),
) -> list[Question]:
    """The questions that fit every filter given (a tag filter: any of the tags)."""
    chosen = []
    for q in questions:
        if locale is not None and q.locale != locale:
            continue
        if trade is not None and q.trade != trade:
            continue
        if tags and not set(tags) & set(q.tags):
            continue
        if difficulties and q.difficulty not in difficulties:
            continue
        chosen.append(q)
    return chosen


def draw(pool: Sequence[Question], count: int, seed: int, first: Sequence[str] = ()) -> list[str]:
    """`count` question ids drawn from `pool` with `seed`; ids in `first` (say, questions
    missed before) are drawn before the rest. The same pool, count and seed give the same ids."""
    rng = random.Random(seed)
    ids = sorted(q.id for q in pool)
    preferred = [i for i in ids if i in set(first)]
    others = [i for i in ids if i not in set(first)]
    rng.shuffle(preferred)
    rng.shuffle(others)
    chosen = (preferred + others)[:count]
    rng.shuffle(chosen)
    return chosen
