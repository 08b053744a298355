"""Hints that coach: what a trainee is told when they ask for help during practice.

A hint names what to do next, never the answer key: a criterion's own `hint` (the pack
author's coaching line, "Ask about other medicines before suggesting one"), or else a
line for its kind (an interface message key, `hint.kind.<kind>`). Descriptions, phrases,
doses and thresholds stay in the feedback. How many hints an attempt may take is a policy:
`off`, `on`, or a number per attempt; a scenario's own policy wins over the organisation's.
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.hint_policy import HintPolicyError, read_policy
from sandbox.scenarios.models import Criterion

#: The interface keys of the coaching lines by kind (the web layer words them).
KIND_KEY = "hint.kind."
COACHED_KINDS = ("inquiry", "contraindication", "disclosure", "etiquette", "outcome")


def effective(scenario_policy: str | int | None, organisation_policy: str | int) -> str | int:
    """The policy of a scenario: its own when it sets one, else the organisation's."""
    return organisation_policy if scenario_policy is None else read_policy(scenario_policy)


def left(policy: str | int, used: int) -> int | None:
    """How many hints an attempt may still take: None for no limit, 0 for none."""
    if policy == "off":
        return 0
    if policy == "on":
        return None
    return max(0, int(policy) - used)


def coaching(criteria: Iterable[Criterion]) -> list[str]:
    """One coaching line per open criterion: its own hint, else its kind's message key
    (each kind's key once: the same generic line twice says nothing more)."""
    lines: list[str] = []
    for criterion in criteria:
        if criterion.kind == "forbidden":
            continue
        line = criterion.hint or f"{KIND_KEY}{criterion.kind}"
        if line not in lines:
            lines.append(line)
    return lines


__all__ = ["HintPolicyError", "coaching", "effective", "left", "read_policy"]
