"""Scoring (section 5): from criterion verdicts to score, band and pass.

Kept apart from grading so that a mentor's override or an exam's own bands recompute the
same arithmetic from stored verdicts, without the transcript.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

Status = Literal["met", "missed", "not_applicable", "clear", "violated"]
REQUIRED_STATUSES: tuple[Status, ...] = ("met", "missed", "not_applicable")
FORBIDDEN_STATUSES: tuple[Status, ...] = ("clear", "violated", "not_applicable")

Bands = tuple[tuple[float, str], ...]
#: Bands from the rounded score, highest first, unless an exam sets its own.
DEFAULT_BANDS: Bands = ((90, "excellent"), (70, "good"), (60, "pass"))


@dataclass(frozen=True)
class Verdict:
    """What scoring needs of one criterion's result."""

    id: str
    kind: str
    status: Status
    amount: float  # the weight, or the penalty of a forbidden criterion
    critical: bool = False

    @property
    def forbidden(self) -> bool:
        return self.kind == "forbidden"


@dataclass(frozen=True)
class Score:
    score: float
    band: str
    passed: bool
    critical_missed: list[str]
    critical_violated: list[str]


@lru_cache(maxsize=1024)
def exact(value: float) -> Fraction:
    """A YAML weight of 0.1 means one tenth, not the float nearest to it."""
    return Fraction(Decimal(repr(value)))


def round_half_up(value: Fraction) -> Decimal:
    """Round to one decimal, halves away from zero (31.25 gives 31.3)."""
    tenths = math.floor(abs(value) * 10 + Fraction(1, 2))
    return _from_tenths(tenths if value >= 0 else -tenths)


def _from_tenths(tenths: int) -> Decimal:
    return (Decimal(tenths) / 10).quantize(_TENTH)


_TENTH = Decimal("0.1")


@lru_cache(maxsize=256)
def _decimal(value: float) -> Decimal:
    """A pass mark as written: 70.1 is seventy and one tenth."""
    return Decimal(repr(value))


def band_of(score: float, bands: Bands = DEFAULT_BANDS) -> str:
    """The band of a rounded score: the first whose floor it reaches, else "fail"."""
    for floor, name in bands:
        if score >= floor:
            return name
    return "fail"


def score_verdicts(
    verdicts: Sequence[Verdict], pass_mark: float, bands: Bands = DEFAULT_BANDS
) -> Score:
    """100 × met weights / applicable weights, minus penalties, floored at 0, rounded."""
    applicable = [v for v in verdicts if not v.forbidden and v.status in ("met", "missed")]
    penalties = [v.amount for v in verdicts if v.forbidden and v.status == "violated"]
    amounts = [v.amount for v in applicable] + penalties
    if all(float(a).is_integer() for a in amounts):
        # Whole weights (the usual case): the score is the fraction num / den, rounded half
        # up in integers: floor(10 num / den + 1/2) tenths, as `round_half_up` rounds it.
        total_i = sum(int(v.amount) for v in applicable)
        met_i = sum(int(v.amount) for v in applicable if v.status == "met")
        penalty_i = sum(int(p) for p in penalties)
        if total_i == 0:
            num, den = 100 - penalty_i, 1
        else:
            num, den = 100 * met_i - penalty_i * total_i, total_i
        rounded = _from_tenths((20 * max(num, 0) + den) // (2 * den))
    else:
        total = sum((exact(v.amount) for v in applicable), Fraction(0))
        met = sum((exact(v.amount) for v in applicable if v.status == "met"), Fraction(0))
        value = Fraction(100) if total == 0 else 100 * met / total
        value -= sum((exact(p) for p in penalties), Fraction(0))
        rounded = round_half_up(max(value, Fraction(0)))
    critical_missed = [v.id for v in verdicts if v.critical and v.status == "missed"]
    critical_violated = [v.id for v in verdicts if v.critical and v.status == "violated"]
    passed = rounded >= _decimal(pass_mark) and not critical_missed and not critical_violated
    score = float(rounded)
    return Score(score, band_of(score, bands), passed, critical_missed, critical_violated)


class OverrideError(ValueError):
    """An override that names no criterion of the grade or a status its kind cannot have."""


def apply_overrides(verdicts: Iterable[Verdict], overrides: Mapping[str, str]) -> list[Verdict]:
    """The verdicts with some statuses changed by a reviewer."""
    result = []
    known = set()
    for v in verdicts:
        known.add(v.id)
        status = overrides.get(v.id)
        if status is None:
            result.append(v)
            continue
        allowed = FORBIDDEN_STATUSES if v.forbidden else REQUIRED_STATUSES
        if status not in allowed:
            raise OverrideError(
                f"criterion {v.id!r} ({v.kind}) can be {', '.join(allowed)}, not {status!r}"
            )
        result.append(replace(v, status=status))  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise OverrideError(f"no criterion {', '.join(map(repr, unknown))} in this grade")
    return result


def verdicts_from_record(record: Mapping[str, Any]) -> list[Verdict]:
    """Verdicts from a stored grade record (`Grade.to_record()`)."""
    return [
        Verdict(
            c["id"],
            c["kind"],
            c["status"],
            float(c["penalty"] if c["kind"] == "forbidden" else c["weight"]),
            bool(c.get("critical", False)),
        )
        for c in record["criteria"]
    ]
