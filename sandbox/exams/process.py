"""The process score (pure): how a trainee works through the programme, beside the exam's
outcome. Three components on a 0-100 scale, weighted (docs/programme.md):

- **practice** (60%): the mean of the trainee's best graded practice score per scenario;
- **quizzes** (25%): quiz mastery, the share of their marked quiz answers that were right;
- **peer review** (15%): the mean of two parts, each left out when it cannot be known:
  reviews given (up to `PEER_GIVEN_TARGET`, or as many as there were to give) and the
  mean rating of the reviews their own transcripts received (`peer_review.rating_percent`).

A component without data (no practice yet, no quiz, nothing to review and nothing
reviewed) is left out and the others' weights are scaled up to 100%; with no component at
all there is no process score (None), rather than a zero nobody earned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WEIGHTS = {"practice": 0.60, "quizzes": 0.25, "peer_review": 0.15}
#: Reviews a trainee is expected to give for the full "given" part.
PEER_GIVEN_TARGET = 3


@dataclass(frozen=True)
class ProcessInputs:
    """What a trainee did, as counts and scores (storage reads them)."""

    best_scores: Sequence[float] = ()  # best graded practice score per scenario
    quiz_right: int = 0
    quiz_marked: int = 0
    reviews_given: int = 0
    reviewable: int = 0  # transcripts they could review (given ones included)
    ratings_received: Sequence[float] = field(default=())  # each review's percent


@dataclass(frozen=True)
class ProcessScore:
    practice: float | None
    quizzes: float | None
    peer_review: float | None
    score: float | None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def peer_component(inputs: ProcessInputs) -> float | None:
    parts: list[float] = []
    expected = min(PEER_GIVEN_TARGET, inputs.reviewable)
    if expected > 0:
        parts.append(100 * min(inputs.reviews_given, expected) / expected)
    received = _mean(list(inputs.ratings_received))
    if received is not None:
        parts.append(received)
    return _mean(parts)


def process_score(inputs: ProcessInputs) -> ProcessScore:
    """The three components and the weighted score (see the module's description)."""
    components = {
        "practice": _mean(list(inputs.best_scores)),
        "quizzes": 100 * inputs.quiz_right / inputs.quiz_marked if inputs.quiz_marked else None,
        "peer_review": peer_component(inputs),
    }
    known = {name: value for name, value in components.items() if value is not None}
    weight = sum(WEIGHTS[name] for name in known)
    score = sum(WEIGHTS[name] * value for name, value in known.items()) / weight if known else None

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return ProcessScore(
        rounded(components["practice"]),
        rounded(components["quizzes"]),
        rounded(components["peer_review"]),
        rounded(score),
    )
