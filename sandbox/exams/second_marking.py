"""Second marking: which exam conversations get an independent second review, and where
the two marks disagree. Pure: the rows come from storage, the choice is deterministic."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RULES = ("failed", "borderline", "random", "all")


class SelectionError(ValueError):
    """A selection the proctor must correct: `field` and a message key with `fields`."""

    def __init__(self, field: str, key: str, **fields: object) -> None:
        super().__init__(key)
        self.field, self.key, self.fields = field, key, fields


@dataclass(frozen=True)
class Candidate:
    attempt_id: int
    score: float
    passed: bool


def choose(
    candidates: Sequence[Candidate],
    rule: str,
    *,
    pass_line: float,
    points: float = 5,
    share: float = 20,
    seed: int = 0,
) -> list[int]:
    """The attempts a rule picks, in id order.

    `failed`: every conversation that did not pass; `borderline`: scores within `points` of
    the pass line, either side; `random`: `share` percent of them (at least one), the same
    ones for the same `seed`; `all`: every one.
    """
    if rule not in RULES:
        raise SelectionError("rule", "second.error.rule")
    ordered = sorted(candidates, key=lambda c: c.attempt_id)
    if rule == "failed":
        picked = [c for c in ordered if not c.passed]
    elif rule == "borderline":
        if not 0 <= points <= 100:
            raise SelectionError("points", "second.error.points")
        picked = [c for c in ordered if abs(c.score - pass_line) <= points]
    elif rule == "random":
        if not 0 < share <= 100:
            raise SelectionError("share", "second.error.share")
        count = max(1, round(len(ordered) * share / 100)) if ordered else 0
        picked = random.Random(seed).sample(ordered, count)
    else:
        picked = list(ordered)
    return sorted(c.attempt_id for c in picked)


def disagreements(first: Mapping[str, str], second: Mapping[str, str]) -> list[str]:
    """The criteria the two marks give different statuses, in the first mark's order."""
    return [cid for cid, status in first.items() if cid in second and second[cid] != status]


__all__ = ["RULES", "Candidate", "SelectionError", "choose", "disagreements"]
